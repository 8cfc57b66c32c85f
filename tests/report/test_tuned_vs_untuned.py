"""The report compares a tuned family with its untuned model on the test split only, and labels
the tuning's best CV score as the optimistic maximum it is (issue 12, item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from uctune.report import ModelInput, ReportSettings, TuningReport, assess_models, build_report


def test_tuned_and_untuned_compared_on_the_test_split():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.2).astype(int)
    noise = rng.normal(size=300)
    inputs = [
        ModelInput("xgboost", 1 / (1 + np.exp(-(y + noise))), 0.5, family="xgboost"),
        ModelInput(
            "xgboost_tuned", 1 / (1 + np.exp(-(2 * y + noise))), 0.4, family="xgboost", tuned=True
        ),
        ModelInput("logistic_regression", rng.random(300), 0.5, family="logistic_regression"),
    ]
    settings = ReportSettings(bootstrap=0)
    reports = assess_models(inputs, y, settings=settings)
    tuning = [
        TuningReport("xgboost", {"metric": "f1", "best_score": 0.9, "n_trials": 5}, reference=0.5),
        TuningReport("lightgbm", {"metric": "f1", "best_score": 0.8}),  # no models in the report
    ]
    report = build_report(reports, settings=settings, tuning=tuning)
    section = report.results["tuning"]["xgboost"]
    versus = section["tuned_vs_untuned"]
    assert versus["basis"].startswith("test split")
    tuned, untuned = reports[1].evaluation.at_threshold, reports[0].evaluation.at_threshold
    for metric in ("f1", "precision", "recall", "roc_auc", "pr_auc"):
        row = versus["metrics"][metric]
        assert (row["tuned"], row["untuned"]) == (tuned[metric], untuned[metric])
        assert row["difference"] == pytest.approx(tuned[metric] - untuned[metric])
    assert versus["metrics"]["roc_auc"]["difference"] > 0  # the tuned scores carry more signal
    assert section["untuned_cv_score"] == 0.5
    assert report.results["tuning"]["lightgbm"]["tuned_vs_untuned"] is None
    html = report.html
    assert "Best CV score (maximum over trials: optimistic)" in html
    assert "Untuned CV score (honest)" in html
    assert f"{tuned['f1']:.3f} vs {untuned['f1']:.3f}" in html
