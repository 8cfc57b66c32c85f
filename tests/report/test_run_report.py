"""The report stage of a run: its numbers against scikit-learn, SHAP for every family, tuning."""

from __future__ import annotations

import json
import re
import time

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tests.report.helpers import cell_values, parse
from uctune.models import SPECS, CalibratedClassifier

MODELS = (
    "logistic_regression",
    "random_forest",
    "xgboost",
    "xgboost_tuned",
    "lightgbm",
    "neural_network",
    "ensemble",  # after every family
)
EXPLAINER = {  # the SHAP explainer of each model before any calibration
    "logistic_regression": "linear",
    "random_forest": "tree",
    "xgboost": "tree",
    "xgboost_tuned": "tree",
    "lightgbm": "tree",
    "neural_network": "permutation",
}


def stored(run_dir, name):
    return joblib.load(run_dir / "models" / f"{name}.joblib")


def calibrated_suffix(model) -> str:
    """What explaining through a model's calibration map adds to its SHAP method."""
    inner = model.estimator
    return f", calibrated ({inner.method_})" if isinstance(inner, CalibratedClassifier) else ""


@pytest.fixture(scope="module")
def written(reported_run):
    folder = reported_run.run_dir / "report"
    html = (folder / "model_comparison.html").read_text()
    results = json.loads((folder / "results.json").read_text())
    return html, results


@pytest.fixture(scope="module")
def independent(reported_run):
    """Every model's test metrics, computed here from predictions.csv and the stored models."""
    run_dir = reported_run.run_dir
    predictions = pd.read_csv(run_dir / "predictions.csv")
    y = predictions["upper_circuit"].to_numpy()
    out = {}
    for name in MODELS:
        proba = predictions[name].to_numpy()
        threshold = stored(run_dir, name).threshold
        row = {"threshold": threshold}
        for prefix, t in (("at_0.5", 0.5), ("at_threshold", threshold)):
            pred = (proba >= t).astype(int)
            row[f"{prefix}.f1"] = f1_score(y, pred, zero_division=0)
            row[f"{prefix}.precision"] = precision_score(y, pred, zero_division=0)
            row[f"{prefix}.recall"] = recall_score(y, pred, zero_division=0)
            row[f"{prefix}.roc_auc"] = roc_auc_score(y, proba)
            row[f"{prefix}.pr_auc"] = average_precision_score(y, proba)
        out[name] = row
    return out, y, predictions


def test_the_stage_writes_its_files_and_records_itself(reported_run):
    results = json.loads((reported_run.run_dir / "results.json").read_text())
    assert results["stages"]["report"]["status"] == "done"
    assert results["report"]["html"] == "report/model_comparison.html"
    assert results["report"]["json"] == "report/results.json"
    assert set(results["report"]["shap_seconds_by_model"]) == set(MODELS)
    assert not list((reported_run.run_dir / "report").glob(".*"))  # no temporary files left


def test_html_numbers_match_scikit_learn(written, independent):
    html, _ = written
    expected, _, _ = independent
    cells = cell_values(html)
    checked = 0
    for name, row in expected.items():
        for metric, value in row.items():
            found = cells.get((name, metric))
            assert found, (name, metric)
            for text in found:  # the summary table and the model's own table
                assert float(text) == pytest.approx(value, abs=1e-12), (name, metric)
                checked += 1
    assert checked >= len(expected) * 11


def test_json_beside_the_html_holds_the_same_numbers(written, independent):
    html, results = written
    expected, y, _ = independent
    assert list(results["models"]) == list(MODELS)
    assert results["test"] == {"rows": len(y), "positives": int(y.sum()), "base_rate": y.mean()}
    for name, row in expected.items():
        model = results["models"][name]
        assert model["base_rate"] == pytest.approx(y.mean())
        for metric, value in row.items():
            if metric == "threshold":
                assert model["threshold"] == value
                continue
            prefix, key = metric.rsplit(".", 1)
            assert model[prefix][key] == pytest.approx(value, abs=1e-12)
    for (name, metric), values in cell_values(html).items():
        if metric.startswith(("at_0.5.", "at_threshold.")):
            prefix, key = metric.rsplit(".", 1)
            assert float(values[0]) == results["models"][name][prefix][key]


