"""The whole job from Python: open_run and execute_run, the entry point behind the CLI's commands,
as docs/python-api.md shows it."""

from __future__ import annotations

import json

import pytest
import yaml

from uctune.config import RunConfig
from uctune.errors import ConfigError
from uctune.workflow import Session, execute_run, open_run


def test_a_run_executes_from_python_and_resumes_without_refitting(tmp_path, tiny_csv):
    config = RunConfig.model_validate(
        {"data": str(tiny_csv), "train": {"families": ["lr"], "cv_folds": 3}}
    )
    session = Session(sequential=True)
    out = tmp_path / "run"
    said: list[str] = []
    run = open_run(config, command="train", stages=["train"], session=session, out=out)
    execute_run(run, ["train"], session=session, fresh=True, announce=said.append)
    assert said == [f"run: {out}"]
    results = json.loads((out / "results.json").read_text())
    assert set(results["families"]) == {"logistic_regression"}
    assert results["stages"]["train"]["status"] == "done"
    model = out / "models" / "logistic_regression.joblib"
    written = model.stat().st_mtime_ns

    again = open_run(None, command="train", stages=["train"], session=session, resume=out)
    assert again.config == run.config  # the run's own config, not a new one
    execute_run(again, ["train"], session=session, fresh=False, announce=said.append)
    assert said[-1] == f"run: {out} (resumed)"
    assert model.stat().st_mtime_ns == written  # the finished stage is not run again


def test_a_taken_output_directory_is_refused_before_anything_runs(tmp_path, tiny_csv):
    config = RunConfig.model_validate({"data": str(tiny_csv)})
    out = tmp_path / "taken"
    out.mkdir()
    with pytest.raises(ConfigError, match="already exists; choose another --out"):
        open_run(config, command="run", stages=["train"], session=Session(), out=out)
    assert list(out.iterdir()) == []


# -- resume="auto": the same command line, run again after its process died -----------------------
def _train_config(tiny_csv, **train):
    return RunConfig.model_validate(
        {"data": str(tiny_csv), "train": {"families": ["lr"], "cv_folds": 3, **train}}
    )


def _train_doc(change):
    return {"train": {"families": ["lr"], "cv_folds": 3}, **change}


def _auto(config, out, command="train"):
    return open_run(
        config,
        command=command,
        stages=["train"],
        session=Session(sequential=True),
        resume="auto",
        out=out,
    )


def test_auto_starts_a_run_where_there_is_none_then_resumes_it(tmp_path, tiny_csv):
    out = tmp_path / "runs" / "job-1"
    first = _auto(_train_config(tiny_csv), out)
    assert not first.resumed and (out / "results.json").is_file()
    execute_run(first, ["train"], session=Session(sequential=True), fresh=True)
    model = out / "models" / "logistic_regression.joblib"
    written = model.stat().st_mtime_ns
    again = _auto(_train_config(tiny_csv), out)
    assert again.resumed and again.run_dir == out
    said: list[str] = []
    execute_run(
        again, ["train"], session=Session(sequential=True), fresh=False, announce=said.append
    )
    assert said == [f"run: {out} (resumed)"] and model.stat().st_mtime_ns == written


def test_auto_restarts_a_start_killed_before_its_first_record(tmp_path, tiny_csv):
    out = tmp_path / "job"
    out.mkdir()
    config = _train_config(tiny_csv)
    # The config file a start writes first, and an atomic write cut short.
    (out / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    (out / ".results.json.abc123.tmp").write_text("{")
    run = _auto(config, out)
    assert not run.resumed
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "results.json"]


def test_auto_leaves_a_config_file_it_did_not_write(tmp_path, tiny_csv):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.yaml").write_text("seed: 1\n")  # the user's own file, not a start of ours
    with pytest.raises(ConfigError, match="holds files but no uctune run"):
        _auto(_train_config(tiny_csv), out)
    assert (out / "config.yaml").read_text() == "seed: 1\n"


@pytest.mark.parametrize(
    ("change", "command", "message"),
    [
        ({"seed": 7}, "train", r"holds a run of another config \(it differs in seed\)"),
        (
            {"train": {"families": ["lr"], "cv_folds": 4}},
            "train",
            r"another config \(it differs in train.cv_folds\)",
        ),
        ({}, "run", r"holds a `uctune train` run, not a `uctune run` run"),
    ],
)
def test_auto_refuses_a_run_it_did_not_start(tmp_path, tiny_csv, change, command, message):
    out = tmp_path / "job"
    _auto(_train_config(tiny_csv), out)
    before = sorted(p.name for p in out.iterdir())
    config = RunConfig.model_validate({"data": str(tiny_csv), **_train_doc(change)})
    with pytest.raises(ConfigError, match=message):
        _auto(config, out, command=command)
    assert sorted(p.name for p in out.iterdir()) == before  # nothing touched


def test_auto_refuses_a_folder_that_is_not_a_run_and_needs_an_out(tmp_path, tiny_csv):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds files but no uctune run"):
        _auto(_train_config(tiny_csv), out)
    assert (out / "notes.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="--resume auto needs --out"):
        _auto(_train_config(tiny_csv), None)
