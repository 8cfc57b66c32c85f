"""The report's calibration and ensemble sections, checked against numbers recomputed here from the
stored models, predictions.csv and the run's results.json (scikit-learn's Brier score, a plain loop
for the calibration error, the documented seeded bootstrap)."""

from __future__ import annotations

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss

from tests.report.fabricate import REPORT
from tests.report.helpers import parse
from uctune.models import CalibratedClassifier
from uctune.report import ModelInput, ReportSettings, assess_models, build_report

RESAMPLES = REPORT["bootstrap"]


def ece_by_hand(y: np.ndarray, p: np.ndarray) -> float:
    """Ten equal-width bins (1.0 in the last); |observed rate - mean prediction|, weighted by rows."""
    total = 0.0
    for b in range(10):
        inside = (p >= b / 10) & ((p < (b + 1) / 10) if b < 9 else (p <= 1.0))
        if inside.any():
            total += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    return total / len(p)


def percentile_interval(values: list[float]) -> tuple[float, float]:
    kept = np.asarray([v for v in values if np.isfinite(v)])
    low, high = np.percentile(kept, [2.5, 97.5])
    return float(low), float(high)


@pytest.fixture(scope="module")
def run(reported_run):
    run_dir = reported_run.run_dir
    html = (run_dir / "report" / "model_comparison.html").read_text()
    report = json.loads((run_dir / "report" / "results.json").read_text())
    predictions = pd.read_csv(run_dir / "predictions.csv")
    y = predictions["upper_circuit"].to_numpy()
    X_test = reported_run.table.X.iloc[predictions["row"].to_numpy()]
    models = {name: joblib.load(run_dir / "models" / f"{name}.joblib") for name in report["models"]}
    # The report's bootstrap: RESAMPLES rows of test-row indices from the report seed's generator.
    seed = report["settings"]["seed"]
    resamples = np.random.default_rng(seed).integers(0, len(y), size=(RESAMPLES, len(y)))
    cells = {(c["data-model"], c["data-metric"]): c for c in parse(html).cells}
    return html, report, predictions, y, X_test, models, resamples, cells


def test_before_and_after_calibration_match_an_independent_recomputation(run):
    html, report, predictions, y, X_test, models, resamples, cells = run
    methods = {}
    for name, model in models.items():
        after = predictions[name].to_numpy()
        inner = model.estimator
        calibrated = isinstance(inner, CalibratedClassifier) and inner.method_ != "none"
        before = (
            inner.estimator_.predict_proba(X_test)[:, 1].astype(np.float64) if calibrated else after
        )
        if calibrated:  # the map takes the raw probabilities to predictions.csv's (6 digits)
            assert inner.calibrator_.predict(before) == pytest.approx(after, abs=1e-6)
        methods[name] = inner.method_ if calibrated else "none"
        section = report["models"][name]["calibration"]
        assert section["method"] == methods[name], name
        for when, p in (("before", before), ("after", after)):
            expected = {
                "brier": brier_score_loss(y, p),
                "ece": ece_by_hand(y, p),
            }
            intervals = {
                "brier": percentile_interval([brier_score_loss(y[i], p[i]) for i in resamples]),
                "ece": percentile_interval([ece_by_hand(y[i], p[i]) for i in resamples]),
            }
            got = section["test"][when]
            for metric in ("brier", "ece"):
                assert got[metric] == pytest.approx(expected[metric], abs=1e-9), (name, when)
                interval = got["intervals"][metric]
                assert (interval["low"], interval["high"]) == pytest.approx(
                    intervals[metric], abs=1e-9
                ), (name, when, metric)
                assert interval["resamples"] == RESAMPLES
                cell = cells[(name, f"calibration.{when}.{metric}")]
                assert float(cell["data-value"]) == got[metric]
                assert float(cell["data-low"]) == interval["low"]
                assert float(cell["data-high"]) == interval["high"]
        # The summary table's ECE and the evaluation's own are the calibrated probabilities'.
        assert report["models"][name]["ece"] == section["test"]["after"]["ece"]
    # Every trained family is calibrated, which on the whole lowers the test Brier score; the
    # fabricated tuned model has no map, so its before and after agree.
    families = ("logistic_regression", "random_forest", "xgboost", "lightgbm", "neural_network")
    assert all(methods[name] in ("isotonic", "sigmoid") for name in families)
    tests = [report["models"][name]["calibration"]["test"] for name in families]
    assert sum(t["after"]["brier"] for t in tests) < sum(t["before"]["brier"] for t in tests)
    untuned = report["models"]["xgboost_tuned"]["calibration"]
    assert (
        methods["xgboost_tuned"] == "none" and untuned["test"]["before"] == untuned["test"]["after"]
    )


def test_the_choice_of_each_map_is_carried_over(run, reported_run):
    _, report, *_ = run
    for family, record in reported_run.results["families"].items():
        section = report["models"][family]["calibration"]
        assert section["cross_fitted"] == record["calibration"]["candidates"]
        assert section["chosen_by"] == record["calibration"]["chosen_by"]
    ensemble = report["models"]["ensemble"]["calibration"]
    assert ensemble["cross_fitted"] == reported_run.results["ensemble"]["calibration"]["candidates"]


