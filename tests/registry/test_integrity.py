"""Integrity: checksums before unpickling, the root as a fence, atomic saves, schema versions,
verify, and the seed's table as any SQLite client sees it."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

import joblib
import pytest

from tests.registry.conftest import metrics
from uctune.errors import IntegrityError, NotFoundError
from uctune.registry import SCHEMA_VERSION, SEED_MODELS_DDL, ModelRegistry, _artifacts


def saved(registry, small_model, n=1):
    ids = [registry.save_model(small_model, f"m{i}", "lr", metrics()) for i in range(n)]
    return ids[0] if n == 1 else ids


def path_of(registry, model_id):
    return registry.root / registry.get(model_id).file_path


@pytest.fixture()
def no_unpickling(monkeypatch):
    """Fail the test if anything reaches joblib's unpickler."""

    def refuse(*args, **kwargs):
        raise AssertionError("the unpickler was reached")

    monkeypatch.setattr(_artifacts.joblib, "load", refuse)


# -- loading refuses what does not match ---------------------------------------------------------
def test_missing_file(registry, small_model):
    model_id = saved(registry, small_model)
    path_of(registry, model_id).unlink()
    with pytest.raises(NotFoundError, match=rf"model {model_id}: its file '.*' is missing"):
        registry.load_model(model_id=model_id)
    [problem] = registry.verify().problems
    assert (problem.kind, problem.model_id) == ("missing", model_id)


def test_truncated_file_is_refused_before_unpickling(registry, small_model, no_unpickling):
    model_id = saved(registry, small_model)
    path = path_of(registry, model_id)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(IntegrityError, match=r"bytes, \d+ were recorded; refusing to unpickle it"):
        registry.load_model(model_id=model_id)
    assert [p.kind for p in registry.verify().problems] == ["size"]


def test_flipped_byte_is_refused_before_unpickling(registry, small_model, no_unpickling):
    model_id = saved(registry, small_model)
    path = path_of(registry, model_id)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(
        IntegrityError, match=rf"model {model_id}: file .* has sha256 .* was recorded; refusing"
    ):
        registry.load_model(model_id=model_id)
    [problem] = registry.verify().problems
    assert problem.kind == "corrupted" and problem.model_id == model_id


