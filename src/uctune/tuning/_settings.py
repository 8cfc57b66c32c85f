"""How a family is searched: the settings every search of it checks on creation, and the part of
them a study records so that it is resumed only under the same ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from optuna.distributions import BaseDistribution, distribution_to_json

from uctune.errors import ConfigError
from uctune.metrics import ObjectiveMetric
from uctune.splits import CVScheme
from uctune.training import FitSettings
from uctune.tuning._fidelity import FIDELITIES, Fidelity, FidelityChoice

__all__ = ["TuneSettings", "settings_record"]

_METRICS: tuple[str, ...] = get_args(ObjectiveMetric)


@dataclass(frozen=True, kw_only=True)
class TuneSettings:
    """How a family is searched. Checked on creation; every field has a default.

    ``fit`` is how every trial fits and scores a configuration (seed, device, folds, threshold
    source), with ``fit.cpus_per_fit`` CPUs (and, on ``cuda``, ``fit.gpus_per_fit`` GPUs) per trial;
    the best configuration's refit shares it. ``metric`` is what the search maximises.
    ``grace_period`` is the budget every trial spends before ASHA may stop it (in folds; with a
    rows fidelity, in its smallest subsample steps); ``reduction_factor`` sets the rungs
    (``grace_period * reduction_factor**k``) and keeps the best ``1/reduction_factor`` at each.
    ``fidelity`` says what the budget grows: ``folds``, or ``rows`` (subsamples of the first fold's
    training rows, and fewer trees or rounds, before the full folds; see
    :mod:`uctune.tuning._fidelity`); ``auto`` is ``rows`` on large tables. ``max_failures`` is
    how often a trial whose worker died is retried. ``fit.cv`` draws the folds (walk-forward CV
    needs the rows' dates, see :func:`tune_family`). A new search's first trial is the family's default
    params (its spec's ``defaults``), when they lie inside the searched space.
    """

    n_trials: int = 100
    metric: ObjectiveMetric = "pr_auc"
    pruning: bool = True
    grace_period: int = 1
    reduction_factor: int = 2
    max_failures: int = 2
    fidelity: FidelityChoice = "auto"
    min_gain_se: float = 2.0
    fit: FitSettings = FitSettings()

    def __post_init__(self) -> None:
        checks = [
            (self.n_trials >= 1, "n_trials must be at least 1", self.n_trials),
            (self.metric in _METRICS, f"metric must be one of {', '.join(_METRICS)}", self.metric),
            (self.grace_period >= 1, "grace_period must be at least 1 fold", self.grace_period),
            (
                self.grace_period <= self.fit.n_folds,
                f"grace_period must be at most the {self.fit.n_folds} folds",
                self.grace_period,
            ),
            (
                self.reduction_factor >= 2,
                "reduction_factor must be at least 2",
                self.reduction_factor,
            ),
            (self.min_gain_se >= 0, "min_gain_se must be at least 0", self.min_gain_se),
            (self.max_failures >= 0, "max_failures must be at least 0", self.max_failures),
            (
                self.fidelity in FIDELITIES,
                f"fidelity must be one of {', '.join(FIDELITIES)}",
                self.fidelity,
            ),
        ]
        for ok, rule, value in checks:
            if not ok:
                raise ConfigError(f"{rule}, got {value!r}")

    @property
    def n_startup_trials(self) -> int:
        """Random trials before TPE models the history: Optuna's 10, fewer for small budgets."""
        return min(10, max(4, self.n_trials // 4))


def settings_record(
    family: str,
    settings: TuneSettings,
    space: Mapping[str, BaseDistribution],
    fixed: Mapping[str, Any],
    fidelity: Fidelity,
) -> dict[str, Any]:
    """What must not change between a study and its resumption."""
    record = {
        "family": family,
        "metric": settings.metric,
        "n_folds": settings.fit.n_folds,
        "seed": settings.fit.seed,
        "space": {k: distribution_to_json(d) for k, d in space.items()},
        "fixed": {k: repr(v) for k, v in fixed.items()},
    }
    if settings.fit.cv != CVScheme():
        # Only when not the default: a study started before CV schemes existed still resumes.
        record["cv"] = settings.fit.cv.to_dict()
    if fidelity.row_steps:
        record["fidelity"] = fidelity.to_dict()  # only then: older studies (folds) still resume
    return record
