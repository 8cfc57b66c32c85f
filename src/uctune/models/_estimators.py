"""Small scikit-learn-compatible pieces the zoo needs and the libraries do not provide."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["CategoryEncoder"]


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
