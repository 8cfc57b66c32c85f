"""What every fit of a run shares: one frozen object instead of a bundle of keywords."""

from __future__ import annotations

from dataclasses import dataclass

from uctune.calibration import CalibrationChoice
from uctune.errors import ConfigError
from uctune.metrics import ThresholdFrom
from uctune.models import DEVICES, Device
from uctune.splits import CVScheme

__all__ = ["FitSettings"]


@dataclass(frozen=True, kw_only=True)
class FitSettings:
    """How each model of a run is fitted and judged, whether it is an untuned family, a tuning
    trial or a tuned refit. Checked on creation; every field has a default.

    ``seed`` seeds the folds and every model. ``device="cuda"`` fits the families that support it
    (XGBoost) on GPUs, ``gpus_per_fit`` each (a fraction lets fits share a GPU); ``cpus_per_fit``
    is each fit's threads and the Ray CPUs it holds. ``cv`` draws the ``n_folds`` CV folds and says
    which folds may choose a fold's threshold (:attr:`threshold_from`). ``calibration`` maps the
    out-of-fold probabilities before the threshold is chosen (:mod:`uctune.calibration`).
    """

    seed: int = 42
    device: Device = "cpu"
    cpus_per_fit: int = 1
    gpus_per_fit: float = 1.0
    n_folds: int = 5
    cv: CVScheme = CVScheme()
    calibration: CalibrationChoice = "auto"

    def __post_init__(self) -> None:
        checks = [
            (self.n_folds >= 2, "n_folds must be at least 2", self.n_folds),
            (self.cpus_per_fit >= 1, "cpus_per_fit must be at least 1", self.cpus_per_fit),
            (self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}", self.device),
            (self.gpus_per_fit > 0, "gpus_per_fit must be above 0", self.gpus_per_fit),
        ]
        for ok, rule, value in checks:
            if not ok:
                raise ConfigError(f"{rule}, got {value!r}")

    @property
    def threshold_from(self) -> ThresholdFrom:
        """Which folds may choose a fold's F1 threshold (``earlier_folds`` with walk-forward CV)."""
        return self.cv.threshold_from
