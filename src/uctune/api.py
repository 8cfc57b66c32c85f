"""The seed's Python API, a thin layer over the same machinery as the CLI.

>>> from uctune import BaselineTrainer, AdvancedTrainer, HyperparameterTuner
>>> baseline = BaselineTrainer()
>>> baseline.load_data()                       # the embedded dataset
>>> X_train, X_test, y_train, y_test = baseline.split_data()
>>> lr = baseline.train_logistic_regression(X_train, y_train)
>>> xgb = AdvancedTrainer().train_xgboost(X_train, y_train)
>>> tuner = HyperparameterTuner(n_trials=100)
>>> best_xgb = tuner.tune_xgboost(X_train, y_train)
>>> tuner.get_best_params(0)                   # the first tuning call's best params

Each ``train_*`` method runs stratified k-fold CV on Ray (a local Ray is started on first use if none
is running), chooses the F1-optimal decision threshold on the out-of-fold predictions, refits on all
the rows given and returns that model: a scikit-learn ``FixedThresholdClassifier`` whose ``predict``
uses the threshold and whose ``predict_proba`` is the pipeline's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import FixedThresholdClassifier

from uctune.cluster import ensure_ray
from uctune.data import LABEL, FeatureTable, load_feature_table, validate_table
from uctune.errors import DataError, NotFoundError
from uctune.metrics import ObjectiveMetric, classification_metrics
from uctune.models import get_spec
from uctune.runs import write_json
from uctune.splits import SplitMethod
from uctune.training import FamilyResult, SplitInfo, make_split, train_families, tree_importance

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from uctune.tuning import TuningResult

__all__ = ["BaselineTrainer", "AdvancedTrainer", "HyperparameterTuner"]


def _as_table(X: Any, y: Any, n_folds: int) -> FeatureTable:
    frame = (
        X.copy()
        if isinstance(X, pd.DataFrame)
        else pd.DataFrame(np.asarray(X), columns=[f"x{i}" for i in range(np.asarray(X).shape[1])])
    )
    y_values = np.asarray(y).ravel()
    if len(y_values) != len(frame):
        raise DataError(f"X has {len(frame)} rows but y has {len(y_values)}")
    frame[LABEL] = y_values
    return validate_table(frame, min_rows_per_class=n_folds, source="the training data")


class _Trainer:
    def __init__(
        self,
        data_path: str | os.PathLike[str] | None = None,
        *,
        random_state: int = 42,
        test_size: float = 0.2,
        split: SplitMethod = "stratified",
        cv_folds: int = 5,
        cpus_per_fit: int = 1,
        address: str | None = None,
    ) -> None:
        self.data_path = data_path
        self.random_state = random_state
        self.test_size = test_size
        self.split = split
        self.cv_folds = cv_folds
        self.cpus_per_fit = cpus_per_fit
        self.address = address
        self.table: FeatureTable | None = None
        self.split_: SplitInfo | None = None
        self.results_: dict[str, dict[str, Any]] = {}

    # -- data ---------------------------------------------------------------------------------
    def load_data(self, data: str | os.PathLike[str] | pd.DataFrame | None = None) -> pd.DataFrame:
        """Load and validate a feature table (a path or a DataFrame; default: the embedded dataset)."""
        source = data if data is not None else self.data_path
        self.table = load_feature_table(source, n_folds=self.cv_folds)
        return self.table.frame

    def split_data(
        self, test_size: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
        """The seed's split: ``X_train, X_test, y_train, y_test`` (stratified 80/20, seeded)."""
        if self.table is None:
            self.load_data()
        assert self.table is not None
        self.split_ = make_split(
            self.table,
            method=self.split,
            test_size=self.test_size if test_size is None else test_size,
            seed=self.random_state,
        )
        X, y = self.table.X, pd.Series(self.table.y, name=self.table.label)
        train, test = self.split_.train_index, self.split_.test_index
        return X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]

    # -- training -----------------------------------------------------------------------------
    def _train(
        self, family: str, X: Any, y: Any, params: dict[str, Any]
    ) -> FixedThresholdClassifier:
        table = _as_table(X, y, self.cv_folds)
        everything = SplitInfo(
            method="stratified",
            test_size=0.0,
            seed=self.random_state,
            train_index=np.arange(table.n_rows),
            test_index=np.empty(0, dtype=np.int64),
        )
        ensure_ray(self.address)
        outcome = train_families(
            table,
            everything,
            families=[family],
            params={family: params},
            n_folds=self.cv_folds,
            seed=self.random_state,
            cpus_per_fit=self.cpus_per_fit,
            backend="ray",
        )
        result: FamilyResult = outcome.results[family]
        self.results_[family] = result.to_dict()
        return result.model

    def evaluate(
        self, model: Any, X_test: Any, y_test: Any, name: str | None = None
    ) -> dict[str, Any]:
        """Holdout metrics at 0.5 and at the model's stored threshold; kept in ``results_``."""
        proba = model.predict_proba(X_test)[:, 1]
        threshold = float(getattr(model, "threshold", 0.5))
        y_true = np.asarray(y_test)
        metrics = {
            "at_0.5": classification_metrics(y_true, proba, 0.5),
            "at_threshold": classification_metrics(y_true, proba, threshold),
        }
        if name is not None:
            self.results_.setdefault(name, {})["holdout"] = metrics
        return metrics

    def save_results(self, path: str | os.PathLike[str]) -> Path:
        """Write ``results_`` (CV scores, thresholds, params, any holdout metrics) as JSON."""
        out = Path(path)
        write_json(out, self.results_)
        return out


