"""Tuning results in a report: a family's trials, and its parameter importances.

The tuner writes ``tune/<family>/trials.csv`` (one row per trial: ``trial``, ``status``, ``score``,
``param_<name>`` ...). Importances are computed here with Optuna's fANOVA on an in-memory study rebuilt
from that file, with the family's search space as the distributions, so a report never depends on the
tuner's own storage.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from uctune.errors import DataError, NotFoundError
from uctune.models import get_spec

__all__ = ["STATUSES", "TuningReport", "param_importances", "read_trials"]

logger = logging.getLogger(__name__)

STATUSES = frozenset({"completed", "pruned", "failed"})
_REQUIRED = ("trial", "status", "score")


@dataclass(frozen=True)
class TuningReport:
    """One family's tuning as the report shows it: the summary the tuner recorded
    (:meth:`uctune.tuning.TuningResult.to_dict`), its trials, and parameter importances."""

    family: str
    summary: Mapping[str, Any]
    trials: pd.DataFrame | None = field(default=None, repr=False)
    importances: dict[str, float] | None = None
    note: str | None = None
    reference: float | None = None

    @property
    def metric(self) -> str:
        return str(self.summary.get("metric", "score"))


def read_trials(path: Path) -> pd.DataFrame:
    """A tuner's ``trials.csv``, checked: the required columns, known statuses, integer trial numbers."""
    if not path.is_file():
        raise NotFoundError(f"trials file {str(path)!r} does not exist")
    try:
        trials = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"trials file {str(path)!r} is not a readable CSV ({exc})") from None
    missing = [c for c in _REQUIRED if c not in trials.columns]
    if missing:
        raise DataError(f"trials file {str(path)!r} lacks columns {missing}")
    unknown = sorted(set(trials["status"].astype(str)) - STATUSES)
    if unknown:
        raise DataError(
            f"trials file {str(path)!r}: status must be one of {sorted(STATUSES)}, got {unknown}"
        )
    trial = pd.to_numeric(trials["trial"], errors="coerce")
    if trial.isna().any() or not np.all(trial == np.round(trial)):
        raise DataError(f"trials file {str(path)!r}: column 'trial' must hold integers")
    trials["trial"] = trial.astype(int)
    trials["score"] = pd.to_numeric(trials["score"], errors="coerce")
    return trials.sort_values("trial").reset_index(drop=True)


def _coerce(distribution: BaseDistribution, value: Any) -> Any:
    """A value read back from CSV, as the distribution's own type (categoricals matched by text)."""
    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if str(choice) == str(value):
                return choice
            try:
                if float(str(choice)) == float(value):
                    return choice
            except (TypeError, ValueError):
                continue
        raise ValueError(f"{value!r} is not one of {distribution.choices}")
    if isinstance(distribution, IntDistribution):
        return int(round(float(value)))
    if isinstance(distribution, FloatDistribution):
        return float(value)
    return value


def param_importances(family: str, trials: pd.DataFrame, *, seed: int = 0) -> dict[str, float]:
    """fANOVA importances of the family's search-space parameters over the completed trials."""
    space = get_spec(family).search_space
    params = [name for name in space if f"param_{name}" in trials.columns]
    done = trials[(trials["status"] == "completed") & trials["score"].notna()]
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" line on stderr
    try:
        study = optuna.create_study(direction="maximize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    added = 0
    for _, row in done.iterrows():
        values: dict[str, Any] = {}
        for name in params:
            raw = row[f"param_{name}"]
            if pd.isna(raw):
                continue
            try:
                values[name] = _coerce(space[name], raw)
            except (TypeError, ValueError) as exc:
                logger.warning("trial %s: parameter %s skipped: %s", row["trial"], name, exc)
        trial = optuna.trial.create_trial(
            params=values,
            distributions={name: space[name] for name in values},
            value=float(row["score"]),
        )
        study.add_trial(trial)
        added += 1
    if added < 2:
        raise DataError(f"{family}: parameter importances need 2 completed trials, got {added}")
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    return {str(k): float(v) for k, v in importances.items()}