def test_the_page_shows_reliability_before_and_after(run):
    html, report, *_ = run
    alts = [img["alt"] for img in parse(html).imgs]
    for model in report["models"].values():
        assert alts.count(f"{model['display_name']}: reliability before and after calibration") == 1
    assert 'id="calibration"' in html and 'href="#calibration"' in html
    assert (
        "The alert buckets, the stored thresholds and <code>uctune predict</code> all use the "
        "calibrated probabilities." in " ".join(html.split())
    )


def test_the_ensemble_section_shows_the_weights_and_the_comparison(run, reported_run):
    html, report, predictions, y, _, _, resamples, cells = run
    record = reported_run.results["ensemble"]
    section = report["ensemble"]
    assert section["method"] == record["method"] and section["members"] == record["members"]
    assert section["combiner"] == record["combiner"] and section["selection"] == record["selection"]
    values = record["combiner"]["weights" if record["method"] == "caruana" else "coef"]
    kind = "weight" if record["method"] == "caruana" else "coef"
    assert len(values) == 5  # the five trained families; the fabricated tuned model has no OOF
    for member, value in values.items():
        assert float(cells[(member, f"ensemble.{kind}")]["data-value"]) == value
    for method, score in record["selection"]["scores"].items():
        assert float(cells[("ensemble", f"selection.{method}")]["data-value"]) == score["score"]
    # The ensemble sorts last in the summary and carries its combiner in its name.
    rows = [c["data-model"] for c in parse(html).cells if c["data-metric"] == "threshold"]
    assert rows[-1] == "ensemble"
    assert report["models"]["ensemble"]["display_name"] == f"Ensemble ({record['method']})"
    # The page says whether it beat its members out of fold, and so whether it is registered.
    verdict = record["versus_members"]["verdict"]
    assert f"Against its members: {verdict}, so it is" in html.replace("&#39;", "'")

    # Test PR-AUC of the ensemble against the best single model, recomputed.
    ap = {n: average_precision_score(y, predictions[n]) for n in report["models"]}
    best = max((n for n in ap if n != "ensemble"), key=ap.get)
    comparison = section["test_vs_best_single"]
    assert comparison["best_single"]["name"] == best
    assert comparison["ensemble"]["value"] == pytest.approx(ap["ensemble"], abs=1e-12)
    assert comparison["best_single"]["value"] == pytest.approx(ap[best], abs=1e-12)
    assert comparison["difference"] == pytest.approx(ap["ensemble"] - ap[best], abs=1e-12)
    for key, name in (("ensemble", "ensemble"), ("best_single", best)):
        own = report["models"][name]["intervals"]["pr_auc"]
        assert comparison[key]["interval"] == {k: own[k] for k in ("low", "high", "level")}
    # The difference's interval: both models scored on the same resamples.
    paired = []
    for i in resamples:
        if 0 < y[i].sum() < len(i):
            a = average_precision_score(y[i], predictions["ensemble"].to_numpy()[i])
            b = average_precision_score(y[i], predictions[best].to_numpy()[i])
            paired.append(a - b)
    low, high = percentile_interval(paired)
    assert comparison["difference_interval"]["low"] == pytest.approx(low, abs=1e-9)
    assert comparison["difference_interval"]["high"] == pytest.approx(high, abs=1e-9)
    cell = cells[("ensemble", "ensemble_vs.difference")]
    assert float(cell["data-value"]) == comparison["difference"]
    assert 'id="ensemble"' in html and 'data-status="built"' in html


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(5)
    y = (rng.random(150) < 0.2).astype(int)
    return y, np.clip(0.5 * y + 0.5 * rng.random(150), 0, 1)


@pytest.mark.parametrize(
    ("record", "line"),
    [
        ({"enabled": False}, "The ensemble stage was turned off for this run."),
        (
            {"enabled": True, "skipped": "needs at least two models, got 1"},
            "The ensemble stage was skipped: needs at least two models, got 1.",
        ),
    ],
)
def test_a_disabled_or_skipped_ensemble_gets_one_line(scores, record, line):
    y, proba = scores
    settings = ReportSettings(bootstrap=0)
    reports = assess_models([ModelInput("m", proba, 0.5)], y, settings=settings)
    report = build_report(reports, settings=settings, ensemble=record)
    assert line in report.html
    status = "disabled" if not record["enabled"] else "skipped"
    assert f'data-status="{status}"' in report.html
    assert report.results["ensemble"] == record


def test_no_bootstrap_means_no_calibration_intervals(scores):
    y, proba = scores
    settings = ReportSettings(bootstrap=0)
    raw = np.sqrt(proba)
    item = ModelInput("m", proba, 0.5, raw_proba=raw, calibration="sigmoid")
    (r,) = assess_models([item], y, settings=settings)
    test = build_report([r], settings=settings).results["models"]["m"]["calibration"]["test"]
    assert test["before"]["intervals"] == {} and test["after"]["intervals"] == {}
    assert test["before"]["brier"] == pytest.approx(brier_score_loss(y, raw))
    assert test["after"]["ece"] == pytest.approx(ece_by_hand(y, proba))