class BaselineTrainer(_Trainer):
    """Story 3.1: logistic regression and random forest."""

    def train_logistic_regression(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """L2 logistic regression, C=1.0, scaled features, balanced class weights."""
        return self._train("logistic_regression", X_train, y_train, params)

    def train_random_forest(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """Random forest, 100 trees, max_depth=10, balanced class weights."""
        return self._train("random_forest", X_train, y_train, params)


class AdvancedTrainer(_Trainer):
    """Story 3.2: XGBoost, LightGBM and the neural network, with feature importance for trees."""

    def train_xgboost(self, X_train: Any, y_train: Any, **params: Any) -> FixedThresholdClassifier:
        """XGBoost, max_depth=5, learning_rate=0.1, hist, scale_pos_weight = negatives/positives."""
        return self._train("xgboost", X_train, y_train, params)

    def train_lightgbm(self, X_train: Any, y_train: Any, **params: Any) -> FixedThresholdClassifier:
        """LightGBM, num_leaves=31, learning_rate=0.1, sector as a native categorical."""
        return self._train("lightgbm", X_train, y_train, params)

    def train_neural_network(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> FixedThresholdClassifier:
        """MLP 128-64-32, ReLU, early stopping, balanced sample weights."""
        return self._train("neural_network", X_train, y_train, params)

    @staticmethod
    def get_feature_importance(model: Any) -> dict[str, float] | None:
        """Normalised gain importances of a tree model, largest first; ``None`` for other families."""
        pipeline = getattr(model, "estimator", model)
        return tree_importance(pipeline)


class HyperparameterTuner:
    """Story 3.3: Optuna's TPE over each family's search space, the trials run in parallel on Ray Tune.

    Each ``tune_*`` call runs ``n_trials`` trials of stratified k-fold CV on the rows given (F1 at
    the out-of-fold threshold by default), stopping unpromising trials after a fold milestone
    (ASHA) unless ``pruning=False``; it then refits the best params exactly as the trainers do and
    returns that model (a ``FixedThresholdClassifier``). ``get_best_params(i)`` gives the i-th
    call's best params (or a family's, by name); ``results_`` keeps every call's
    :class:`~uctune.tuning.TuningResult`. The search's files (Optuna study, Ray Tune experiment) go
    to a temporary directory, removed afterwards, unless ``storage_dir`` names one to keep.
    """

    def __init__(
        self,
        n_trials: int = 100,
        *,
        metric: ObjectiveMetric = "f1",
        cv_folds: int = 5,
        pruning: bool = True,
        grace_period: int = 1,
        reduction_factor: int = 2,
        cpus_per_trial: int = 1,
        max_failures: int = 2,
        random_state: int = 42,
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
        self.storage_dir = storage_dir
        self.address = address
        self.verbose = verbose
        self.results_: list[TuningResult] = []
        self.refits_: list[dict[str, Any]] = []

    def tune(
        self,
        family: str,
        X_train: Any,
        y_train: Any,
        *,
        search_space: dict[str, BaseDistribution] | None = None,
        **fixed_params: Any,
    ) -> FixedThresholdClassifier:
        """Tune any family of the zoo (name or alias); ``fixed_params`` are held out of the search,
        ``search_space`` replaces the family's own (same parameter names)."""
        import shutil
        import tempfile

        from uctune.tuning import TuneSettings, tune_family

        spec = get_spec(family)
        settings = TuneSettings(
            n_trials=self.n_trials,
            metric=self.metric,
            n_folds=self.cv_folds,
            pruning=self.pruning,
            grace_period=self.grace_period,
            reduction_factor=self.reduction_factor,
            cpus_per_trial=self.cpus_per_trial,
            max_failures=self.max_failures,
            seed=self.random_state,
        )
        table = _as_table(X_train, y_train, self.cv_folds)
        ensure_ray(self.address)
        keep = self.storage_dir is not None
        if self.storage_dir is not None:
            root = Path(self.storage_dir)
        else:
            root = Path(tempfile.mkdtemp(prefix="uctune-tune-"))
        folder = root / f"{len(self.results_):02d}-{spec.name}"
        try:
            result = tune_family(
                spec.name,
                table.X,
                table.y,
                experiment_dir=folder,
                settings=settings,
                search_space=search_space,
                fixed_params=fixed_params,
                verbose=self.verbose,
            )
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
        refitter = _Trainer(
            random_state=self.random_state,
            cv_folds=self.cv_folds,
            cpus_per_fit=self.cpus_per_trial,
            address=self.address,
        )
        model = refitter._train(spec.name, X_train, y_train, dict(result.best_params))
        self.results_.append(result)
        self.refits_.append(refitter.results_[spec.name])
        return model

    def tune_xgboost(self, X_train: Any, y_train: Any, **fixed: Any) -> FixedThresholdClassifier:
        """XGBoost: max_depth 3-10, learning_rate 0.01-0.3, n_estimators 50-500, and the rest."""
        return self.tune("xgboost", X_train, y_train, **fixed)

    def tune_lightgbm(self, X_train: Any, y_train: Any, **fixed: Any) -> FixedThresholdClassifier:
        """LightGBM: num_leaves 20-100, learning_rate 0.01-0.3, n_estimators 50-500, and the rest."""
        return self.tune("lightgbm", X_train, y_train, **fixed)

    def tune_neural_network(
        self, X_train: Any, y_train: Any, **fixed: Any
    ) -> FixedThresholdClassifier:
        """The MLP: units per layer 32-256, weight decay, learning rate 1e-4-1e-2, batch size."""
        return self.tune("neural_network", X_train, y_train, **fixed)

    def tune_random_forest(
        self, X_train: Any, y_train: Any, **fixed: Any
    ) -> FixedThresholdClassifier:
        return self.tune("random_forest", X_train, y_train, **fixed)

    def tune_logistic_regression(
        self, X_train: Any, y_train: Any, **fixed: Any
    ) -> FixedThresholdClassifier:
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
