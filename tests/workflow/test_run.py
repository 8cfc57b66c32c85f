"""Run directories: created only for valid data, removed if nothing finished, resumable otherwise."""

from __future__ import annotations

import json
import shutil

import pytest

from uctune.config import RunConfig
from uctune.errors import IntegrityError, TrainingError
from uctune.registry import sha256_of_file
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
    from uctune.tuning import _refit  # the tune stage's search runs through tune_and_refit

    def interrupted(searches, X, y, **kwargs):
        folder = searches[0].experiment_dir
        folder.mkdir(parents=True)
        (folder / "study.db").write_bytes(b"")
        raise KeyboardInterrupt

    def refused(searches, X, y, **kwargs):
        raise ConfigError("cpus_per_trial must be at most the cluster's 2 CPUs, got 3")

    config = RunConfig.model_validate({"data": str(tiny_csv), "tune": {"families": ["lr"]}})
    monkeypatch.setattr(_refit, "tune_families", refused)
    ctx = start_run(config, command="tune", out=tmp_path / "a", backend="ray")
    with pytest.raises(ConfigError, match="cpus_per_trial"):
        execute_stages(ctx, ["tune"], fresh=True)
    assert not (tmp_path / "a").exists()

    monkeypatch.setattr(_refit, "tune_families", interrupted)
    run_dir = tmp_path / "b"
    ctx = start_run(config, command="tune", out=run_dir, backend="ray")
    with pytest.raises(KeyboardInterrupt):
        execute_stages(ctx, ["tune"], fresh=True)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["stages"]["tune"]["status"] == "started"
    assert f"resume with: uctune tune --resume {run_dir}" in caplog.text


# -- model checksums ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, run_csv):
    """A run whose train stage is done (two families, in-process), copied by each test."""
    config = RunConfig.model_validate(
        {
            "data": str(run_csv),
            "train": {
                "families": ["lr", "xgb"],
                "cv_folds": 3,
                "params": {"xgb": {"n_estimators": 20}},
            },
        }
    )
    run_dir = tmp_path_factory.mktemp("trained") / "r"
    execute_stages(
        start_run(config, command="run", out=run_dir, backend="sequential"), ["train"], fresh=True
    )
    return run_dir


@pytest.fixture()
def run_copy(tmp_path, trained_run):
    copy = tmp_path / "r"  # the same run id: the directory's name
    shutil.copytree(trained_run, copy)
    return copy


MODEL = "models/logistic_regression.joblib"


def test_every_saved_model_has_its_checksum(run_copy):
    checksums = json.loads((run_copy / "models" / "checksums.json").read_text())
    assert sorted(checksums) == ["logistic_regression.joblib", "xgboost.joblib"]
    for name, recorded in checksums.items():
        digest, size = sha256_of_file(run_copy / "models" / name)
        assert recorded == {"sha256": digest, "size_bytes": size}
    resumed = resume_run(run_copy, backend="sequential")
    assert resumed.model("xgboost").threshold == resumed.results["families"]["xgboost"]["threshold"]
    # Saving again replaces the model's entry and keeps the others.
    resumed.save_model("logistic_regression", resumed.model("xgboost"))
    again = json.loads((run_copy / "models" / "checksums.json").read_text())
    assert again["xgboost.joblib"] == checksums["xgboost.joblib"]
    digest, size = sha256_of_file(run_copy / MODEL)
    assert again["logistic_regression.joblib"] == {"sha256": digest, "size_bytes": size}
    assert resume_run(run_copy, backend="sequential").model("logistic_regression").threshold == (
        resumed.model("xgboost").threshold
    )


def test_a_changed_byte_is_refused_before_unpickling(run_copy):
    path = run_copy / MODEL
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        IntegrityError,
        match=rf"^run 'r': file {MODEL} has sha256 [0-9a-f]{{16}}\.\.\., [0-9a-f]{{16}}\.\.\. was "
        r"recorded; refusing to unpickle it$",
    ):
        resume_run(run_copy, backend="sequential").model("logistic_regression")


def test_a_truncated_file_is_refused(run_copy):
    path = run_copy / MODEL
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(
        IntegrityError, match=rf"file {MODEL} is {size - 10} bytes, {size} were recorded"
    ):
        resume_run(run_copy, backend="sequential").model("logistic_regression")


def test_a_swapped_pickle_is_never_run(run_copy, tmp_path):
    """A pickle that would write a file when loaded, put in a model's place: refused unread."""
    marker = tmp_path / "pwned"
    payload = b"cbuiltins\nexec\n(V" + f"open({str(marker)!r}, 'w').write('x')".encode() + b"\ntR."
    (run_copy / MODEL).write_bytes(payload)
    with pytest.raises(IntegrityError, match=rf"file {MODEL} is {len(payload)} bytes"):
        resume_run(run_copy, backend="sequential").model("logistic_regression")
    assert not marker.exists()


def test_a_model_without_a_recorded_checksum_is_refused(run_copy):
    path = run_copy / "models" / "checksums.json"
    checksums = json.loads(path.read_text())
    del checksums["logistic_regression.joblib"]
    path.write_text(json.dumps(checksums))
    resumed = resume_run(run_copy, backend="sequential")
    assert resumed.model("xgboost") is not None  # the other model still loads
    with pytest.raises(
        IntegrityError,
        match=rf"^run 'r': no checksum was recorded for {MODEL}; refusing to unpickle it$",
    ):
        resumed.model("logistic_regression")


def test_a_run_directory_without_checksums_is_refused(run_copy):
    (run_copy / "models" / "checksums.json").unlink()
    with pytest.raises(
        IntegrityError,
        match=rf"^run 'r': {MODEL} cannot be checked before unpickling, the run has no "
        r"models/checksums\.json \(a run directory from a uctune without model checksums\); "
        r"start a new run$",
    ):
        resume_run(run_copy, backend="sequential").model("logistic_regression")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"models/checksums\.json is not valid JSON; its models cannot be checked"),
        (
            '{"logistic_regression.joblib": {"sha256": 5}}',
            r"models/checksums\.json must map each model file to its sha256 and size_bytes",
        ),
        ("[]", r"models/checksums\.json must map each model file"),
    ],
)
def test_a_damaged_checksums_file_is_refused(run_copy, text, message):
    (run_copy / "models" / "checksums.json").write_text(text)
    with pytest.raises(IntegrityError, match=rf"^run 'r': {message}"):
        resume_run(run_copy, backend="sequential").model("logistic_regression")


def test_resuming_into_a_stage_that_loads_a_changed_model_fails_naming_it(run_copy):
    (run_copy / MODEL).write_bytes(b"0" * 10)
    resumed = resume_run(run_copy, backend="sequential")
    with pytest.raises(
        IntegrityError,
        match=rf"^stage 'register' failed: run 'r': file {MODEL} is 10 bytes, \d+ were recorded; "
        rf"refusing to unpickle it; resume with: uctune run --resume {run_copy}$",
    ):
        execute_stages(resumed, ["train", "register"], fresh=False)
