"""The seed's operations (story 3.5): save, load, list, best, delete, versions, and their edge cases."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest

from tests.registry.conftest import metrics
from uctune.errors import ConfigError, NotFoundError
from uctune.registry import DB_NAME, SCHEMA_VERSION, Lineage, ModelRegistry


def files(registry: ModelRegistry) -> list[str]:
    return sorted(p.name for p in registry.root.iterdir() if not p.name.startswith(DB_NAME))


def rows(registry: ModelRegistry) -> int:
    with sqlite3.connect(registry.db_path) as db:
        return int(db.execute("SELECT count(*) FROM models").fetchone()[0])


# -- initialisation -----------------------------------------------------------------------------
def test_default_root_is_the_seeds_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("UCTUNE_REGISTRY")
    monkeypatch.chdir(tmp_path)
    registry = ModelRegistry()
    assert registry.root.as_posix() == "data/models/registry"
    assert (tmp_path / "data" / "models" / "registry" / "registry.db").is_file()


def test_environment_overrides_the_default(tmp_path, monkeypatch):
    monkeypatch.setenv("UCTUNE_REGISTRY", str(tmp_path / "elsewhere"))
    assert ModelRegistry().db_path == tmp_path / "elsewhere" / DB_NAME


def test_new_registry_is_wal_with_a_schema_version(registry):
    with sqlite3.connect(registry.db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_reopening_keeps_the_models(registry, small_model):
    model_id = registry.save_model(small_model, "lr", "lr", metrics())
    again = ModelRegistry(registry.root, create=False)
    assert [m["model_id"] for m in again.list_models()] == [model_id]


def test_a_reader_does_not_create_a_registry(tmp_path):
    with pytest.raises(NotFoundError, match=r"no model registry at '.*nowhere' \(no registry.db\)"):
        ModelRegistry(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()


def test_root_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        ModelRegistry(tmp_path / "file")


# -- save ---------------------------------------------------------------------------------------
def test_save_returns_ids_and_writes_a_checksummed_file_beside_the_database(registry, small_model):
    first = registry.save_model(
        small_model, "LR_Tuned", "lr", metrics(0.61), {"C": 1.0}, "tuned with Optuna"
    )
    second = registry.save_model(small_model, "LR_Tuned", "lr", metrics(0.62), {"C": 2.0})
    assert (first, second) == (1, 2)
    listed = registry.list_models()
    assert [m["version"] for m in listed] == ["1.0.0", "1.0.1"]
    one = listed[0]
    assert one["model_name"] == "LR_Tuned" and one["model_type"] == "lr"
    assert one["metrics"]["f1"] == 0.61 and one["hyperparameters"] == {"C": 1.0}
    assert one["description"] == "tuned with Optuna" and listed[1]["description"] is None
    assert one["created_at"].endswith("+00:00")
    path = registry.root / one["file_path"]
    assert path.parent == registry.root and path.suffix == ".joblib"
    import hashlib

    assert one["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert one["size_bytes"] == path.stat().st_size
    assert files(registry) == sorted(m["file_path"] for m in listed)


def test_numpy_and_missing_metric_values(registry, small_model):
    model_id = registry.save_model(
        small_model, "m", "lr", {"f1": np.float32(0.5), "roc_auc": float("nan"), "n": np.int64(3)}
    )
    stored = registry.get(model_id).metrics
    assert stored["f1"] == pytest.approx(0.5) and stored["roc_auc"] is None and stored["n"] == 3
    assert registry.get_best_model("roc_auc") is None  # NaN is not a score


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": [0.5]}, "metrics must be a mapping of names to values, got list"),
        ({"metrics": {"f1": object()}}, "metrics must be JSON-serialisable"),
        (
            {"hyperparameters": "C=1"},
            "hyperparameters must be a mapping of names to values, got str",
        ),
        ({"model_type": "xgb@1"}, "model_type must be 1-100 letters, digits or _.-"),
        ({"model_type": "../up"}, "model_type must be 1-100 letters, digits or _.-"),
        ({"model_type": ""}, "model_type must be"),
        ({"model_name": ""}, "model_name must be 1-200 printable characters, got ''"),
        ({"model_name": "a\nb"}, "model_name must be 1-200 printable characters"),
        ({"description": 3}, "description must be text, got int"),
        (
            {"version": "1.0"},
            r"a model version must be MAJOR\.MINOR\.PATCH \(e\.g\. 1\.2\.0\), got '1\.0'",
        ),
        ({"version": "v2.0.0"}, "got 'v2.0.0'"),
        ({"bump": "huge"}, "version bump must be one of major, minor, patch; got 'huge'"),
        ({"lineage": {"run_id": "x"}}, "lineage must be a uctune Lineage, got dict"),
        ({"lineage": Lineage(seed="42")}, "seed must be an integer, got '42'"),  # type: ignore[arg-type]
        ({"lineage": Lineage(features=("a",), categorical=("b",))}, "categorical features must be"),
        ({"background": [1, 2]}, "background must be a DataFrame of training rows, got list"),
    ],
)
def test_bad_input_is_a_one_line_error_and_writes_nothing(registry, small_model, kwargs, message):
    args = {"model_name": "m", "model_type": "lr", "metrics": metrics(), **kwargs}
    with pytest.raises(ConfigError, match=message) as err:
        registry.save_model(small_model, **args)
    assert "\n" not in str(err.value)
    assert rows(registry) == 0 and files(registry) == []


def test_an_unpicklable_model_leaves_nothing(registry):
    with pytest.raises(Exception, match="(?i)pickl"):
        registry.save_model(lambda x: x, "m", "lr", metrics())
    assert rows(registry) == 0 and files(registry) == []


# -- versions -----------------------------------------------------------------------------------
def test_patch_auto_increments_per_type_as_numbers(registry, small_model):
    for _ in range(11):
        registry.save_model(small_model, "x", "xgb", metrics())
    registry.save_model(small_model, "l", "lgbm", metrics())
    versions = [m["version"] for m in registry.list_models(model_type="xgb")]
    assert versions[-3:] == ["1.0.8", "1.0.9", "1.0.10"]  # text order would put 1.0.9 last
    assert registry.get(registry.save_model(small_model, "x", "xgb", metrics())).version == "1.0.11"
    assert [m["version"] for m in registry.list_models(model_type="lgbm")] == ["1.0.0"]


def test_major_minor_bumps_and_explicit_versions(registry, small_model):
    save = registry.save_model
    assert registry.get(save(small_model, "x", "xgb", metrics())).version == "1.0.0"
    assert registry.get(save(small_model, "x", "xgb", metrics())).version == "1.0.1"
    assert registry.get(save(small_model, "x", "xgb", metrics())).version == "1.0.2"
    assert registry.get(save(small_model, "x", "xgb", metrics(), bump="major")).version == "2.0.0"
    assert registry.get(save(small_model, "x", "xgb", metrics(), bump="minor")).version == "2.1.0"
    assert registry.get(save(small_model, "x", "xgb", metrics())).version == "2.1.1"
    assert (
        registry.get(save(small_model, "x", "xgb", metrics(), version="1.5.0")).version == "1.5.0"
    )
    assert (
        registry.get(save(small_model, "x", "xgb", metrics())).version == "2.1.2"
    )  # after the max
    with pytest.raises(ConfigError, match=r"version 2\.0\.0 of 'xgb' is taken \(model 4\)"):
        save(small_model, "x", "xgb", metrics(), version="2.0.0")
    assert rows(registry) == 8 and len(files(registry)) == 8


# -- load ---------------------------------------------------------------------------------------
def test_load_by_id_and_by_version(registry, small_model):
    X = np.zeros((2, 3))
    registry.save_model(small_model, "a", "lr", metrics())
    second = registry.save_model(small_model, "a", "lr", metrics())
    registry.save_model(small_model, "b", "rf", metrics())
    by_id = registry.load_model(model_id=second)
    by_version = registry.load_model(version="1.0.1")
    typed = registry.load_model(version="1.0.0", model_type="rf")
    import pandas as pd

    frame = pd.DataFrame(X, columns=["eps_qoq", "rsi_14", "opm"])
    expected = small_model.predict_proba(frame)
    for loaded in (by_id, by_version, typed):
        np.testing.assert_allclose(loaded.predict_proba(frame), expected)
    assert by_id.threshold == 0.4
    with pytest.raises(
        ConfigError, match=r"version 1\.0\.0 exists for several model types \(lr, rf\)"
    ):
        registry.load_model(version="1.0.0")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model_id": 99}, NotFoundError, r"no model with id 99 in registry"),
        ({"version": "3.0.0"}, NotFoundError, r"no model version 3\.0\.0 in registry"),
        ({"version": "1.0.0", "model_type": "svm"}, NotFoundError, r"no model svm@1\.0\.0"),
        ({"version": "1.0"}, ConfigError, r"MAJOR\.MINOR\.PATCH"),
        ({}, ConfigError, "load_model needs exactly one of model_id or version"),
        ({"model_id": 1, "version": "1.0.0"}, ConfigError, "exactly one of"),
    ],
)
def test_load_errors(registry, small_model, kwargs, error, message):
    registry.save_model(small_model, "a", "lr", metrics())
    with pytest.raises(error, match=message):
        registry.load_model(**kwargs)


def test_empty_registry(registry):
    assert registry.list_models() == []
    assert registry.get_best_model() is None
    assert registry.verify().ok
    with pytest.raises(NotFoundError, match="no model with id 1"):
        registry.load_model(model_id=1)
    with pytest.raises(NotFoundError, match="has no model with an 'f1' metric to call best"):
        registry.get("best")


# -- list and best ------------------------------------------------------------------------------
def test_list_filters_by_type_and_min_f1(registry, small_model):
    for model_type, f1 in [("lr", 0.55), ("xgb", 0.70), ("xgb", 0.65), ("lr", 0.70)]:
        registry.save_model(small_model, model_type, model_type, metrics(f1))
    assert [m["model_id"] for m in registry.list_models()] == [1, 2, 3, 4]
    assert [m["model_id"] for m in registry.list_models(model_type="xgb")] == [2, 3]
    assert [m["model_id"] for m in registry.list_models(min_f1=0.65)] == [2, 3, 4]  # inclusive
    assert [m["model_id"] for m in registry.list_models("xgb", 0.68)] == [2]
    assert registry.list_models(model_type="nn") == []
    with pytest.raises(ConfigError, match="min_f1 must be a number, got 'high'"):
        registry.list_models(min_f1="high")  # type: ignore[arg-type]


def test_best_by_any_metric(registry, small_model):
    registry.save_model(small_model, "a", "lr", metrics(0.60, roc_auc=0.95, log_loss=0.2))
    registry.save_model(small_model, "b", "xgb", metrics(0.72, roc_auc=0.90, log_loss=0.3))
    registry.save_model(small_model, "c", "xgb", metrics(0.72, roc_auc=0.80, log_loss=0.4))
    best = registry.get_best_model(metric="f1")
    assert best is not None
    assert {"model_id", "model_name", "version", "metrics"} <= set(best)
    assert (best["model_id"], best["model_name"], best["version"]) == (
        3,
        "c",
        "1.0.1",
    )  # tie: newest
    assert best["metrics"]["f1"] == 0.72
    assert registry.get_best_model(metric="roc_auc")["model_id"] == 1  # type: ignore[index]
    assert registry.get_best_model(metric="log_loss")["model_id"] == 1  # type: ignore[index]
    assert registry.get_best_model("roc_auc", model_type="xgb")["model_id"] == 2  # type: ignore[index]
    assert registry.get_best_model(metric="f2") is None


# -- delete -------------------------------------------------------------------------------------
def test_delete_removes_row_and_file(registry, small_model):
    keep = registry.save_model(small_model, "a", "lr", metrics())
    gone = registry.save_model(small_model, "b", "lr", metrics())
    gone_file = registry.root / registry.get(gone).file_path
    registry.delete_model(gone)
    assert [m["model_id"] for m in registry.list_models()] == [keep]
    assert not gone_file.exists() and len(files(registry)) == 1
    with sqlite3.connect(registry.db_path) as db:  # side tables follow the row
        for table in ("model_artifacts", "model_versions", "model_lineage", "model_metrics"):
            count = db.execute(f"SELECT count(*) FROM {table} WHERE model_id = ?", (gone,))
            assert count.fetchone()[0] == 0, table
    with pytest.raises(NotFoundError, match=f"no model with id {gone}"):
        registry.delete_model(gone)
    # a deleted model's version is never issued again: 1.0.1 was gone's, the next is 1.0.2
    assert registry.get(registry.save_model(small_model, "c", "lr", metrics())).version == "1.0.2"


def test_a_version_is_never_issued_twice_even_when_its_type_is_emptied(registry, small_model):
    save = registry.save_model
    ids = [save(small_model, "x", "xgb", metrics()) for _ in range(3)]  # 1.0.0 .. 1.0.2
    bumped = save(small_model, "x", "xgb", metrics(), bump="minor")  # 1.1.0
    for model_id in (*ids, bumped):
        registry.delete_model(model_id)
    assert registry.list_models(model_type="xgb") == []
    assert registry.get(save(small_model, "x", "xgb", metrics())).version == "1.1.1"
    assert registry.get(save(small_model, "x", "xgb", metrics(), bump="major")).version == "2.0.0"
    with pytest.raises(
        ConfigError,
        match=r"version 1\.0\.1 of 'xgb' was issued to model 2, since deleted; a version must be new",
    ):
        save(small_model, "x", "xgb", metrics(), version="1.0.1")
    with pytest.raises(ConfigError, match=r"version 2\.0\.0 of 'xgb' is taken \(model 6\)"):
        save(small_model, "x", "xgb", metrics(), version="2.0.0")
    # another type is not affected, and a never-issued version can still be asked for
    assert registry.get(save(small_model, "l", "lgbm", metrics())).version == "1.0.0"
    assert (
        registry.get(save(small_model, "x", "xgb", metrics(), version="1.5.0")).version == "1.5.0"
    )
    with sqlite3.connect(registry.db_path) as db:
        issued = db.execute(
            "SELECT model_type, major, minor, patch, model_id FROM issued_versions "
            "ORDER BY model_id"
        ).fetchall()
    assert issued == [
        ("xgb", 1, 0, 0, 1),
        ("xgb", 1, 0, 1, 2),
        ("xgb", 1, 0, 2, 3),
        ("xgb", 1, 1, 0, 4),
        ("xgb", 1, 1, 1, 5),
        ("xgb", 2, 0, 0, 6),
        ("lgbm", 1, 0, 0, 7),
        ("xgb", 1, 5, 0, 8),
    ]


def test_delete_with_a_missing_file_still_removes_the_row(registry, small_model):
    model_id = registry.save_model(small_model, "a", "lr", metrics())
    (registry.root / registry.get(model_id).file_path).unlink()
    registry.delete_model(model_id)
    assert registry.list_models() == []


# -- references and entities --------------------------------------------------------------------
def test_get_by_every_kind_of_reference(registry, small_model):
    registry.save_model(small_model, "a", "lr", metrics(0.5))
    second = registry.save_model(small_model, "b", "xgb", metrics(0.9))
    registry.set_alias("production", second)
    for ref in (second, str(second), "xgb@1.0.0", "production", "best"):
        assert registry.get(ref).model_id == second, ref
    with pytest.raises(
        NotFoundError,
        match=r"'staging' is not a model id, type@version, alias or "
        r"'best' in registry .* \(aliases: production\)",
    ):
        registry.get("staging")
    with pytest.raises(ConfigError, match="a model reference must be"):
        registry.get(True)


def test_entries_are_frozen_copies(registry, small_model):
    model_id = registry.save_model(small_model, "a", "lr", metrics())
    entry = registry.get(model_id)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.version = "9.9.9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.metrics["f1"] = 1.0  # type: ignore[index]
    as_dict = registry.list_models()[0]
    as_dict["metrics"]["f1"] = 1.0
    assert registry.get(model_id).metrics["f1"] == 0.6


def test_list_models_is_the_entries_as_dicts(registry, small_model):
    registry.save_model(
        small_model,
        "a",
        "lr",
        metrics(),
        {"C": 1.0},
        "d",
        lineage=Lineage(run_id="r", cv_scores={"mean": {"f1": 0.5}}, seed=1),
    )
    registry.save_model(small_model, "b", "xgb", metrics(0.7))
    registry.set_alias("production", 1)
    registry.set_alias("staging", 1)
    listed = registry.list_models()
    assert listed == [e.to_dict() for e in registry.entries()]
    assert listed[0]["aliases"] == ["production", "staging"]
