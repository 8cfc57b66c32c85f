"""The seed's ModelEvaluator (story 3.4): evaluate_models, then generate_html_report."""

from __future__ import annotations

import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier

from uctune.errors import ConfigError, NotFoundError
from uctune.explain import explain
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
    plain = DummyClassifier(strategy="prior").fit(X_train, y_train)
    evaluator = ModelEvaluator(
        output_dir=tmp_path_factory.mktemp("evaluation"),
        shap_rows=20,
        background_size=20,
        bootstrap=100,
        background=X_train,
    )
    models = [
        {"model": uctune_model, "name": "LogReg_Tuned"},
        {"model": plain, "name": "Prior"},
    ]
    results = evaluator.evaluate_models(models, X_test, y_test)
    path = evaluator.generate_html_report(results, "model_comparison")
    return evaluator, models, results, path, X_test, y_test


def test_results_are_per_model_dicts_with_scikit_learns_numbers(seed_step_four):
    _, models, results, _, X_test, y_test = seed_step_four
    assert [r["model_name"] for r in results] == ["LogReg_Tuned", "Prior"]
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
    assert "or a tree classifier SHAP's TreeExplainer reads" in results[1]["shap"]["note"]
    assert "0.5: the model stores no threshold" in html


@pytest.fixture(scope="module")
def plain_trees(tiny_table, tmp_path_factory):
    """The seed's step four with tree classifiers a user trained himself, on numeric columns."""
    from uctune import ModelEvaluator

    X = tiny_table.X.drop(columns=list(tiny_table.categorical))
    X_train, X_test, y_train, y_test = (
        X.iloc[:450],
        X.iloc[450:],
        tiny_table.y[:450],
        tiny_table.y[450:],
    )
    models = [
        {"model": xgb.XGBClassifier(n_estimators=20, max_depth=3), "name": "XGB"},
        {"model": lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1), "name": "LGBM"},
        {
            "model": RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0),
            "name": "RF",
        },
    ]
    for entry in models:
        entry["model"].fit(X_train, y_train)
    evaluator = ModelEvaluator(
        tmp_path_factory.mktemp("plain"),
        shap_rows=30,
        background_size=25,
        bootstrap=50,
        background=X_train,
    )
    return evaluator, models, evaluator.evaluate_models(models, X_test, y_test), X_train, X_test


def test_shap_for_plain_tree_classifiers_against_the_training_rows(plain_trees):
    evaluator, models, results, X_train, X_test = plain_trees
    for entry, result in zip(models, results, strict=True):
        shap_summary = result["shap"]
        assert shap_summary["computed"], shap_summary
        assert shap_summary["method"] == "tree_interventional"
        assert shap_summary["rows"] == 30 and shap_summary["background_rows"] == 25
        # The same values as explaining against 25 training rows drawn with the evaluator's seed,
        # and not those of the test rows as background.
        own = explain(
            entry["model"],
            X_test,
            background=X_train,
            max_rows=30,
            background_size=25,
            random_state=42,
        ).mean_abs()
        assert pd.Series(shap_summary["mean_abs"])[own.index].to_numpy() == pytest.approx(
            own.to_numpy()
        )
        against_test = explain(
            entry["model"],
            X_test,
            background=X_test,
            max_rows=30,
            background_size=25,
            random_state=42,
        ).mean_abs()
        assert not np.allclose(own[against_test.index].to_numpy(), against_test.to_numpy())


def test_the_report_and_its_json_are_in_the_output_dir(seed_step_four):
    evaluator, _, results, path, _, _ = seed_step_four
    assert path == evaluator.output_dir / "model_comparison.html"
    saved = json.loads((evaluator.output_dir / "model_comparison.json").read_text())
    assert list(saved["models"]) == ["LogReg_Tuned", "Prior"]
    assert saved["models"]["Prior"]["at_threshold"]["f1"] == results[1]["metrics"]["f1"]


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
