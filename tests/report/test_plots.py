"""Every figure renders with Agg to a PNG, without leaving pyplot figures behind."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from uctune.evaluation import alert_buckets, bootstrap_intervals
from uctune.explain import explain
from uctune.models import SPECS
from uctune.report import _plots as plots
from uctune.report._plots._shap import shap_rows


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(5)
    y = (rng.random(250) < 0.1).astype(int)
    proba = np.clip(0.4 * y + 0.6 * rng.random(250), 0, 1)
    return y, proba


@pytest.fixture(scope="module")
def explanation(tiny_table):
    model = SPECS["logistic_regression"].build().fit(tiny_table.X, tiny_table.y)
    return explain(model, tiny_table.X, max_rows=40, background_size=20)


def trials() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial": range(6),
            "status": ["completed", "completed", "pruned", "completed", "failed", "completed"],
            "score": [0.4, 0.5, 0.3, 0.45, np.nan, 0.55],
        }
    )


def figures(y, proba, explanation):
    curve = plots.Curve("model", y, proba, plots.PALETTE[0], 0.4)
    other = plots.Curve("other", y, np.sqrt(proba), plots.PALETTE[1], 0.6)
    intervals = bootstrap_intervals(y, proba, 0.4, n_resamples=50)
    return {
        "confusion": lambda: plots.confusion_figure(y, proba, [("at 0.5", 0.5), ("at 0.4", 0.4)]),
        "roc": lambda: plots.roc_figure([curve], auc={"model": "0.800"}),
        "roc comparison": lambda: plots.roc_figure([curve, other]),
        "pr": lambda: plots.pr_figure([curve], base_rate=y.mean()),
        "pr comparison": lambda: plots.pr_figure([curve, other], base_rate=y.mean()),
        "calibration": lambda: plots.calibration_figure([curve, other]),
        "threshold": lambda: plots.threshold_figure(y, proba, 0.4),
        "alerts": lambda: plots.alerts_figure(alert_buckets(y, proba)),
        "alerts, none": lambda: plots.alerts_figure(alert_buckets(y, proba * 0.1)),
        "intervals": lambda: plots.intervals_figure(
            {"model": {"f1": 0.5, "pr_auc": 0.4}},
            {"model": intervals},
            {"model": plots.PALETTE[0]},
            [("f1", "F1"), ("pr_auc", "PR-AUC")],
        ),
        "beeswarm": lambda: plots.shap_beeswarm_figure(explanation, max_display=8),
        "shap bar": lambda: plots.shap_bar_figure(explanation, max_display=8),
        "tuning history": lambda: plots.tuning_history_figure(
            trials(), metric="f1", reference=0.42
        ),
        "importances": lambda: plots.importance_figure({"learning_rate": 0.7, "max_depth": 0.3}),
    }


def test_every_figure_renders_to_png(scores, explanation):
    import matplotlib.pyplot as plt

    assert matplotlib.get_backend().lower() == "agg"
    y, proba = scores
    for name, make in figures(y, proba, explanation).items():
        png = plots.to_png(make())
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(png) > 5_000, name
    assert plt.get_fignums() == []  # built with the OO API: nothing registered with pyplot


def test_same_figure_same_bytes(scores):
    y, proba = scores
    first = plots.to_png(plots.threshold_figure(y, proba, 0.4))
    assert plots.to_png(plots.threshold_figure(y, proba, 0.4)) == first


def test_beeswarm_groups_the_remaining_features(explanation):
    names, values, _ = shap_rows(explanation, 5)
    assert len(names) == 6 and names[-1] == f"{len(explanation.features) - 5} other features"
    np.testing.assert_allclose(
        sum(values), explanation.values.sum(axis=1), atol=1e-12
    )  # nothing is lost by grouping
