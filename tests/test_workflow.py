"""Run directories: created only for valid data, removed if nothing finished, resumable otherwise."""

from __future__ import annotations

import json

import pytest

from uctune.config import RunConfig
from uctune.errors import IntegrityError, TrainingError
from uctune.workflow import STAGES, execute_stages, resume_run, start_run


def config(tiny_csv, **train):
    return RunConfig.model_validate(
        {"data": str(tiny_csv), "train": {"families": ["lr"], "cv_folds": 3, **train}}
    )


def test_a_failed_first_stage_leaves_nothing(tmp_path, tiny_csv):
    ctx = start_run(
        config(tiny_csv, params={"lr": {"C": -1}}),
        command="run",
        out=tmp_path / "r",
        backend="sequential",
    )
    assert (tmp_path / "r" / "config.yaml").exists()
    with pytest.raises(TrainingError):
        execute_stages(ctx, ["train"], fresh=True)
    assert not (tmp_path / "r").exists()


def test_a_later_failure_keeps_the_run_and_resume_skips_done_stages(
    tmp_path, tiny_csv, monkeypatch
):
    calls = {"train": 0, "later": 0}
    real_train = STAGES["train"]

    def counting_train(ctx):
        calls["train"] += 1
        real_train(ctx)

    def later(ctx):
        calls["later"] += 1
        if calls["later"] == 1:
            raise IntegrityError("simulated failure")
        ctx.results["later"] = {"ok": True}

    monkeypatch.setitem(STAGES, "train", counting_train)
    monkeypatch.setitem(STAGES, "later", later)
    run_dir = tmp_path / "r"
    ctx = start_run(config(tiny_csv), command="run", out=run_dir, backend="sequential")
    with pytest.raises(
        IntegrityError,
        match=rf"stage 'later' failed: simulated failure; resume "
        rf"with: uctune run --resume {run_dir}",
    ):
        execute_stages(ctx, ["train", "later"], fresh=True)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["stages"]["train"]["status"] == "done"
    assert "later" not in results["stages"]

    resumed = resume_run(run_dir, backend="sequential")
    assert (
        resumed.model("logistic_regression").threshold
        == results["families"]["logistic_regression"]["threshold"]
    )
    assert execute_stages(resumed, ["train", "later"], fresh=False) == ["later"]
    assert calls == {"train": 1, "later": 2}
    final = json.loads((run_dir / "results.json").read_text())
    assert final["later"] == {"ok": True} and final["stages"]["later"]["status"] == "done"


def test_resume_refuses_changed_data(tmp_path, tiny_csv, tiny_frame):
    run_dir = tmp_path / "r"
    ctx = start_run(config(tiny_csv), command="run", out=run_dir, backend="sequential")
    execute_stages(ctx, ["train"], fresh=True)
    tiny_frame.assign(eps_qoq=tiny_frame["eps_qoq"] + 1).to_csv(tiny_csv, index=False)
    with pytest.raises(IntegrityError, match="changed since it started"):
        resume_run(run_dir)


def test_resume_of_something_else(tmp_path):
    from uctune.errors import NotFoundError

    with pytest.raises(NotFoundError, match="is not a uctune run directory"):
        resume_run(tmp_path)


def test_an_interrupted_tuning_stage_keeps_the_run_and_says_how_to_resume(
    tmp_path, tiny_csv, monkeypatch, caplog
):
    """Ctrl-C during the first stage of a fresh run removes the directory, unless that stage has
    already left trials behind (the tuning study), which --resume would lose."""
    from uctune.errors import ConfigError
    from uctune.workflow import _tune

    def interrupted(family, X, y, *, experiment_dir, **kwargs):
        experiment_dir.mkdir(parents=True)
        (experiment_dir / "study.db").write_bytes(b"")
        raise KeyboardInterrupt

    def refused(family, X, y, **kwargs):
        raise ConfigError("cpus_per_trial must be at most the cluster's 2 CPUs, got 3")

    config = RunConfig.model_validate({"data": str(tiny_csv), "tune": {"families": ["lr"]}})
    monkeypatch.setattr(_tune, "tune_family", refused)
    ctx = start_run(config, command="tune", out=tmp_path / "a", backend="ray")
    with pytest.raises(ConfigError, match="cpus_per_trial"):
        execute_stages(ctx, ["tune"], fresh=True)
    assert not (tmp_path / "a").exists()

    monkeypatch.setattr(_tune, "tune_family", interrupted)
    run_dir = tmp_path / "b"
    ctx = start_run(config, command="tune", out=run_dir, backend="ray")
    with pytest.raises(KeyboardInterrupt):
        execute_stages(ctx, ["tune"], fresh=True)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["stages"]["tune"]["status"] == "started"
    assert f"resume with: uctune tune --resume {run_dir}" in caplog.text
