"""The thresholded model of each family: scikit-learn's ``FixedThresholdClassifier``, one subclass
per family.

Only the class differs: code that names a model by its class (a workflow that registers models
with ``model_type=type(model).__name__``) sees ``XGBoostThresholdClassifier`` and
``LightGBMThresholdClassifier``, not one ``FixedThresholdClassifier`` for every family, so each
family gets its own version sequence. The subclasses add no parameters (``get_params``, ``clone``
and pickling work as for the parent) and live at module level, where joblib finds them on load.
Predictions are the parent's; ``fit`` refuses a ``y`` of one class at once, and the ``allow_nan``
tag is the wrapped estimator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.utils import Tags, get_tags

__all__ = [
    "ThresholdedClassifier",
    "LogisticRegressionThresholdClassifier",
    "RandomForestThresholdClassifier",
    "XGBoostThresholdClassifier",
    "LightGBMThresholdClassifier",
    "NeuralNetworkThresholdClassifier",
    "EnsembleThresholdClassifier",
]


class ThresholdedClassifier(FixedThresholdClassifier):
    """A family's pipeline and the decision threshold chosen for it; ``family`` names the family."""

    family: ClassVar[str] = ""
    #: scikit-learn's conformance checks this class fails around its family's own classifier (the
    #: pipeline's ``model`` step), and why; read by the conformance test.
    conformance_excuses: ClassVar[Mapping[str, str]] = {}

    def fit(self, X: Any, y: Any, **params: Any) -> ThresholdedClassifier:
        """Fit the wrapped estimator on ``X, y`` (both classes needed); ``params`` go to its ``fit``."""
        # scikit-learn checks only that y has at most two classes; an estimator that fits one class
        # would otherwise fail later, at predict, with no word about the data.
        classes = pd.unique(np.asarray(y).ravel()) if y is not None else []
        if len(classes) == 1:
            only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
            raise ValueError(
                f"{type(self).__name__} needs y with two classes, got only one class: {only!r}"
            )
        return super().fit(X, y, **params)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # The parent passes on the estimator's sparse tag but not this one; the tree families take
        # NaN as a missing value by design.
        tags.input_tags.allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return tags


class LogisticRegressionThresholdClassifier(ThresholdedClassifier):
    """A thresholded logistic-regression pipeline."""

    family = "logistic_regression"


class RandomForestThresholdClassifier(ThresholdedClassifier):
    """A thresholded random-forest pipeline."""

    family = "random_forest"


class XGBoostThresholdClassifier(ThresholdedClassifier):
    """A thresholded XGBoost pipeline."""

    family = "xgboost"
    conformance_excuses = {
        **dict.fromkeys(
            (
                "check_classifier_data_not_an_array",
                "check_classifiers_classes",
                "check_estimators_dtypes",
                "check_fit2d_1feature",
            ),
            "XGBoost's fit takes only the labels 0..n-1 (the check uses 1/2 or strings); "
            "uctune's data schema makes them 0/1",
        ),
        **dict.fromkeys(
            ("check_n_features_in_after_fitting", "check_fit2d_predict1d"),
            "XGBoost refuses X of the wrong shape at predict in its own words, not scikit-learn's",
        ),
        "check_estimators_empty_data_messages": "XGBoost fits 0 rows with a warning, no error",
        "check_supervised_y_2d": "XGBoost takes a column-vector y without a DataConversionWarning",
    }


class LightGBMThresholdClassifier(ThresholdedClassifier):
    """A thresholded LightGBM pipeline."""

    family = "lightgbm"
    conformance_excuses = {
        "check_classifiers_classes": (
            "on the check's 20 rows LightGBM (min_child_samples=20, balanced weights) makes no "
            "split and every probability is 0.5: predict's proba >= 0.5 says positive, "
            "decision_function > 0 says negative"
        ),
    }


class NeuralNetworkThresholdClassifier(ThresholdedClassifier):
    """A thresholded neural-network pipeline."""

    family = "neural_network"


class EnsembleThresholdClassifier(ThresholdedClassifier):
    """A thresholded ensemble of a run's models (:class:`~uctune.models.EnsembleClassifier`)."""

    family = "ensemble"
