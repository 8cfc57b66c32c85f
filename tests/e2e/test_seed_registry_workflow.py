"""Steps 5 and 6 of the seed's end-to-end workflow listing, run exactly as the seed writes them.

Steps 1-4 (training, tuning, evaluation) are stood in for by objects of the same shape: three
fitted models, thresholded exactly as the tuner's refit does (``ModelSpec.with_threshold``, so of
the same classes), the evaluator's result list (``model_name``, ``metrics``) and a tuner whose
``get_best_params(i)`` returns each model's parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from uctune import ModelRegistry
from uctune.metrics import classification_metrics
from uctune.models import get_spec

# Verbatim from the seed (story 3.5, "End-to-End ML Workflow", steps 5 and 6); executed as is.
SEED_STEPS_5_6 = """\
# Step 5: Persist models (NEW!)
registry = ModelRegistry()

for i, (model_dict, result) in enumerate(zip(models, results)):
    model_id = registry.save_model(
        model=model_dict["model"],
        model_name=result["model_name"],
        model_type=type(model_dict["model"]).__name__,
        metrics=result["metrics"],
        hyperparameters=tuner.get_best_params(i),
        description=f"Tuned model with Optuna (100 trials)"
    )
    print(f"Saved {result['model_name']}: ID={model_id}")

# Step 6: Get best model for production
best_model_info = registry.get_best_model(metric='f1')
production_model = registry.load_model(model_id=best_model_info['model_id'])

print(f"Production Model: {best_model_info['model_name']}")
print(f"Version: {best_model_info['version']}")
print(f"F1 Score: {best_model_info['metrics']['f1']:.4f}")
print(f"ROC-AUC: {best_model_info['metrics']['roc_auc']:.4f}")
"""


class _Tuner:
    def __init__(self, params):
        self._params = params

    def get_best_params(self, i):
        return self._params[i]


@pytest.fixture(scope="module")
def steps_1_to_4(tiny_table):
    X, y = tiny_table.X, tiny_table.y
    X_train, X_test, y_train, y_test = X.iloc[:450], X.iloc[450:], y[:450], y[450:]
    params = [{"n_estimators": 30}, {"n_estimators": 30}, {"units_1": 32}]
    fitted = []
    for family, p in zip(("xgboost", "lightgbm", "neural_network"), params, strict=True):
        spec = get_spec(family)
        fitted.append(spec.with_threshold(spec.build(p).fit(X_train, y_train), 0.3))
    best_xgb, best_lgbm, best_nn = fitted
    models = [
        {"model": best_xgb, "name": "XGBoost_Tuned"},
        {"model": best_lgbm, "name": "LightGBM_Tuned"},
        {"model": best_nn, "name": "NeuralNet_Tuned"},
    ]
    results = [
        {
            "model_name": m["name"],
            "metrics": classification_metrics(
                y_test, m["model"].predict_proba(X_test)[:, 1], m["model"].threshold
            ),
        }
        for m in models
    ]
    return models, results, _Tuner(params), X_test


def test_steps_5_and_6_as_written(steps_1_to_4, capsys):
    models, results, tuner, X_test = steps_1_to_4

    namespace = {
        "ModelRegistry": ModelRegistry,
        "models": models,
        "results": results,
        "tuner": tuner,
    }
    exec(compile(SEED_STEPS_5_6, "seed-story-3.5-steps-5-6", "exec"), namespace)
    registry = namespace["registry"]
    production_model = namespace["production_model"]

    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        "Saved XGBoost_Tuned: ID=1",
        "Saved LightGBM_Tuned: ID=2",
        "Saved NeuralNet_Tuned: ID=3",
    ]
    best = max(results, key=lambda r: r["metrics"]["f1"])
    assert out[3] == f"Production Model: {best['model_name']}"
    # type(model).__name__ names each family: three types, each at its first version.
    assert out[4] == "Version: 1.0.0"
    assert out[5] == f"F1 Score: {best['metrics']['f1']:.4f}"
    assert out[6] == f"ROC-AUC: {best['metrics']['roc_auc']:.4f}"
    listed = registry.list_models()
    assert [(m["model_name"], m["model_type"], m["version"]) for m in listed] == [
        ("XGBoost_Tuned", "XGBoostThresholdClassifier", "1.0.0"),
        ("LightGBM_Tuned", "LightGBMThresholdClassifier", "1.0.0"),
        ("NeuralNet_Tuned", "NeuralNetworkThresholdClassifier", "1.0.0"),
    ]
    assert registry.root == Path(os.environ["UCTUNE_REGISTRY"])  # the default root, isolated
    index = [r["model_name"] for r in results].index(best["model_name"])
    np.testing.assert_allclose(
        production_model.predict_proba(X_test), models[index]["model"].predict_proba(X_test)
    )
    assert listed[0]["lineage"]["threshold"] == 0.3
    assert len(listed[0]["lineage"]["features"]) == X_test.shape[1]
