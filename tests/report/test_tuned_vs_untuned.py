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
    assert "CV score of the picked trial (chosen over trials: optimistic)" in html
    assert "The defaults&#39; CV score" in html or "The defaults' CV score" in html
    assert f"{tuned['f1']:.3f} vs {untuned['f1']:.3f}" in html
    assert versus["metrics"]["pr_auc"]["difference_interval"] is None  # no resamples asked for


def test_the_tuning_section_shows_intervals_the_pick_the_noise_and_the_rung_correlation():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.2).astype(int)
    noise = rng.normal(size=400)
    inputs = [
        ModelInput("lightgbm", 1 / (1 + np.exp(-(y + noise))), 0.5, family="lightgbm"),
        ModelInput(
            "lightgbm_tuned", 1 / (1 + np.exp(-(3 * y + noise))), 0.5, family="lightgbm", tuned=True
        ),
    ]
    settings = ReportSettings(bootstrap=200, seed=3)
    reports = assess_models(inputs, y, settings=settings)
    selection = {
        "picked": "tuned",
        "picked_trial": 12,
        "reason": "trial 12 beats the defaults by 0.0300, more than 1 x the noise (0.0100)",
        "cv_noise": 0.0123,
        "defaults_score": 0.41,
    }
    summary = {
        "metric": "pr_auc",
        "best_score": 0.44,
        "selection": selection,
        "rank_correlation": {"trials": 7, "rungs": {"subsample_1": 0.61, "fold_1": None}},
    }
    report = build_report(
        reports, settings=settings, tuning=[TuningReport("lightgbm", summary, reference=0.41)]
    )
    row = report.results["tuning"]["lightgbm"]["tuned_vs_untuned"]["metrics"]["pr_auc"]
    interval = row["difference_interval"]
    assert interval["low"] <= row["difference"] <= interval["high"] and interval["low"] > 0
    html = report.html
    assert f"[{interval['low']:+.3f}, {interval['high']:+.3f}]" in html
    assert "trial 12: trial 12 beats the defaults by 0.0300" in html
    assert "0.012" in html  # the CV noise
    assert "subsample_1 0.61 (over 7 completed trials)" in html
