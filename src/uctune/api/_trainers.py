"""BaselineTrainer (logistic regression, random forest) and AdvancedTrainer (XGBoost, LightGBM, the
neural network): each family trained with CV, an out-of-fold threshold and a refit, on Ray."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uctune.api._data import all_rows, as_table
from uctune.cluster import ensure_ray
from uctune.data import FeatureTable, load_feature_table
from uctune.explain import unwrap_pipeline
from uctune.metrics import classification_metrics, decision_threshold
from uctune.models import Device, ThresholdedClassifier
from uctune.runs import write_json
from uctune.splits import SplitMethod
from uctune.training import (
    FamilyResult,
    FitSettings,
    SplitInfo,
    make_split,
    train_families,
    tree_importance,
)

__all__ = ["BaselineTrainer", "AdvancedTrainer"]


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
        device: Device = "cpu",
        gpus_per_fit: float = 1.0,
        address: str | None = None,
    ) -> None:
        self.data_path = data_path
        self.random_state = random_state
        self.test_size = test_size
        self.split = split
        self.cv_folds = cv_folds
        self.cpus_per_fit = cpus_per_fit
        self.device = device
        self.gpus_per_fit = gpus_per_fit
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
        """``X_train, X_test, y_train, y_test``: a seeded, stratified 80/20 split by default (``split``,
        ``test_size``)."""
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
    def _train(self, family: str, X: Any, y: Any, params: dict[str, Any]) -> ThresholdedClassifier:
        table = as_table(X, y, self.cv_folds)
        ensure_ray(self.address)
        outcome = train_families(
            table,
            all_rows(table, self.random_state),
            families=[family],
            params={family: params},
            fit=FitSettings(
                seed=self.random_state,
                device=self.device,
                cpus_per_fit=self.cpus_per_fit,
                gpus_per_fit=self.gpus_per_fit,
                n_folds=self.cv_folds,
            ),
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
        threshold = decision_threshold(model)
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
    """The baseline families: logistic regression and random forest."""

    def train_logistic_regression(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> ThresholdedClassifier:
        """L2 logistic regression, C=1.0, scaled features, balanced class weights."""
        return self._train("logistic_regression", X_train, y_train, params)

    def train_random_forest(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> ThresholdedClassifier:
        """Random forest, 100 trees, max_depth=10, balanced class weights."""
        return self._train("random_forest", X_train, y_train, params)


class AdvancedTrainer(_Trainer):
    """The advanced families: XGBoost, LightGBM and the neural network, with feature importance for
    trees.

    ``device="cuda"`` fits XGBoost on GPUs, ``gpus_per_fit`` each, on the Ray cluster's GPU nodes; a
    cluster without GPUs is refused at the first fit.
    """

    def train_xgboost(self, X_train: Any, y_train: Any, **params: Any) -> ThresholdedClassifier:
        """XGBoost, max_depth=5, learning_rate=0.1, hist, unweighted (``class_weight="balanced"``
        weighs the positives by negatives/positives)."""
        return self._train("xgboost", X_train, y_train, params)

    def train_lightgbm(self, X_train: Any, y_train: Any, **params: Any) -> ThresholdedClassifier:
        """LightGBM, num_leaves=31, learning_rate=0.1, sector as a native categorical."""
        return self._train("lightgbm", X_train, y_train, params)

    def train_neural_network(
        self, X_train: Any, y_train: Any, **params: Any
    ) -> ThresholdedClassifier:
        """PyTorch network 128-64-32, ReLU, dropout, batch norm, early stopping, balanced loss."""
        return self._train("neural_network", X_train, y_train, params)

    @staticmethod
    def get_feature_importance(model: Any) -> dict[str, float] | None:
        """Normalised gain importances of a tree model, largest first; ``None`` for other families."""
        return tree_importance(unwrap_pipeline(model))
