"""A finished run exported where it outlives its machine (here a local folder; S3 in
tests/cluster/test_export_s3.py), and its registry pulled back, checked file by file."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tests.invoke import run
from uctune.config import RunConfig
from uctune.errors import ConfigError, IntegrityError, NotFoundError
from uctune.registry import ModelRegistry, pull_registry
from uctune.workflow import execute_stages, export_run, start_run


@pytest.fixture()
def finished(tmp_path, tiny_csv):
    """A run of two families, trained and registered (sequentially: no Ray needed)."""
    config = RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "train": {"families": ["lr", "xgb"], "cv_folds": 3},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )
    ctx = start_run(config, command="run", out=tmp_path / "run-1", backend="sequential")
    execute_stages(ctx, ["train", "register"], fresh=True)
    return ctx


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_export_holds_the_run_and_a_consistent_registry_with_a_manifest(finished, tmp_path):
    bucket = tmp_path / "bucket"
    done = export_run(finished, str(bucket))
    base = bucket / "run-1"
    manifest = json.loads((base / "MANIFEST.json").read_text())
    assert manifest["run_id"] == "run-1" and done.files == len(manifest["files"])
    # Every file of the run directory, byte for byte.
    ran = {
        p.relative_to(finished.run_dir).as_posix()
        for p in finished.run_dir.rglob("*")
        if p.is_file()
    }
    assert {n.removeprefix("run/") for n in manifest["files"] if n.startswith("run/")} == ran
    for name, entry in manifest["files"].items():
        assert (_sha(base / name), (base / name).stat().st_size) == (entry["sha256"], entry["size"])
    # The registry: its database (a backup, one self-contained file) and the files it names.
    root = finished.config.registry.path
    models = sorted(p.name for p in root.glob("*.joblib"))
    registry = sorted(
        n.removeprefix("registry/") for n in manifest["files"] if n.startswith("registry/")
    )
    assert registry == sorted(["registry.db", *models])
    with sqlite3.connect(base / "registry" / "registry.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("SELECT count(*) FROM models").fetchone()[0] == len(models) == 2
    # The same run exported again (a retried job) is left as it is; another run of the same name
    # would land on the first's, and is refused.
    again = export_run(finished, str(bucket))
    assert again.already and again.files == done.files
    assert json.loads((base / "MANIFEST.json").read_text()) == manifest
    finished.results["note"] = "another run"
    finished.save_results()
    with pytest.raises(ConfigError, match="already holds an export of another run named 'run-1'"):
        export_run(finished, str(bucket))


def test_an_unfinished_run_is_not_exported(finished, tmp_path):
    finished.results["stages"]["register"]["status"] = "started"
    with pytest.raises(ConfigError, match=r"not finished \(stages not done: register\)"):
        export_run(finished, str(tmp_path / "bucket"))
    assert not (tmp_path / "bucket").exists()


def test_a_pulled_registry_lists_and_scores_like_the_original(finished, tmp_path, capsys):
    export_run(finished, str(tmp_path / "bucket"))
    pulled = tmp_path / "teammate" / "registry"
    code, out, err = run(
        capsys, "registry", "pull", tmp_path / "bucket" / "run-1", "--root", pulled
    )
    assert code == 0, err
    assert out == f"pulled 2 model(s) of run run-1 into {pulled}, every file verified\n"
    original = ModelRegistry(finished.config.registry.path, create=False)
    copy = ModelRegistry(pulled, create=False)
    assert [e.to_dict() for e in copy.entries()] == [e.to_dict() for e in original.entries()]
    events = tmp_path / "events.csv"
    finished.table.frame.drop(columns=finished.table.label).head(5).to_csv(events, index=False)
    scores = tmp_path / "scores.csv"
    argv = ["predict", "--model", "best", "--input", events, "--output", scores, "--root", pulled]
    code, _, err = run(capsys, *argv)
    assert code == 0 and scores.is_file(), err


def test_a_damaged_export_is_refused_and_leaves_nothing(finished, tmp_path):
    export_run(finished, str(tmp_path / "bucket"))
    base = tmp_path / "bucket" / "run-1"
    model = sorted((base / "registry").glob("*.joblib"))[0]
    data = bytearray(model.read_bytes())
    data[200] ^= 0x01  # one flipped bit
    model.write_bytes(bytes(data))
    pulled = tmp_path / "teammate"
    with pytest.raises(
        IntegrityError,
        match=rf"registry/{model.name} of the export at .* does not match its manifest",
    ):
        pull_registry(str(base), pulled)
    assert not pulled.exists() and not list(tmp_path.glob(".teammate.pull-*"))


def test_pull_refuses_what_is_not_an_export_or_a_folder_in_use(finished, tmp_path):
    with pytest.raises(NotFoundError, match="no uctune export at .* \\(no MANIFEST.json\\)"):
        pull_registry(str(tmp_path / "nothing"), tmp_path / "new")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty; pull into a new folder"):
        pull_registry(str(tmp_path / "nothing"), used)
    assert (used / "keep.txt").read_text() == "mine"