def test_intervals_contain_the_point_estimate(written):
    _, results = written
    for name, model in results["models"].items():
        for metric, interval in model["intervals"].items():
            point = model["at_threshold"][metric]
            assert interval["low"] <= point <= interval["high"], (name, metric)
            assert interval["resamples"] == 200 and interval["level"] == 0.95


def test_alert_buckets_against_hand_counts(written, independent):
    _, results = written
    _, y, predictions = independent
    for name in MODELS:
        counts = {"high": [0, 0], "medium": [0, 0], "low": [0, 0]}
        for p, label in zip(predictions[name], y, strict=True):
            band = "high" if p >= 0.9 else "medium" if p >= 0.7 else "low" if p >= 0.5 else None
            if band:
                counts[band][0] += 1
                counts[band][1] += int(label)
        got = {
            b["band"]: [b["alerts"], b["hits"]] for b in results["models"][name]["alert_buckets"]
        }
        assert got == counts, name


def test_shap_for_every_family(written, reported_run):
    html, results = written
    run_dir = reported_run.run_dir
    features = set(reported_run.table.features)
    methods = {
        name: EXPLAINER[name] + calibrated_suffix(stored(run_dir, name)) for name in EXPLAINER
    }
    # The trained families are calibrated; the fabricated tuned model is not.
    assert all(methods[f].endswith(("(isotonic)", "(sigmoid)")) for f in SPECS)
    assert methods["xgboost_tuned"] == "tree"
    # The ensemble is explained through its members: their explainers, combined, then its map.
    record = reported_run.results["ensemble"]
    members = sorted({methods[m] for m in record["members"]})
    ensemble = stored(run_dir, "ensemble").estimator
    combiner = record["method"] + (
        f"; calibrated: {ensemble.method_}" if isinstance(ensemble, CalibratedClassifier) else ""
    )
    methods["ensemble"] = (
        f"ensemble ({combiner}) of {len(record['members'])} models: " + " | ".join(members)
    )
    for name in MODELS:
        shap = results["models"][name]["shap"]
        assert shap["computed"] and shap["method"] == methods[name], name
        assert shap["rows"] == 30 and shap["units"] == "probability"
        assert set(shap["mean_abs"]) == features
        assert sum(shap["mean_abs"].values()) > 0
    alts = [img["alt"] for img in parse(html).imgs]
    for name in MODELS:
        title = results["models"][name]["display_name"]
        assert f"{title}: SHAP summary (beeswarm)" in alts
        assert f"{title}: mean absolute SHAP value per feature" in alts
    assert {SPECS[f].display_name for f in SPECS} | {
        "XGBoost (tuned)",
        f"Ensemble ({record['method']})",
    } == {m["display_name"] for m in results["models"].values()}


def test_the_best_model_is_highlighted(written, independent):
    html, results = written
    expected, _, _ = independent
    best = max(expected, key=lambda n: expected[n]["at_threshold.pr_auc"])
    assert results["best_model"] == {
        "name": best,
        "rank_by": "pr_auc",
        "value": pytest.approx(expected[best]["at_threshold.pr_auc"]),
    }
    assert parse(html).best_rows == [best]


def test_every_image_is_an_embedded_png_and_nothing_is_fetched(written):
    html, _ = written
    page = parse(html)
    # comparison; seven models (each one reliability plot in the calibration section); tuning
    assert len(page.imgs) == 4 + 7 * 8 + 2
    for tag, attr, url in page.urls:
        if attr == "src":
            assert url.startswith("data:image/png;base64,"), (tag, url[:40])
        else:
            assert url.startswith("#"), (tag, attr, url)
    for img in page.imgs:
        assert int(img["width"]) > 0 and int(img["height"]) > 0 and img["alt"]
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert not re.search(r"(https?:|ftp:|file:)|//[a-z0-9]", text, re.I)
    assert "@import" not in html and "<script" not in html and "<link" not in html


