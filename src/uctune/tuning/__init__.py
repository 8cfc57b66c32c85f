"""Distributed hyperparameter tuning: Ray Tune runs the trials, Optuna's TPE proposes them.

A trial is one configuration's stratified k-fold CV, reporting its running score after every fold so
that an ASHA scheduler can stop it early (on large tables, after cheaper fits on subsamples of the
first fold's rows: :mod:`uctune.tuning._fidelity`); the Optuna study is persisted so a search
resumes after an interruption with its whole history.
"""

from __future__ import annotations

from uctune.tuning._fidelity import FIDELITIES, Fidelity, FidelityChoice, Step, fidelity_schedule
from uctune.tuning._objective import FoldStep, cv_score, cv_steps
from uctune.tuning._refit import Phase, TunedFamily, tune_and_refit, tune_and_refit_families
from uctune.tuning._result import TuningResult
from uctune.tuning._study import TrialRecord, TrialStatus, in_space
from uctune.tuning._tuner import (
    EXPERIMENT_NAME,
    STUDY_FILE,
    FamilySearch,
    TuneSettings,
    tune_families,
    tune_family,
)

__all__ = [
    "EXPERIMENT_NAME",
    "FIDELITIES",
    "FamilySearch",
    "Fidelity",
    "FidelityChoice",
    "Step",
    "fidelity_schedule",
    "STUDY_FILE",
    "FoldStep",
    "Phase",
    "TrialRecord",
    "TrialStatus",
    "TunedFamily",
    "TuneSettings",
    "TuningResult",
    "cv_score",
    "cv_steps",
    "in_space",
    "tune_and_refit",
    "tune_and_refit_families",
    "tune_families",
    "tune_family",
]
