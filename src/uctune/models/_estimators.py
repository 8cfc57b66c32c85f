"""Small scikit-learn-compatible pieces the zoo needs and the libraries do not provide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CategoryEncoder"]


class CategoryEncoder(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Cast columns to a pandas categorical dtype whose categories are fixed at ``fit``.

    Gradient-boosting libraries read category codes; fixing the categories at fit time keeps the codes
    identical at predict time, and an unseen category becomes missing rather than a wrong code.
    Values are compared as text, so ``3`` and ``"3"`` are one category; missing values stay missing.
    """

    #: scikit-learn's conformance checks this class fails, and why (read by the conformance test).
    conformance_excuses: ClassVar[Mapping[str, str]] = dict.fromkeys(
        (
            "check_estimators_pickle",
            "check_fit_idempotent",
            "check_methods_sample_order_invariance",
            "check_methods_subset_invariance",
            "check_pipeline_consistency",
            "check_transformer_data_not_an_array",
            "check_transformer_general",
        ),
        "compares outputs with assert_allclose, which cannot subtract category labels (text); "
        "tests/models/test_conformance.py checks the same property with frame equality",
    )

    def fit(self, X: Any, y: Any = None) -> CategoryEncoder:
        X = self._frame(X, reset=True)
        self.categories_ = [
            sorted(X.iloc[:, i].dropna().astype(str).unique().tolist()) for i in range(X.shape[1])
        ]
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "categories_")
        X = self._frame(X, reset=False)
        out = pd.DataFrame(index=X.index)
        # By position: validate_data has already refused columns renamed or reordered since fit.
        names = self.get_feature_names_out()
        for i, (col, cats) in enumerate(zip(names, self.categories_, strict=True)):
            values = X.iloc[:, i].astype("string").astype(object)
            out[col] = pd.Categorical(values.where(values.isin(cats)), categories=cats)
        return out

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame, after scikit-learn's input rules (2-D, not empty, not sparse, not
        complex); ``n_features_in_`` and ``feature_names_in_`` are set at fit and checked after."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(
                    f"{type(self).__name__} needs at least 1 row and 1 column, got {X.shape}"
                )
            complex_cols = [c for c in X.columns if X[c].dtype.kind == "c"]
            if complex_cols:
                raise ValueError(f"Complex data not supported; complex columns: {complex_cols}")
            return X
        if not hasattr(X, "dtype"):
            # Lists: numpy would make one text array of strings and NaN ("nan", not missing).
            X = np.asarray(X, dtype=object)
        # Arrays: scikit-learn's own checks and messages; dtype=None keeps strings as they are, and
        # NaN (or inf) in a category column is a value, not an error.
        array = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
        return pd.DataFrame(array)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Encoders saved before n_features_in_ was set (run directories, registries) still load.
        if "categories_" in state and "n_features_in_" not in state:
            state = {**state, "n_features_in_": len(state["categories_"])}
        super().__setstate__(state)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        # The output is categorical whatever the input dtype.
        tags.transformer_tags.preserves_dtype = []
        return tags
