"""The seed's ModelEvaluator (story 3.4): evaluate_models, then generate_html_report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier

from uctune.errors import ConfigError, NotFoundError
from uctune.models import get_spec
from uctune.splits import split_indices


@pytest.fixture(scope="module")
def seed_step_four(tiny_table, tmp_path_factory):
    from uctune import ModelEvaluator

    train, test = split_indices("stratified", tiny_table.y, None, test_size=0.25, random_state=0)
    X_train, X_test = tiny_table.X.iloc[train], tiny_table.X.iloc[test]
    y_train, y_test = tiny_table.y[train], tiny_table.y[test]
    uctune_model = FixedThresholdClassifier(
        get_spec("lr").build().fit(X_train, y_train),
        threshold=0.35,
        response_method="predict_proba",
    )
    plain = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=30)
    plain.fit(X_train, y_train)
    evaluator = ModelEvaluator(
        output_dir=tmp_path_factory.mktemp("evaluation"),
        shap_rows=20,
        background_size=20,
        bootstrap=100,
        background=X_train,
    )
    models = [
        {"model": uctune_model, "name": "LogReg_Tuned"},
        {"model": plain, "name": "HistGB"},
    ]
    results = evaluator.evaluate_models(models, X_test, y_test)
    path = evaluator.generate_html_report(results, "model_comparison")
    return evaluator, models, results, path, X_test, y_test


def test_results_are_per_model_dicts_with_scikit_learns_numbers(seed_step_four):
    _, models, results, _, X_test, y_test = seed_step_four
    assert [r["model_name"] for r in results] == ["LogReg_Tuned", "HistGB"]
    for entry, result, threshold in zip(models, results, (0.35, 0.5), strict=True):
        proba = entry["model"].predict_proba(X_test)[:, 1]
        metrics = result["metrics"]
        assert result["threshold"] == metrics["threshold"] == threshold
        assert metrics["f1"] == pytest.approx(f1_score(y_test, proba >= threshold))
        assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y_test, proba))
        assert metrics["base_rate"] == pytest.approx(np.mean(y_test))
        interval = result["confidence_intervals"]["f1"]
        assert interval["low"] <= metrics["f1"] <= interval["high"]
    json.dumps(results)  # plain data, ready for the registry or a file


def test_shap_for_uctune_models_and_a_note_for_others(seed_step_four):
    _, _, results, path, _, _ = seed_step_four
    assert results[0]["shap"]["computed"] and results[0]["shap"]["method"] == "linear"
    assert not results[1]["shap"]["computed"]
    assert "SHAP skipped" in results[1]["shap"]["note"]
    html = path.read_text()
    assert "SHAP skipped: expected a uctune model" in html
    assert "0.5: the model stores no threshold" in html


def test_the_report_and_its_json_are_in_the_output_dir(seed_step_four):
    evaluator, _, results, path, _, _ = seed_step_four
    assert path == evaluator.output_dir / "model_comparison.html"
    saved = json.loads((evaluator.output_dir / "model_comparison.json").read_text())
    assert list(saved["models"]) == ["LogReg_Tuned", "HistGB"]
    assert saved["models"]["HistGB"]["at_threshold"]["f1"] == results[1]["metrics"]["f1"]


def test_bad_use(seed_step_four, tmp_path):
    from uctune import ModelEvaluator

    evaluator, models, results, _, X_test, y_test = seed_step_four
    with pytest.raises(
        ConfigError, match=r"models\[0\] must be a dict with keys 'model' and 'name'"
    ):
        evaluator.evaluate_models([{"name": "x"}], X_test, y_test)
    with pytest.raises(ConfigError, match="model 'y' must have predict_proba, got str"):
        evaluator.evaluate_models([{"model": "text", "name": "y"}], X_test, y_test)
    with pytest.raises(NotFoundError, match="no evaluation of model 'other' in this evaluator"):
        evaluator.generate_html_report([{"model_name": "other"}])
    with pytest.raises(ConfigError, match="report name must be a plain file name, got '../x'"):
        evaluator.generate_html_report(results, "../x")
    with pytest.raises(ConfigError, match="SHAP rows must be at least 1, got 0"):
        ModelEvaluator(tmp_path, shap_rows=0)
    with pytest.raises(ConfigError, match="rank_by must be one of"):
        ModelEvaluator(tmp_path, rank_by="accuracy")
