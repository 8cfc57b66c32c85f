"""A classifier whose probabilities pass through a calibration map fitted on out-of-fold predictions.

uctune's training fits the folds and the final model on Ray and calibrates the pooled out-of-fold
predictions (:mod:`uctune.calibration`); :meth:`CalibratedClassifier.from_parts` puts the final model
and that map together. ``fit`` does the same within one process, as scikit-learn's
``CalibratedClassifierCV(ensemble=False)`` does: out-of-fold predictions by ``cross_val_predict``, the
map fitted on them, the estimator refitted on every row. (``CalibratedClassifierCV`` itself cannot
hold a map fitted elsewhere; its ``FrozenEstimator`` route would calibrate the final model on its
own training rows, which are not out-of-fold.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils import Tags, get_tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _num_samples, check_is_fitted, column_or_1d

from uctune.calibration import CalibrationChoice, cross_fit_calibration

__all__ = ["CalibratedClassifier", "binary_target"]


def binary_target(estimator: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``y`` as a 1-d array and as 0/1 (the larger label positive), or a ``ValueError`` in
    scikit-learn's words for what the fit of a binary classifier cannot take."""
    name = type(estimator).__name__
    n = _num_samples(X)
    if n == 0:
        raise ValueError(f"{name} found an X with 0 sample(s); a minimum of 1 is required")
    labels = column_or_1d(y, warn=True)
    check_classification_targets(labels)
    kind = type_of_target(labels, input_name="y", raise_unknown=True)
    classes = np.unique(labels)
    if len(classes) == 1:
        raise ValueError(f"{name} needs y with two classes, got only one class: {classes[0]!r}")
    if kind != "binary":
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind}."
        )
    return labels, (labels == classes[1]).astype(np.int64)


class CalibratedClassifier(ClassifierMixin, BaseEstimator):
    """``estimator``'s positive-class probability mapped by ``calibrator_`` (binary targets).

    ``method``: ``isotonic``, ``sigmoid``, ``auto`` (the lower cross-validated Brier score) or
    ``none``; ``cv`` folds for :meth:`fit`. ``method_`` is the method in use.
    """

    #: scikit-learn's conformance checks this class fails, and why (read by the conformance test).
    conformance_excuses: ClassVar[Mapping[str, str]] = {}
    method_: str  # set by fit or from_parts

    def __init__(
        self,
        estimator: Any = None,
        *,
        method: CalibrationChoice = "auto",
        cv: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.random_state = random_state

    @classmethod
    def from_parts(cls, fitted: Any, calibrator: Any, method: str) -> CalibratedClassifier:
        """A fitted estimator and a map fitted on its family's out-of-fold predictions."""
        model = cls(fitted, method=method)  # type: ignore[arg-type]
        model.estimator_ = fitted
        model.calibrator_ = calibrator
        model.method_ = method
        model.classes_ = fitted.classes_
        if hasattr(fitted, "n_features_in_"):
            model.n_features_in_ = fitted.n_features_in_
        if hasattr(fitted, "feature_names_in_"):
            model.feature_names_in_ = fitted.feature_names_in_
        return model

    def fit(self, X: Any, y: Any) -> CalibratedClassifier:
        """Out-of-fold probabilities of ``estimator`` on ``cv`` stratified folds, the map fitted on
        them, then ``estimator`` refitted on all of ``X``."""
        labels, positive = binary_target(self, X, y)
        folds = list(
            StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state).split(
                np.zeros(len(labels)), positive
            )
        )
        oof = cross_val_predict(clone(self.estimator), X, labels, cv=folds, method="predict_proba")
        calibration = cross_fit_calibration(
            [positive[v] for _, v in folds], [oof[v, 1] for _, v in folds], choice=self.method
        )
        self.estimator_ = clone(self.estimator).fit(X, labels)
        self.calibrator_ = calibration.calibrator
        self.method_ = str(calibration.method)
        self.classes_ = self.estimator_.classes_
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def raw_proba(self, X: Any) -> np.ndarray:
        """The positive-class probability before calibration."""
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)[:, 1]

    def calibrate(self, proba: Any) -> np.ndarray:
        """The map applied to raw positive-class probabilities (identity under ``none``)."""
        check_is_fitted(self, "estimator_")
        p = np.asarray(proba, dtype=np.float64)
        if self.calibrator_ is None:
            return p
        return np.clip(np.asarray(self.calibrator_.predict(p), dtype=np.float64), 0.0, 1.0)

    def predict_proba(self, X: Any) -> np.ndarray:
        q = self.calibrate(self.raw_proba(X))
        return np.column_stack([1.0 - q, q])

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        if self.estimator is not None:
            inner = get_tags(self.estimator)
            tags.input_tags.allow_nan = inner.input_tags.allow_nan
            tags.input_tags.sparse = inner.input_tags.sparse
        return tags
