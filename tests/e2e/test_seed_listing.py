"""The seed's "End-to-End ML Workflow" listing, all six steps, run with uctune's own classes.

The listing is kept verbatim below; the only edits, each applied exactly once, point its imports at
uctune and make it quick: a 600-row table instead of the embedded dataset, 3 CV folds, 2 trials per
search. It runs once, in a working directory of its own (the seed's relative paths: the registry in
``data/models/registry``, the report in ``data/evaluation``, best params in ``data/models/tuning``).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np
import pytest

from uctune import ModelRegistry
from uctune.models import get_spec
from uctune.registry import ENV_VAR
from uctune.tuning import in_space

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Verbatim from the seed ("End-to-End ML Workflow").
SEED_LISTING = """\
from agents.ml.baseline_trainer import BaselineTrainer
from agents.ml.advanced_trainer import AdvancedTrainer
from agents.ml.hyperparameter_tuner import HyperparameterTuner
from agents.ml.model_evaluator import ModelEvaluator
from agents.ml.model_registry import ModelRegistry

# Step 1: Train baseline models
baseline = BaselineTrainer()
baseline.load_data()
X_train, X_test, y_train, y_test = baseline.split_data()
lr_model = baseline.train_logistic_regression(X_train, y_train)
rf_model = baseline.train_random_forest(X_train, y_train)

# Step 2: Train advanced models
advanced = AdvancedTrainer()
xgb_model = advanced.train_xgboost(X_train, y_train)
lgbm_model = advanced.train_lightgbm(X_train, y_train)
nn_model = advanced.train_neural_network(X_train, y_train)

# Step 3: Hyperparameter tuning
tuner = HyperparameterTuner(n_trials=100)
best_xgb = tuner.tune_xgboost(X_train, y_train)
best_lgbm = tuner.tune_lightgbm(X_train, y_train)
best_nn = tuner.tune_neural_network(X_train, y_train)

# Step 4: Evaluate models
evaluator = ModelEvaluator(output_dir="data/evaluation")
models = [
    {"model": best_xgb, "name": "XGBoost_Tuned"},
    {"model": best_lgbm, "name": "LightGBM_Tuned"},
    {"model": best_nn, "name": "NeuralNet_Tuned"}
]
results = evaluator.evaluate_models(models, X_test, y_test)
evaluator.generate_html_report(results, "model_comparison")

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

# The only edits: imports pointed at uctune; a small table, fewer folds and trials.
EDITS = (
    (
        "from agents.ml.baseline_trainer import BaselineTrainer",
        "from uctune import BaselineTrainer",
    ),
    (
        "from agents.ml.advanced_trainer import AdvancedTrainer",
        "from uctune import AdvancedTrainer",
    ),
    (
        "from agents.ml.hyperparameter_tuner import HyperparameterTuner",
        "from uctune import HyperparameterTuner",
    ),
    ("from agents.ml.model_evaluator import ModelEvaluator", "from uctune import ModelEvaluator"),
    ("from agents.ml.model_registry import ModelRegistry", "from uctune import ModelRegistry"),
    ("baseline = BaselineTrainer()", "baseline = BaselineTrainer(DATA, cv_folds=FOLDS)"),
    ("advanced = AdvancedTrainer()", "advanced = AdvancedTrainer(cv_folds=FOLDS)"),
    (
        "tuner = HyperparameterTuner(n_trials=100)",
        "tuner = HyperparameterTuner(n_trials=TRIALS, cv_folds=FOLDS)",
    ),
)
FOLDS, TRIALS = 3, 2
NAMES = ("XGBoost_Tuned", "LightGBM_Tuned", "NeuralNet_Tuned")
FAMILIES = ("xgboost", "lightgbm", "neural_network")


def _edited(listing: str) -> str:
    for old, new in EDITS:
        assert listing.count(old) == 1, old
        listing = listing.replace(old, new)
    return listing


@pytest.fixture(scope="module")
def seed_run(ray_cluster, run_csv, tmp_path_factory) -> dict[str, Any]:
    """The listing's namespace after it ran, what it printed, and its working directory."""
    workdir = tmp_path_factory.mktemp("seed-listing")
    namespace: dict[str, Any] = {"DATA": str(run_csv), "FOLDS": FOLDS, "TRIALS": TRIALS}
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workdir)
        mp.delenv(ENV_VAR, raising=False)  # the seed's own default registry, under workdir
        with contextlib.redirect_stdout(out):
            exec(compile(_edited(SEED_LISTING), "seed-end-to-end-workflow", "exec"), namespace)
    return {"ns": namespace, "out": out.getvalue().splitlines(), "dir": workdir}


def _registry(seed_run) -> ModelRegistry:
    return ModelRegistry(seed_run["dir"] / "data" / "models" / "registry", create=False)


