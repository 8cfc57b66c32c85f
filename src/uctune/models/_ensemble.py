"""The ensemble as a scikit-learn classifier: member models and the combiner learnt over them.

uctune's ensemble stage builds it from parts (:meth:`EnsembleClassifier.from_parts`): the run's
fitted models as members and a :class:`~uctune.ensemble.Combiner` learnt on their out-of-fold
predictions, so nothing is trained twice. ``fit`` does the same job within one process, from
unfitted ``estimators``: their out-of-fold probabilities by ``cross_val_predict`` on ``cv``
stratified folds, the combiner learnt on them, then every member refitted on all rows (as
scikit-learn's ``StackingClassifier`` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils import Tags, get_tags
from sklearn.utils.validation import check_is_fitted

from uctune.ensemble import (
    Combiner,
    CombinerMethod,
    EnsembleChoice,
    cross_fit_combiners,
    fit_combiner,
)
from uctune.metrics import ObjectiveMetric
from uctune.models._calibrated import binary_target

__all__ = ["EnsembleClassifier"]


class EnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier whose probability combines its members' (``members_``, ``combiner_``).

    ``estimators``: ``(name, estimator)`` pairs; ``method``: ``caruana``, ``stacker`` or ``auto``;
    ``size`` greedy steps and ``metric`` for Caruana's selection; ``cv`` folds for :meth:`fit`.
    """

    #: scikit-learn's conformance checks this class fails, and why (read by the conformance test).
    conformance_excuses: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        estimators: Sequence[tuple[str, Any]] = (),
        *,
        method: EnsembleChoice = "auto",
        size: int = 25,
        metric: ObjectiveMetric = "pr_auc",
        cv: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.estimators = estimators
        self.method = method
        self.size = size
        self.metric = metric
        self.cv = cv
        self.random_state = random_state

    @classmethod
    def from_parts(
        cls, members: Sequence[tuple[str, Any]], combiner: Combiner, **params: Any
    ) -> EnsembleClassifier:
        """Fitted members and a combiner learnt on their out-of-fold predictions."""
        model = cls(list(members), method=combiner.method, **params)
        model._set_fitted(list(members), combiner)
        return model

    def _set_fitted(self, members: list[tuple[str, Any]], combiner: Combiner) -> None:
        self.members_ = members
        self.combiner_ = combiner
        first = members[0][1]
        self.classes_ = np.asarray(first.classes_)
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, attr):
                setattr(self, attr, getattr(first, attr))

    @property
    def names_(self) -> list[str]:
        check_is_fitted(self, "members_")
        return [name for name, _ in self.members_]

    def fit(self, X: Any, y: Any) -> EnsembleClassifier:
        """Learn the combiner on out-of-fold probabilities, then refit every member on all rows."""
        if not self.estimators:
            raise ValueError(f"{type(self).__name__} needs at least one estimator, got none")
        labels, positive = binary_target(self, X, y)
        folds = list(
            StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state).split(
                np.zeros(len(labels)), positive
            )
        )
        P = np.column_stack(
            [
                cross_val_predict(clone(est), X, labels, cv=folds, method="predict_proba")[:, 1]
                for _, est in self.estimators
            ]
        )
        seed = 0 if self.random_state is None else self.random_state
        method: CombinerMethod
        if self.method == "auto":
            scored = cross_fit_combiners(
                [P[v] for _, v in folds],
                [positive[v] for _, v in folds],
                size=self.size,
                metric=self.metric,
                random_state=seed,
            )
            method = max(scored, key=lambda m: scored[m].score)
        else:
            method = self.method
        combiner = fit_combiner(
            method, P, positive, size=self.size, metric=self.metric, random_state=seed
        )
        members = [(name, clone(est).fit(X, labels)) for name, est in self.estimators]
        self._set_fitted(members, combiner)
        return self

    def member_proba(self, X: Any) -> np.ndarray:
        """Each member's positive-class probability (rows × members)."""
        check_is_fitted(self, "members_")
        return np.column_stack(
            [np.asarray(m.predict_proba(X), dtype=np.float64)[:, 1] for _, m in self.members_]
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        members = self.member_proba(X)  # checks that the ensemble is fitted
        q = self.combiner_.combine(members)
        return np.column_stack([1.0 - q, q])

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "members_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        if self.estimators:
            inner = [get_tags(est).input_tags for _, est in self.estimators]
            tags.input_tags.allow_nan = all(t.allow_nan for t in inner)
            tags.input_tags.sparse = all(t.sparse for t in inner)
        return tags
