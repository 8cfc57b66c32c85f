"""The thresholded model of each family: scikit-learn's ``FixedThresholdClassifier``, one subclass
per family.

Only the class differs, never the behaviour: code that names a model by its class (the seed's
registry listing saves with ``model_type=type(model).__name__``) sees ``XGBoostThresholdClassifier``
and ``LightGBMThresholdClassifier``, not one ``FixedThresholdClassifier`` for every family, so each
family gets its own version sequence. The subclasses add no parameters (``get_params``, ``clone``
and pickling work as for the parent) and live at module level, where joblib finds them on load.
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.model_selection import FixedThresholdClassifier

__all__ = [
    "ThresholdedClassifier",
    "LogisticRegressionThresholdClassifier",
    "RandomForestThresholdClassifier",
    "XGBoostThresholdClassifier",
    "LightGBMThresholdClassifier",
    "NeuralNetworkThresholdClassifier",
]


class ThresholdedClassifier(FixedThresholdClassifier):
    """A family's pipeline and the decision threshold chosen for it; ``family`` names the family."""

    family: ClassVar[str] = ""


class LogisticRegressionThresholdClassifier(ThresholdedClassifier):
    """A thresholded logistic-regression pipeline."""

    family = "logistic_regression"


class RandomForestThresholdClassifier(ThresholdedClassifier):
    """A thresholded random-forest pipeline."""

    family = "random_forest"


class XGBoostThresholdClassifier(ThresholdedClassifier):
    """A thresholded XGBoost pipeline."""

    family = "xgboost"


class LightGBMThresholdClassifier(ThresholdedClassifier):
    """A thresholded LightGBM pipeline."""

    family = "lightgbm"


class NeuralNetworkThresholdClassifier(ThresholdedClassifier):
    """A thresholded neural-network pipeline."""

    family = "neural_network"