def test_tuning_section(written):
    html, results = written
    tuning = results["tuning"]["xgboost"]
    assert tuning["n_trials"] == 14 and tuning["trials_csv"] == "tune/xgboost/trials.csv"
    importances = tuning["param_importances"]
    assert sum(importances.values()) == pytest.approx(1.0)
    assert max(importances, key=importances.get) == "learning_rate"
    alts = [img["alt"] for img in parse(html).imgs]
    assert "xgboost: tuning history" in alts and "xgboost: hyperparameter importances" in alts
    assert 'id="tuning"' in html


def test_results_json_is_strict_json(reported_run):
    text = (reported_run.run_dir / "report" / "results.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert np.isfinite(json.loads(text)["timing"]["shap_seconds"])


def test_tuning_entries_that_are_not_families_are_left_out(reported_run, monkeypatch):
    from uctune.workflow._report import _tuning_reports

    tuning = {
        **reported_run.results["tuning"],
        "backend": "ray",  # not a family's summary
        "catboost": {"metric": "f1"},  # not a family uctune knows
        "lgbm": {"metric": "f1", "trials_csv": "tune/lightgbm/trials.csv"},  # file missing
    }
    monkeypatch.setitem(reported_run.results, "tuning", tuning)
    results = _tuning_reports(reported_run, seed=0)
    assert [t.family for t in results] == ["xgboost", "lightgbm"]
    assert results[0].importances and results[0].reference is not None
    assert results[1].trials is None and results[1].note.startswith("no trials file at ")


@pytest.mark.ray
def test_on_ray_each_model_is_a_task_and_the_report_is_the_same(
    ray_cluster, reported_run, written, tmp_path
):
    """A run's report stage on Ray assesses each model in a task (the ensemble afterwards, from
    its members' explanations): the numbers are those of the in-process report."""
    import ray

    from uctune.explain import has_members
    from uctune.workflow import resume_run
    from uctune.workflow._report import build_run_report

    _, results = written
    run_dir = reported_run.run_dir
    seen: list[tuple[int, int, str]] = []
    before = {e["args"].get("task_id") for e in ray.timeline()}
    on_ray = resume_run(run_dir, backend="ray")
    on_ray.progress = lambda stage: lambda done, total, what: seen.append((done, total, what))
    build_run_report(on_ray, out=tmp_path / "report")
    again = json.loads((tmp_path / "report" / "results.json").read_text())
    assert list(again["models"]) == list(results["models"])
    for name in MODELS:
        ours, theirs = again["models"][name], results["models"][name]
        for key in ("at_0.5", "at_threshold", "intervals", "calibration"):
            assert ours[key] == theirs[key], (name, key)
        assert ours["shap"]["method"] == theirs["shap"]["method"]
        assert ours["shap"]["mean_abs"] == pytest.approx(theirs["shap"]["mean_abs"], abs=1e-12)
    # The ensemble reused its members' explanations instead of explaining them again.
    members = reported_run.results["ensemble"]["members"]
    assert again["models"]["ensemble"]["shap"]["seconds"] < 0.5 * sum(
        again["models"][m]["shap"]["seconds"] for m in members
    )
    assert [d for d, _, _ in seen] == list(range(1, len(MODELS) + 1))
    assert seen[-1][2].startswith("ensemble")
    # Ray's task events (read from its GCS; the session's Ray has no dashboard for the state API).
    deadline = time.monotonic() + 15
    while True:
        ran = {
            e["args"]["task_id"]
            for e in ray.timeline()
            if e["name"].endswith("._assess_task") and e["args"]["task_id"] not in before
        }
        if len(ran) >= len(MODELS) - 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(ran) == len(MODELS) - 1  # every model but the ensemble
    assert has_members(stored(run_dir, "ensemble"))
    assert not any(has_members(stored(run_dir, m)) for m in MODELS if m != "ensemble")
