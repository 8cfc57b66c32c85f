"""HyperparameterTuner: Optuna's TPE search of each family on Ray Tune, then a refit of the best."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uctune.api._data import all_rows, as_table
from uctune.cluster import ensure_ray
from uctune.errors import NotFoundError
from uctune.metrics import ObjectiveMetric
from uctune.models import Device, ThresholdedClassifier, get_spec
from uctune.runs import write_json

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from uctune.tuning import TuningResult

__all__ = ["DEFAULT_PARAMS_DIR", "HyperparameterTuner"]

DEFAULT_PARAMS_DIR = Path("data/models/tuning")
"""Where the best params go when no ``storage_dir`` is given, under the working directory (beside
the default registry, ``data/models/registry``)."""


@contextmanager
def _optuna_quiet(quiet: bool) -> Iterator[None]:
    """Optuna's INFO lines ("A new study created in RDB ...", "Trial 3 finished ...") kept off the
    console for the block; the verbosity the caller had is restored afterwards, whatever happens."""
    if not quiet:
        yield
        return
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(before, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class HyperparameterTuner:
    """Optuna's TPE over each family's search space, the trials run in parallel on Ray Tune.

    Each ``tune_*`` call runs ``n_trials`` trials of stratified k-fold CV on the rows given (F1 at
    the out-of-fold threshold by default), stopping unpromising trials after a fold milestone
    (ASHA) unless ``pruning=False``; it then refits the best params exactly as the trainers do and
    returns that model (the family's scikit-learn ``FixedThresholdClassifier`` subclass,
    e.g. ``XGBoostThresholdClassifier``). ``get_best_params(i)`` gives the i-th
    call's best params (or a family's, by name); ``results_`` keeps every call's
    :class:`~uctune.tuning.TuningResult`. The search's files (Optuna study, Ray Tune experiment) go
    to a temporary directory, removed afterwards, unless ``storage_dir`` names one to keep (a
    folder ``<call>-<family>`` per call: ``00-xgboost``, ``01-lightgbm``, ...).

    ``device="cuda"`` runs XGBoost's trials and refit on GPUs (``gpus_per_trial`` each).

    Each search's best params are saved as JSON, ``<family>_best_params.json`` (``family``,
    ``metric``, ``best_score``, ``best_trial``, ``params``: the document ``uctune tune`` writes), in
    ``storage_dir`` when given, else in ``data/models/tuning`` under the working directory; a later
    search of the same family replaces it. ``best_params_files_`` lists them, one per call.
    Optuna's INFO lines are kept off the console during a call (``verbose=True`` shows them, and
    Ray Tune's own output); Optuna's verbosity is restored afterwards.
    """

    def __init__(
        self,
        n_trials: int = 100,
        *,
        metric: ObjectiveMetric = "pr_auc",
        cv_folds: int = 5,
        pruning: bool = True,
        grace_period: int = 1,
        reduction_factor: int = 2,
        cpus_per_trial: int = 1,
        max_failures: int = 2,
        random_state: int = 42,
        device: Device = "cpu",
        gpus_per_trial: float = 1.0,
        storage_dir: str | os.PathLike[str] | None = None,
        address: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.n_trials = n_trials
        self.metric = metric
        self.cv_folds = cv_folds
        self.pruning = pruning
        self.grace_period = grace_period
        self.reduction_factor = reduction_factor
        self.cpus_per_trial = cpus_per_trial
        self.max_failures = max_failures
        self.random_state = random_state
        self.device = device
        self.gpus_per_trial = gpus_per_trial
        self.storage_dir = storage_dir
        self.address = address
        self.verbose = verbose
        self.results_: list[TuningResult] = []
        self.refits_: list[dict[str, Any]] = []
        self.best_params_files_: list[Path] = []
        # Every call gets its own folder: a failed call leaves its study behind in ``storage_dir``.
        self._calls = 0

    def tune(
        self,
        family: str,
        X_train: Any,
        y_train: Any,
        *,
        search_space: dict[str, BaseDistribution] | None = None,
        **fixed_params: Any,
    ) -> ThresholdedClassifier:
        """Tune any family of the zoo (name or alias); ``fixed_params`` are held out of the search,
        ``search_space`` replaces the family's own (same parameter names)."""
        import shutil
        import tempfile

        from uctune.training import FitSettings
        from uctune.tuning import TuneSettings, tune_and_refit

        spec = get_spec(family)
        settings = TuneSettings(
            n_trials=self.n_trials,
            metric=self.metric,
            pruning=self.pruning,
            grace_period=self.grace_period,
            reduction_factor=self.reduction_factor,
            max_failures=self.max_failures,
            fit=FitSettings(
                seed=self.random_state,
                device=self.device,
                cpus_per_fit=self.cpus_per_trial,
                gpus_per_fit=self.gpus_per_trial,
                n_folds=self.cv_folds,
            ),
        )
        table = as_table(X_train, y_train, self.cv_folds)
        ensure_ray(self.address)
        keep = self.storage_dir is not None
        if self.storage_dir is not None:
            root = Path(self.storage_dir)
        else:
            root = Path(tempfile.mkdtemp(prefix="uctune-tune-"))
        folder = root / f"{self._calls:02d}-{spec.name}"
        self._calls += 1
        params_file = (root if keep else DEFAULT_PARAMS_DIR) / f"{spec.name}_best_params.json"
        try:
            with _optuna_quiet(not self.verbose):
                tuned = tune_and_refit(
                    spec.name,
                    table,
                    all_rows(table, self.random_state),
                    experiment_dir=folder,
                    settings=settings,
                    search_space=search_space,
                    fixed_params=fixed_params,
                    verbose=self.verbose,
                    on_tuned=lambda result: write_json(params_file, result.best_params_document()),
                )
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
        result = tuned.tuning
        self.results_.append(result)
        self.refits_.append(tuned.refit.to_dict())
        self.best_params_files_.append(params_file)
        return tuned.model

    def tune_xgboost(self, X_train: Any, y_train: Any, **fixed: Any) -> ThresholdedClassifier:
        """XGBoost: max_depth 3-10, learning_rate 0.01-0.3, n_estimators 50-500, and the rest."""
        return self.tune("xgboost", X_train, y_train, **fixed)

    def tune_lightgbm(self, X_train: Any, y_train: Any, **fixed: Any) -> ThresholdedClassifier:
        """LightGBM: num_leaves 20-100, learning_rate 0.01-0.3, n_estimators 50-500, and the rest."""
        return self.tune("lightgbm", X_train, y_train, **fixed)

    def tune_neural_network(
        self, X_train: Any, y_train: Any, **fixed: Any
    ) -> ThresholdedClassifier:
        """The network: units per layer 32-256, dropout 0.1-0.5, learning rate 1e-4-1e-2 (log),
        batch size, weight decay."""
        return self.tune("neural_network", X_train, y_train, **fixed)

    def tune_random_forest(self, X_train: Any, y_train: Any, **fixed: Any) -> ThresholdedClassifier:
        return self.tune("random_forest", X_train, y_train, **fixed)

    def tune_logistic_regression(
        self, X_train: Any, y_train: Any, **fixed: Any
    ) -> ThresholdedClassifier:
        return self.tune("logistic_regression", X_train, y_train, **fixed)

    def get_best_params(self, which: int | str = -1) -> dict[str, Any]:
        """Best params of the ``which``-th tuning call (0 = first; -1 = latest), or of the latest
        call that tuned the family ``which`` names."""
        return dict(self._result(which).best_params)

    def _result(self, which: int | str) -> TuningResult:
        if isinstance(which, str):
            name = get_spec(which).name
            for result in reversed(self.results_):
                if result.family == name:
                    return result
            raise NotFoundError(f"{name} has not been tuned yet by this tuner")
        if not -len(self.results_) <= which < len(self.results_):
            raise NotFoundError(
                f"there is no tuning call {which}; this tuner has made {len(self.results_)}"
            )
        return self.results_[which]
