"""The whole job from Python: open_run and execute_run, the entry point behind the CLI's commands,
as docs/python-api.md shows it."""

from __future__ import annotations

import json

import pytest

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