class _Payload:
    """Unpickling this runs code: what a tampered model file could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_swapped_malicious_pickle_is_never_run(registry, small_model, tmp_path):
    model_id = saved(registry, small_model)
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(str(marker)), path_of(registry, model_id))
    with pytest.raises(IntegrityError, match="refusing to unpickle it"):
        registry.load_model(model_id=model_id)
    assert not marker.exists()


@pytest.mark.parametrize("stored", ["../outside.joblib", "ABSOLUTE", "sub/../../outside.joblib"])
def test_paths_outside_the_root_are_never_read(registry, small_model, tmp_path, stored):
    model_id = saved(registry, small_model)
    # A valid model with the recorded checksum, but outside the root: still refused.
    outside = tmp_path / "outside.joblib"
    shutil.copy(path_of(registry, model_id), outside)
    stored = str(outside) if stored == "ABSOLUTE" else stored
    with sqlite3.connect(registry.db_path) as db:
        db.execute("UPDATE models SET file_path = ? WHERE model_id = ?", (stored, model_id))
    with pytest.raises(IntegrityError, match="resolves outside the registry root .* refusing"):
        registry.load_model(model_id=model_id)
    problems = registry.verify().problems
    assert "outside" in [p.kind for p in problems]
    registry.delete_model(model_id)  # removes the row, never the file outside
    assert outside.exists()


def test_a_symlink_out_of_the_root_is_refused(registry, small_model, tmp_path):
    model_id = saved(registry, small_model)
    path = path_of(registry, model_id)
    outside = tmp_path / "elsewhere.joblib"
    shutil.move(path, outside)
    path.symlink_to(outside)
    with pytest.raises(IntegrityError, match="resolves outside the registry root"):
        registry.load_model(model_id=model_id)


# -- schema -------------------------------------------------------------------------------------
def test_the_seeds_models_table_exactly(registry):
    with sqlite3.connect(registry.db_path) as db:
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'models'").fetchone()[0]
        columns = [tuple(r[1:6]) for r in db.execute("PRAGMA table_info(models)")]
    assert sql == SEED_MODELS_DDL
    assert columns == [
        ("model_id", "INTEGER", 0, None, 1),
        ("model_name", "TEXT", 1, None, 0),
        ("model_type", "TEXT", 1, None, 0),
        ("version", "TEXT", 1, None, 0),
        ("metrics", "TEXT", 1, None, 0),
        ("hyperparameters", "TEXT", 0, None, 0),
        ("file_path", "TEXT", 1, None, 0),
        ("created_at", "TEXT", 1, None, 0),
        ("description", "TEXT", 0, None, 0),
    ]


def test_models_table_readable_with_the_sqlite3_command_line_client(registry, small_model):
    sqlite3_cli = shutil.which("sqlite3")
    assert sqlite3_cli, "the sqlite3 command-line client is needed (make test installs it)"
    registry.save_model(small_model, "XGBoost_Tuned", "xgb", metrics(0.71), {"max_depth": 5}, "d")
    registry.save_model(small_model, "XGBoost_Tuned", "xgb", metrics(0.73))
    query = (
        "SELECT model_id, model_name, model_type, version, json_extract(metrics, '$.f1'), "
        "json_extract(hyperparameters, '$.max_depth'), file_path, description FROM models "
        "ORDER BY model_id"
    )
    out = subprocess.run(
        [sqlite3_cli, "-readonly", str(registry.db_path), query],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.splitlines()
    assert out == [
        "1|XGBoost_Tuned|xgb|1.0.0|0.71|5|000001-xgb-1.0.0.joblib|d",
        "2|XGBoost_Tuned|xgb|1.0.1|0.73||000002-xgb-1.0.1.joblib|",
    ]


def test_a_schema_version_mismatch_is_refused(registry):
    with sqlite3.connect(registry.db_path) as db:
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(
        IntegrityError,
        match=rf"has schema version 7, this uctune reads version {SCHEMA_VERSION}; open it with",
    ):
        ModelRegistry(registry.root)


def test_a_seed_era_database_is_refused(tmp_path):
    root = tmp_path / "seed"
    root.mkdir()
    with sqlite3.connect(root / "registry.db") as db:
        db.execute(SEED_MODELS_DDL)
    with pytest.raises(IntegrityError, match="has schema version 0, this uctune reads version"):
        ModelRegistry(root)


def test_not_a_database(tmp_path):
    root = tmp_path / "junk"
    root.mkdir()
    (root / "registry.db").write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(IntegrityError, match="is not a usable SQLite database"):
        ModelRegistry(root)


def test_alias_history_is_append_only_even_in_sql(registry, small_model):
    registry.set_alias("production", saved(registry, small_model))
    with sqlite3.connect(registry.db_path) as db:
        for statement in ("UPDATE alias_history SET changed_by = 'x'", "DELETE FROM alias_history"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)


def test_issued_versions_are_append_only_even_in_sql(registry, small_model):
    saved(registry, small_model)
    with sqlite3.connect(registry.db_path) as db:
        for statement in ("UPDATE issued_versions SET patch = 9", "DELETE FROM issued_versions"):
            with pytest.raises(sqlite3.DatabaseError, match="issued_versions is append-only"):
                db.execute(statement)


def _schema(db_path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()


def test_a_schema_1_registry_is_upgraded_and_keeps_counting(tmp_path, small_model):
    # A registry as uctune wrote it at schema version 1: the same tables but issued_versions,
    # with a deleted model (xgb@1.0.1, model 2) that version 1 had no way to remember.
    fresh = ModelRegistry(tmp_path / "fresh")
    old = ModelRegistry(tmp_path / "old")
    for model_type in ("xgb", "xgb", "xgb", "lgbm"):
        old.save_model(small_model, "m", model_type, metrics())
    old.delete_model(2)
    with sqlite3.connect(old.db_path) as db:
        db.execute("DROP TABLE issued_versions")  # its triggers go with it
        db.execute("PRAGMA user_version = 1")
    assert "issued_versions" not in dict(_schema(old.db_path))

    upgraded = ModelRegistry(old.root)
    with sqlite3.connect(old.db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        issued = db.execute(
            "SELECT model_type, major, minor, patch, model_id FROM issued_versions "
            "ORDER BY model_id"
        ).fetchall()
    assert issued == [("xgb", 1, 0, 0, 1), ("xgb", 1, 0, 2, 3), ("lgbm", 1, 0, 0, 4)]
    assert _schema(old.db_path) == _schema(fresh.db_path)  # exactly a new registry's schema
    assert upgraded.get(upgraded.save_model(small_model, "m", "xgb", metrics())).version == "1.0.3"
    assert [m["model_id"] for m in upgraded.list_models()] == [1, 3, 4, 5]
    ModelRegistry(old.root)  # opening it again finds nothing to do


# -- atomic saves -------------------------------------------------------------------------------
def test_a_failure_after_the_rename_rolls_back_row_and_file(registry, small_model, monkeypatch):
    from uctune.registry import _save

    real_replace = os.replace
    calls = []

    def replace_then_fail(src, dst):
        real_replace(src, dst)
        calls.append(dst)
        if len(calls) == 1:  # the rename into place; the rollback's rename back must work
            raise OSError("disk vanished")

    monkeypatch.setattr(_save.os, "replace", replace_then_fail)
    with pytest.raises(Exception, match="disk vanished"):
        registry.save_model(small_model, "m", "lr", metrics())
    monkeypatch.undo()
    assert registry.list_models() == []
    assert [p.name for p in registry.root.iterdir() if not p.name.startswith("registry.db")] == []
    assert registry.get(saved(registry, small_model)).version == "1.0.0"


_CRASH = textwrap.dedent(
    """
    import os, sys
    from sklearn.linear_model import LogisticRegression
    from uctune.registry import ModelRegistry, _save
    real = os.replace
    def replace_and_die(src, dst):
        real(src, dst)
        os._exit(17)  # killed after the rename, before the commit
    _save.os.replace = replace_and_die
    ModelRegistry(sys.argv[1]).save_model(LogisticRegression(), "m", "lr", {"f1": 0.5})
    """
)


def test_a_crash_before_the_commit_leaves_no_row_and_a_file_verify_reports(registry, small_model):
    saved(registry, small_model)
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(registry.root)], capture_output=True, timeout=120
    )
    assert proc.returncode == 17, proc.stderr
    assert len(registry.list_models()) == 1  # no row for the crashed save
    report = registry.verify()
    assert [(p.kind, p.path) for p in report.problems] == [("stray", "000002-lr-1.0.1.joblib")]
    # The next save takes the same id and version and replaces the stray file with its own.
    model_id = saved(registry, small_model)
    assert registry.get(model_id).ref == "lr@1.0.1"
    assert registry.verify().ok
    registry.load_model(model_id=model_id)


def test_verify_reports_strays_and_old_temporary_files(registry, small_model):
    saved(registry, small_model)
    (registry.root / "000042-lr-9.9.9.joblib").write_bytes(b"x")
    fresh = registry.root / ".tmp-fresh.joblib"
    old = registry.root / ".tmp-old.joblib"
    fresh.write_bytes(b"x")
    old.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    (registry.root / "notes.txt").write_text("not a model")
    report = registry.verify()
    assert sorted((p.kind, p.path) for p in report.problems) == [
        ("stray", "000042-lr-9.9.9.joblib"),
        ("temp", ".tmp-old.joblib"),
    ]
    assert not report.ok and report.models_checked == 1
    assert report.to_dict()["problems"][0]["kind"] in {"stray", "temp"}


def test_verify_reads_no_pickle(registry, small_model, no_unpickling):
    saved(registry, small_model, n=3)
    assert registry.verify().ok
