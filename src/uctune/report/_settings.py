"""The report's settings, checked on arrival."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from uctune.errors import ConfigError
from uctune.evaluation import MIN_RESAMPLES

__all__ = ["RANK_METRICS", "RankMetric", "ReportSettings"]

RankMetric = Literal["pr_auc", "roc_auc", "f1", "precision", "recall"]
RANK_METRICS: tuple[str, ...] = get_args(RankMetric)


@dataclass(frozen=True)
class ReportSettings:
    """How a report is built.

    ``shap_rows`` test rows are explained per model against ``background_size`` training rows;
    ``bootstrap`` resamples give the intervals (0: none); ``seed`` fixes every sample; the best model
    is the one with the highest ``rank_by`` at its stored threshold (AUCs do not depend on it).
    """

    shap_rows: int = 200
    background_size: int = 100
    bootstrap: int = 1000
    seed: int = 42
    rank_by: RankMetric = "pr_auc"
    level: float = 0.95
    max_display: int = 12

    def __post_init__(self) -> None:
        if self.shap_rows < 1:
            raise ConfigError(f"SHAP rows must be at least 1, got {self.shap_rows}")
        if self.background_size < 1:
            raise ConfigError(
                f"SHAP background size must be at least 1, got {self.background_size}"
            )
        if self.bootstrap != 0 and self.bootstrap < MIN_RESAMPLES:
            raise ConfigError(
                f"bootstrap resamples must be 0 (no intervals) or at least {MIN_RESAMPLES}, "
                f"got {self.bootstrap}"
            )
        if self.rank_by not in RANK_METRICS:
            raise ConfigError(
                f"rank_by must be one of {', '.join(RANK_METRICS)}; got {self.rank_by!r}"
            )
        if not 0.0 < self.level < 1.0:
            raise ConfigError(f"confidence level must be between 0 and 1, got {self.level}")
        if self.max_display < 1:
            raise ConfigError(f"SHAP features shown must be at least 1, got {self.max_display}")
