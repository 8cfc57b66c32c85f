"""The ensemble stage: built from the stored models' out-of-fold predictions, calibrated,
thresholded, explained additively, registered and scored like any other model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from uctune.cli.main import main
from uctune.config import EnsembleConfig, RegistryConfig, RunConfig
from uctune.explain import explain, explain_all
from uctune.models import EnsembleClassifier, EnsembleThresholdClassifier
from uctune.registry import ModelRegistry
from uctune.workflow import execute_stages, start_run

FAST = {"random_forest": {"n_estimators": 30}, "xgboost": {"n_estimators": 30}}


def _run(tiny_csv, out, registry, **ensemble):
    config = RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "train": {"families": ["lr", "rf", "xgb"], "cv_folds": 3, "params": FAST},
            "ensemble": ensemble,
            "registry": {"path": str(registry)},
        }
    )
    ctx = start_run(config, command="run", out=out, backend="sequential")
    execute_stages(ctx, ["train", "ensemble", "register"], fresh=True)
    return ctx


def _ensemble_again(ctx, folder, **ensemble):
    """The ensemble stage (and the register stage, into ``folder``) again, with other settings,
    on a copy of the run: same data, same trained models, same out-of-fold predictions."""
    copy = folder / "run"
    shutil.copytree(ctx.run_dir, copy)
    (copy / "models" / "ensemble.joblib").unlink()
    config = ctx.config.model_copy(
        update={
            "ensemble": EnsembleConfig(**ensemble),
            "registry": RegistryConfig(path=folder / "registry"),
        }
    )
    results = {k: v for k, v in ctx.results.items() if k not in ("ensemble", "registry")}
    results["stages"] = {"train": ctx.results["stages"]["train"]}
    again = replace(ctx, run_dir=copy, config=config, results=results, _models={})
    execute_stages(again, ["ensemble", "register"], fresh=False)
    return again


@pytest.fixture(scope="module")
def ensembled(tmp_path_factory, run_csv):
    base = tmp_path_factory.mktemp("ensembled")
    # Registered whether or not it beats its members, so the round trip below is always tested.
    return _run(run_csv, base / "run", base / "registry", registered="always")


def test_an_ensemble_that_does_not_beat_its_best_member_is_not_registered(ensembled, tmp_path):
    # One greedy step: the ensemble is a single member, so it cannot beat the best one.
    ctx = _ensemble_again(ensembled, tmp_path, method="caruana", size=1)
    versus = ctx.results["ensemble"]["versus_members"]
    oof = ctx.out_of_fold()
    label = ctx.table.label
    for name, score in versus["members"].items():  # each member on its own out-of-fold rows
        assert score == pytest.approx(average_precision_score(oof[label], oof[name]), abs=1e-12)
    assert versus["best_member_score"] == max(versus["members"].values())
    assert versus["ensemble"] <= versus["best_member_score"]
    assert ctx.results["ensemble"]["earned"] is False
    registry = ctx.results["registry"]
    assert "ensemble" not in registry["models"] and registry["models"]
    assert "does not beat its best member" in registry["ensemble_not_registered"]
    assert registry["best"]["model_name"] != "ensemble"

    # The same ensemble with registered: always is registered; a winning one is registered either way.
    forced = _ensemble_again(
        ensembled, tmp_path / "forced", method="caruana", size=1, registered="always"
    )
    assert "ensemble" in forced.results["registry"]["models"]
    record = ensembled.results["ensemble"]["versus_members"]
    assert record["earned"] == (record["ensemble"] > record["best_member_score"])


def test_the_ensemble_is_learnt_on_the_stored_out_of_fold_predictions(ensembled):
    ctx = ensembled
    section = ctx.results["ensemble"]
    oof = pd.read_csv(ctx.oof_path)
    trained = ["logistic_regression", "random_forest", "xgboost"]
    assert section["members"] == trained
    assert set(oof.columns) == {"row", "fold", ctx.table.label, *trained}
    # The out-of-fold rows are the training rows, never a test row.
    assert sorted(oof["row"]) == sorted(ctx.split.train_index)
    assert section["method"] in ("caruana", "stacker")
    scores = section["selection"]["scores"]
    assert section["method"] == max(scores, key=lambda m: scores[m]["score"])
    if section["method"] == "caruana":
        assert sum(section["combiner"]["weights"].values()) == pytest.approx(1.0)

    model = ctx.model("ensemble")
    assert isinstance(model, EnsembleThresholdClassifier)
    assert model.threshold == section["threshold"]
    X_test = ctx.table.X.iloc[ctx.split.test_index]
    proba = model.predict_proba(X_test)[:, 1]
    predictions = pd.read_csv(ctx.predictions_path)
    # Exactly: the files keep every digit (rounding would turn calibration steps into ties).
    np.testing.assert_array_equal(predictions["ensemble"].to_numpy(), proba)
    assert section["holdout"]["at_threshold"]["tp"] == int(
        ((proba >= model.threshold) & (ctx.table.y[ctx.split.test_index] == 1)).sum()
    )


def test_the_members_are_the_stored_models_not_new_fits(ensembled):
    ctx = ensembled
    inner = ctx.model("ensemble").estimator
    ensemble = inner.estimator_ if not isinstance(inner, EnsembleClassifier) else inner
    X = ctx.table.X.iloc[:50]
    for name, member in ensemble.members_:
        np.testing.assert_array_equal(
            member.predict_proba(X), ctx.model(name).estimator.predict_proba(X)
        )


def test_the_weights_are_reproducible_for_a_seed(ensembled, tmp_path):
    again = _ensemble_again(ensembled, tmp_path)
    assert again.results["ensemble"]["combiner"] == ensembled.results["ensemble"]["combiner"]
    assert again.results["ensemble"]["threshold"] == ensembled.results["ensemble"]["threshold"]


@pytest.mark.parametrize("method", ["caruana", "stacker"])
def test_shap_values_add_up_to_the_ensembles_probability(ensembled, tmp_path, method):
    ctx = ensembled if ensembled.results["ensemble"]["method"] == method else None
    if ctx is None:  # the other combiner, forced
        ctx = _ensemble_again(ensembled, tmp_path, method=method)
    model = ctx.model("ensemble")
    X = ctx.table.X.iloc[ctx.split.test_index]
    proba = model.predict_proba(X)[:, 1]
    for explanation in (explain_all(model, X), explain(model, X, max_rows=None)):
        total = explanation.values.sum(axis=1) + explanation.base_probability
        np.testing.assert_allclose(total, proba, atol=1e-6)
        assert explanation.method.startswith(f"ensemble ({method}")


def test_caruana_shap_is_the_weighted_sum_of_the_members(ensembled, tmp_path):
    ctx = _ensemble_again(ensembled, tmp_path, method="caruana")
    model = ctx.model("ensemble")
    calibrated = model.estimator
    ensemble = calibrated.estimator_
    X = ctx.table.X.iloc[ctx.split.test_index]
    whole = explain_all(ensemble, X)
    members = [explain_all(m, X) for _, m in ensemble.members_]
    weights = ensemble.combiner_.weights
    np.testing.assert_allclose(
        whole.values, sum(w * e.values for w, e in zip(weights, members, strict=True)), atol=1e-12
    )


def test_the_registry_round_trips_the_ensemble(ensembled, capsys, tmp_path):
    ctx = ensembled
    section = ctx.results["registry"]
    assert "ensemble" in section["models"]
    registry = ModelRegistry(ctx.config.registry.path, create=False)
    info = section["models"]["ensemble"]
    assert info["model_type"] == "ensemble"
    loaded = registry.load_model(model_id=info["model_id"])
    X = ctx.table.X.iloc[ctx.split.test_index]
    np.testing.assert_array_equal(loaded.predict_proba(X), ctx.model("ensemble").predict_proba(X))
    entry = registry.get(info["model_id"])
    assert entry.metrics["pr_auc"] == ctx.results["ensemble"]["holdout"]["at_threshold"]["pr_auc"]

    # uctune predict scores with it, with SHAP reasons that add up.
    events = tmp_path / "events.csv"
    ctx.table.frame.iloc[ctx.split.test_index[:40]].drop(columns=[ctx.table.label]).to_csv(
        events, index=False
    )
    out = tmp_path / "scored.csv"
    code = main(
        [
            "predict",
            "--root",
            str(ctx.config.registry.path),
            "--model",
            "ensemble@1.0.0",
            "--input",
            str(events),
            "--output",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    scored = pd.read_csv(out)
    np.testing.assert_allclose(
        scored["probability"], ctx.model("ensemble").predict_proba(X.iloc[:40])[:, 1], atol=1e-6
    )


def test_the_ensemble_can_be_turned_off(ensembled, tmp_path):
    ctx = _ensemble_again(ensembled, tmp_path, enabled=False)
    assert ctx.results["ensemble"] == {"enabled": False}
    assert "ensemble" not in ctx.model_names()
    registered = json.loads((ctx.run_dir / "results.json").read_text())["registry"]["models"]
    assert set(registered) == {"logistic_regression", "random_forest", "xgboost"}


def test_members_explained_alone_are_reused_unchanged(ensembled):
    ctx = ensembled
    model = ctx.model("ensemble")
    X = ctx.table.X.iloc[ctx.split.test_index]
    alone = {
        name: explain(ctx.model(name), X, max_rows=50, random_state=5)
        for name in ctx.results["ensemble"]["members"]
    }
    fresh = explain(model, X, max_rows=50, random_state=5)
    reused = explain(model, X, max_rows=50, random_state=5, members=alone)
    # Each member inside the ensemble draws what it would alone, so reusing changes nothing...
    np.testing.assert_array_equal(reused.values, fresh.values)
    # ...and explanations of other rows are never taken for these.
    other = {n: explain(ctx.model(n), X, max_rows=40, random_state=6) for n in alone}
    np.testing.assert_array_equal(
        explain(model, X, max_rows=50, random_state=5, members=other).values, fresh.values
    )
    # ...nor another model's explanation under a member's name.
    swapped = dict(zip(alone, reversed(list(alone.values())), strict=True))
    np.testing.assert_array_equal(
        explain(model, X, max_rows=50, random_state=5, members=swapped).values, fresh.values
    )


def test_under_walk_forward_the_threshold_comes_from_the_folds_a_learnt_combiner_predicted(
    run_csv, tmp_path
):
    from uctune.calibration import cross_fit_calibration
    from uctune.ensemble import cross_fit_combiners
    from uctune.metrics import f1_optimal_threshold

    config = RunConfig.model_validate(
        {
            "data": str(run_csv),
            "split": {"method": "time"},
            "train": {"families": ["lr", "xgb"], "cv_folds": 4, "params": FAST},
            "ensemble": {"method": "caruana", "registered": "always"},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )
    ctx = start_run(config, command="run", out=tmp_path / "run", backend="sequential")
    execute_stages(ctx, ["train", "ensemble"], fresh=True)
    section = ctx.results["ensemble"]
    assert ctx.results["cv"]["method"] == "walk_forward"
    # The first block has no earlier fold to learn a combiner on: its cross-fitted prediction is
    # a plain average of the members, on another scale, and neither calibrates nor thresholds.
    oof = pd.read_csv(ctx.oof_path)
    folds = sorted(oof["fold"].unique())
    assert [row["fold"] for row in section["cv"]["folds"]] == folds[1:]
    assert section["versus_members"]["folds"] == [k + 1 for k in range(1, len(folds))]

    names, label = section["members"], ctx.table.label
    P = [oof[oof["fold"] == k][names].to_numpy(float) for k in folds]
    Y = [oof[oof["fold"] == k][label].to_numpy(int) for k in folds]
    cross = cross_fit_combiners(
        P,
        Y,
        methods=["caruana"],
        source="earlier_folds",
        size=25,
        metric="pr_auc",
        random_state=config.seed,
    )["caruana"].fold_proba

    def threshold(ks):
        cal = cross_fit_calibration(
            [Y[k] for k in ks], [cross[k] for k in ks], source="earlier_folds"
        )
        y = np.concatenate([Y[k] for k in ks])
        return f1_optimal_threshold(y, cal.apply(np.concatenate([cross[k] for k in ks])))

    learnt = threshold(range(1, len(folds)))
    assert section["threshold"] == pytest.approx(learnt)
    assert ctx.model("ensemble").threshold == pytest.approx(learnt)
