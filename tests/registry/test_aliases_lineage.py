"""Aliases with an append-only history, and lineage recorded at save and checked at load."""

from __future__ import annotations

import json
import sqlite3
import warnings

import pandas as pd
import pytest

from tests.registry.conftest import metrics
from uctune.errors import ConfigError, NotFoundError
from uctune.registry import Lineage, VersionMismatchWarning, installed_versions


def two_models(registry, small_model):
    return (
        registry.save_model(small_model, "a", "lr", metrics(0.6)),
        registry.save_model(small_model, "b", "xgb", metrics(0.7)),
    )


# -- aliases ------------------------------------------------------------------------------------
def test_moving_an_alias_keeps_its_history(registry, small_model, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    first, second = two_models(registry, small_model)
    made = registry.set_alias("production", first, reason="first release")
    moved = registry.set_alias("production", "xgb@1.0.0", by="alice")
    assert registry.set_alias("production", second) is None  # already there: nothing recorded
    registry.set_alias("staging", first)
    assert made is not None and moved is not None
    assert (made.from_model_id, made.to_model_id, made.changed_by) == (None, first, "ops")
    assert (moved.from_model_id, moved.to_model_id, moved.changed_by) == (first, second, "alice")
    history = registry.alias_history("production")
    assert [(e.from_model_id, e.to_model_id, e.changed_by, e.reason) for e in history] == [
        (None, first, "ops", "first release"),
        (first, second, "alice", None),
    ]
    assert all(e.changed_at.endswith("+00:00") for e in history)
    assert len(registry.alias_history()) == 3
    assert [(a.alias, a.model_id, a.ref) for a in registry.aliases()] == [
        ("production", second, "xgb@1.0.0"),
        ("staging", first, "lr@1.0.0"),
    ]
    assert registry.get("production").model_id == second
    assert registry.get(second).aliases == ("production",)


def test_removing_an_alias(registry, small_model):
    first, _ = two_models(registry, small_model)
    registry.set_alias("staging", first)
    event = registry.remove_alias("staging", by="bob", reason="retired")
    assert (event.from_model_id, event.to_model_id, event.changed_by) == (first, None, "bob")
    assert registry.aliases() == []
    with pytest.raises(NotFoundError, match="alias 'staging' is not set"):
        registry.remove_alias("staging")


@pytest.mark.parametrize("name", ["best", "12", "a@b", "", "has space", "x" * 65])
def test_bad_alias_names(registry, small_model, name):
    first, _ = two_models(registry, small_model)
    with pytest.raises(ConfigError, match="an alias must be 1-64 letters"):
        registry.set_alias(name, first)
    assert registry.alias_history() == []


def test_alias_to_an_unknown_model(registry, small_model):
    two_models(registry, small_model)
    with pytest.raises(NotFoundError, match="no model with id 9"):
        registry.set_alias("production", 9)
    assert registry.alias_history() == []


def test_deleting_an_aliased_model(registry, small_model):
    first, _ = two_models(registry, small_model)
    registry.set_alias("production", first)
    with pytest.raises(
        ConfigError, match=r"model 1 \(lr@1\.0\.0\) is the target of alias 'production'"
    ):
        registry.delete_model(first)
    assert registry.get(first)
    registry.delete_model(
        first,
        force=True,
    )
    assert registry.aliases() == []
    last = registry.alias_history("production")[-1]
    assert (last.from_model_id, last.to_model_id, last.reason) == (first, None, "model deleted")


# -- lineage ------------------------------------------------------------------------------------
def test_lineage_is_recorded_and_completed_from_the_model(registry, small_model):
    model_id = registry.save_model(
        small_model,
        "a",
        "lr",
        metrics(),
        lineage=Lineage(
            run_id="20261126-run",
            run_started_at="2026-11-26T10:00:00+00:00",
            data_fingerprint="sha256:abc",
            cv_scores={"mean": {"f1": 0.6}, "std": {"f1": 0.02}},
            seed=7,
        ),
    )
    lineage = registry.get(model_id).lineage
    assert lineage.run_id == "20261126-run" and lineage.data_fingerprint == "sha256:abc"
    assert lineage.features == ("eps_qoq", "rsi_14", "opm")  # from the fitted estimator
    assert lineage.threshold == 0.4  # from model.threshold
    assert lineage.seed == 7 and lineage.cv_scores["mean"]["f1"] == 0.6
    assert dict(lineage.library_versions) == installed_versions()
    assert {"uctune", "scikit-learn", "xgboost", "lightgbm"} <= set(lineage.library_versions)
    assert registry.list_models()[0]["lineage"]["seed"] == 7


def test_a_run_registers_a_model_name_once(registry, small_model):
    lineage = Lineage(run_id="r1", run_started_at="2026-11-26T10:00:00+00:00")
    first = registry.save_model(small_model, "xgboost_tuned", "xgb", metrics(), lineage=lineage)
    again = registry.save_model(small_model, "xgboost_tuned", "xgb", metrics(), lineage=lineage)
    other = registry.save_model(small_model, "lgbm_tuned", "lgbm", metrics(), lineage=lineage)
    later = Lineage(run_id="r1", run_started_at="2026-11-27T10:00:00+00:00")  # a new run, same dir
    new = registry.save_model(small_model, "xgboost_tuned", "xgb", metrics(), lineage=later)
    assert first == again and len({first, other, new}) == 3
    assert len(registry.list_models()) == 3
    assert len([p for p in registry.root.iterdir() if p.suffix == ".joblib"]) == 3


def test_loading_warns_when_library_versions_differ(registry, small_model):
    model_id = registry.save_model(small_model, "a", "lr", metrics())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry.load_model(model_id=model_id)  # same versions: silent
    recorded = {**installed_versions(), "scikit-learn": "0.24.2", "lightgbm": None}
    with sqlite3.connect(registry.db_path) as db:
        db.execute(
            "UPDATE model_lineage SET library_versions = ? WHERE model_id = ?",
            (json.dumps(recorded), model_id),
        )
    with pytest.warns(
        VersionMismatchWarning,
        match=rf"model {model_id} \(lr@1\.0\.0\) was saved with other library versions: "
        r"scikit-learn 0\.24\.2 -> \d",
    ):
        registry.load_model(model_id=model_id)


def test_background_rows_round_trip(registry, small_model):
    rows = pd.DataFrame({"eps_qoq": [1.5, None], "rsi_14": [50.0, 60.0], "opm": [3.0, 4.0]})
    model_id = registry.save_model(small_model, "a", "lr", metrics(), background=rows)
    assert registry.background(model_id) == [
        {"eps_qoq": 1.5, "rsi_14": 50.0, "opm": 3.0},
        {"eps_qoq": None, "rsi_14": 60.0, "opm": 4.0},
    ]
    assert registry.background(registry.save_model(small_model, "b", "lr", metrics())) is None


def test_python_patch_releases_do_not_warn(registry, small_model):
    model_id = registry.save_model(small_model, "a", "lr", metrics())
    major, minor, _ = installed_versions()["python"].split(".")
    for python, warns in ((f"{major}.{minor}.99", False), (f"{major}.{int(minor) - 1}.0", True)):
        recorded = {**installed_versions(), "python": python}
        with sqlite3.connect(registry.db_path) as db:
            db.execute(
                "UPDATE model_lineage SET library_versions = ? WHERE model_id = ?",
                (json.dumps(recorded), model_id),
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            registry.load_model(model_id=model_id)
        assert bool(caught) is warns, python
