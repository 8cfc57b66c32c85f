"""A fresh registry per test and one small fitted model for all of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier

from uctune.registry import ModelRegistry


@pytest.fixture(scope="module")
def small_model() -> FixedThresholdClassifier:
    """A thresholded logistic regression on three named features: fitted in milliseconds."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["eps_qoq", "rsi_14", "opm"])
    y = (X["eps_qoq"] + rng.normal(scale=0.5, size=60) > 0).astype(int)
    return FixedThresholdClassifier(LogisticRegression(), threshold=0.4).fit(X, y)


@pytest.fixture()
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


def metrics(f1: float = 0.6, **more: float) -> dict[str, float]:
    return {"f1": f1, "precision": 0.5, "recall": 0.7, "roc_auc": 0.9, "pr_auc": 0.5, **more}
