"""Small scikit-learn-compatible pieces the zoo needs and the libraries do not provide."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.neural_network import MLPClassifier
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

__all__ = ["CategoryEncoder", "BalancedMLPClassifier"]


class CategoryEncoder(TransformerMixin, BaseEstimator):
    """Cast columns to a pandas categorical dtype whose categories are fixed at ``fit``.

    Gradient-boosting libraries read category codes; fixing the categories at fit time keeps the codes
    identical at predict time, and an unseen category becomes missing rather than a wrong code.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> CategoryEncoder:
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categories_ = [
            sorted(pd.Series(X[c]).dropna().astype(str).unique().tolist()) for c in X.columns
        ]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "categories_")
        X = pd.DataFrame(X)
        out = pd.DataFrame(index=X.index)
        for col, cats in zip(self.feature_names_in_, self.categories_, strict=True):
            values = X[col].astype("string").astype(object)
            out[col] = pd.Categorical(values.where(values.isin(cats)), categories=cats)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "categories_")
        return self.feature_names_in_.copy()


class BalancedMLPClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn's MLP with class weights, applied as sample weights.

    ``MLPClassifier`` has no ``class_weight``; with 5-10 % positives an unweighted net mostly learns
    the base rate. ``class_weight="balanced"`` weights each class inversely to its frequency.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (128, 64, 32),
        *,
        activation: str = "relu",
        alpha: float = 1e-4,
        learning_rate_init: float = 1e-3,
        batch_size: int = 256,
        max_iter: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        class_weight: str | dict[int, float] | None = "balanced",
        random_state: int | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> BalancedMLPClassifier:
        y = np.asarray(y)
        weights = compute_sample_weight(self.class_weight, y) if self.class_weight else None
        self.mlp_ = MLPClassifier(
            hidden_layer_sizes=tuple(self.hidden_layer_sizes),
            activation=self.activation,
            alpha=self.alpha,
            learning_rate_init=self.learning_rate_init,
            batch_size=min(self.batch_size, len(y)),
            max_iter=self.max_iter,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            random_state=self.random_state,
        ).fit(X, y, sample_weight=weights)
        self.classes_ = self.mlp_.classes_
        self.n_features_in_ = self.mlp_.n_features_in_
        if hasattr(self.mlp_, "feature_names_in_"):
            self.feature_names_in_ = self.mlp_.feature_names_in_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "mlp_")
        return self.mlp_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "mlp_")
        return self.mlp_.predict(X)