def test_the_listing_prints_version_1_0_0_and_saves_each_model_at_1_0_0(seed_run):
    ns, out = seed_run["ns"], seed_run["out"]
    results = ns["results"]
    assert [r["model_name"] for r in results] == list(NAMES)
    best = max(results, key=lambda r: r["metrics"]["f1"])
    assert out == [
        "Saved XGBoost_Tuned: ID=1",
        "Saved LightGBM_Tuned: ID=2",
        "Saved NeuralNet_Tuned: ID=3",
        f"Production Model: {best['model_name']}",
        "Version: 1.0.0",
        f"F1 Score: {best['metrics']['f1']:.4f}",
        f"ROC-AUC: {best['metrics']['roc_auc']:.4f}",
    ]
    # type(model).__name__ names each family, so each starts its own sequence at 1.0.0.
    listed = _registry(seed_run).list_models()
    assert [(m["model_name"], m["model_type"], m["version"]) for m in listed] == [
        ("XGBoost_Tuned", "XGBoostThresholdClassifier", "1.0.0"),
        ("LightGBM_Tuned", "LightGBMThresholdClassifier", "1.0.0"),
        ("NeuralNet_Tuned", "NeuralNetworkThresholdClassifier", "1.0.0"),
    ]
    tuner = ns["tuner"]
    for i, (entry, model) in enumerate(zip(listed, ns["models"], strict=True)):
        assert entry["hyperparameters"] == pytest.approx(tuner.get_best_params(i))
        assert entry["description"] == "Tuned model with Optuna (100 trials)"
        assert entry["metrics"]["f1"] == results[i]["metrics"]["f1"]
        assert entry["lineage"]["threshold"] == pytest.approx(model["model"].threshold)
        assert len(entry["lineage"]["features"]) == ns["X_test"].shape[1]


def test_the_production_model_is_the_best_tuned_model_read_back(seed_run):
    ns = seed_run["ns"]
    info = ns["best_model_info"]
    index = NAMES.index(info["model_name"])
    assert info["metrics"]["f1"] == max(r["metrics"]["f1"] for r in ns["results"])
    X_test = ns["X_test"]
    np.testing.assert_array_equal(
        ns["production_model"].predict_proba(X_test),
        ns["models"][index]["model"].predict_proba(X_test),
    )
    assert type(ns["production_model"]) is type(ns["models"][index]["model"])


def test_steps_one_to_four_use_the_real_classes_and_write_their_files(seed_run):
    ns, workdir = seed_run["ns"], seed_run["dir"]
    trained = ("lr_model", "rf_model", "xgb_model", "lgbm_model", "nn_model")
    assert [type(ns[name]).__name__ for name in trained] == [
        "LogisticRegressionThresholdClassifier",
        "RandomForestThresholdClassifier",
        "XGBoostThresholdClassifier",
        "LightGBMThresholdClassifier",
        "NeuralNetworkThresholdClassifier",
    ]
    assert len(ns["X_test"]) == pytest.approx(0.2 * (len(ns["X_train"]) + len(ns["X_test"])), abs=1)
    tuner = ns["tuner"]
    assert [r.family for r in tuner.results_] == list(FAMILIES)
    assert all(len(r.trials) == TRIALS and r.n_folds == FOLDS for r in tuner.results_)
    for family, refit, model in zip(FAMILIES, tuner.refits_, ns["models"], strict=True):
        # The refit trains the best params over the family's defaults (the network's patience,
        # which is not searched, among them).
        assert refit["params"] == get_spec(family).resolve_params(tuner.get_best_params(family))
        assert model["model"].threshold == pytest.approx(refit["threshold"])
    report = workdir / "data" / "evaluation"
    assert (report / "model_comparison.html").is_file()
    assert json.loads((report / "model_comparison.json").read_text())
    assert sorted(p.name for p in (workdir / "data" / "models" / "tuning").iterdir()) == sorted(
        f"{family}_best_params.json" for family in FAMILIES
    )


def test_the_networks_best_params_are_recorded_where_the_user_finds_them(seed_run):
    ns, workdir = seed_run["ns"], seed_run["dir"]
    tuner = ns["tuner"]
    params = tuner.get_best_params(2)
    assert params == tuner.get_best_params("neural_network")
    assert in_space(params, get_spec("neural_network").search_space)
    assert 0.1 <= params["dropout"] <= 0.5  # the seed's network: dropout searched in 0.1-0.5
    saved = json.loads(
        (workdir / "data" / "models" / "tuning" / "neural_network_best_params.json").read_text()
    )
    assert saved["family"] == "neural_network" and saved["params"] == pytest.approx(params)
    entry = _registry(seed_run).get("NeuralNetworkThresholdClassifier@1.0.0")
    assert entry.model_name == "NeuralNet_Tuned"
    assert dict(entry.hyperparameters or {}) == pytest.approx(params)
