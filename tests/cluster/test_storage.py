"""Nothing from the driver's disk but the run directory: Ray Tune's experiment in S3 (a real
S3-compatible server on loopback), the Optuna study in the run directory; a submitted job's driver
killed mid-search, and the very same command line submitted again (as a retried RayJob does)
resuming the run from the same run directory."""

from __future__ import annotations

import json
import os
import signal
import time

import pandas as pd
import pytest

from tests.cluster.conftest import job_client, runtime_env, wait_for_job
from tests.cluster.test_run_on_cluster import write_config
from tests.e2e.test_tune_resume import _finished, _finished_trials
from uctune.errors import ConfigError
from uctune.storage import check_storage, join_storage

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TRIALS = 8


def test_join_storage_keeps_a_uri_query_at_the_end(tmp_path):
    uri = "s3://bucket/base/?endpoint_override=127.0.0.1:9000&scheme=http"
    assert join_storage(uri, "run-1", "xgboost") == (
        "s3://bucket/base/run-1/xgboost?endpoint_override=127.0.0.1:9000&scheme=http"
    )
    assert join_storage("s3://bucket", "ray") == "s3://bucket/ray"
    assert join_storage(str(tmp_path), "a", "b") == str(tmp_path / "a" / "b")


def test_unusable_storage_is_refused_in_one_line(s3_server, monkeypatch):
    for key, value in s3_server.credentials.items():
        monkeypatch.setenv(key, value)
    check_storage(s3_server.uri("prefix"))  # the bucket exists
    with pytest.raises(ConfigError, match=r"tune.storage 's3://missing/x': .*'missing' does not"):
        check_storage(s3_server.uri("x").replace(s3_server.bucket, "missing"))
    with pytest.raises(ConfigError, match=r"tune.storage 'nope://bucket/x' cannot be used: "):
        check_storage("nope://bucket/x")


def test_a_killed_driver_resumes_from_the_run_directory_and_s3(
    multinode, s3_server, run_csv, tmp_path
):
    from ray.job_submission import JobStatus

    out, registry = tmp_path / "run", tmp_path / "registry"
    config = write_config(
        tmp_path / "run.yaml",
        run_csv,
        train={"families": ["xgb"], "cv_folds": 3},
        tune={
            "families": ["xgb"],
            "trials": TRIALS,
            "pruning": False,
            "storage": s3_server.uri("experiments"),
        },
    )
    env = runtime_env(UCTUNE_REGISTRY=str(registry), **s3_server.credentials)
    client = job_client(multinode)
    # What k8s/job/rayjob.yaml runs: a retry after a head or driver death is the same command line.
    entrypoint = f"uctune run --config {config} --out {out} --resume auto"
    job = client.submit_job(entrypoint=entrypoint, runtime_env=env)
    study = out / "tune" / "xgboost" / "study.db"
    deadline = time.monotonic() + 300
    while _finished(study) < 3 and time.monotonic() < deadline:
        assert not client.get_job_status(job).is_terminal(), client.get_job_logs(job)
        time.sleep(0.2)
    driver = client.get_job_info(job).driver_info
    assert driver is not None
    os.kill(int(driver.pid), signal.SIGKILL)  # the driver process, as a rescheduled pod loses it
    assert wait_for_job(client, job, timeout=120) == JobStatus.FAILED
    before = _finished_trials(study)
    assert 3 <= len(before) < TRIALS
    assert f"run: {out}\n" in client.get_job_logs(job)  # started, not resumed

    again = client.submit_job(entrypoint=entrypoint, runtime_env=env)
    status = wait_for_job(client, again)
    logs = client.get_job_logs(again)
    assert status == JobStatus.SUCCEEDED, logs
    assert f"run: {out} (resumed)" in logs

    after = _finished_trials(study)
    for number, record in before.items():
        assert after[number] == record, f"trial {number} was run again"
    # The work lost: only the trials running at the kill ran again, at most one per CPU.
    import optuna

    from uctune.tuning._study import interrupted

    lost = interrupted(optuna.load_study(study_name=None, storage=f"sqlite:///{study}"))
    assert 1 <= len(lost) <= 3 and not lost & set(before)  # three nodes of one CPU each
    trials = pd.read_csv(out / "tune" / "xgboost" / "trials.csv")
    assert len(trials) == TRIALS and trials["trial"].is_unique
    results = json.loads((out / "results.json").read_text())
    assert all(s["status"] == "done" for s in results["stages"].values())
    assert results["tuning"]["xgboost"]["n_trials"] == TRIALS
    # The ensemble is registered only when it beats its best member on out-of-fold data.
    earned = results["ensemble"]["earned"]
    assert set(results["registry"]["models"]) == {"xgboost_tuned"} | (
        {"ensemble"} if earned else set()
    )
    # Registered once, with the params the search picked over every trial it kept: what an
    # uninterrupted run of these trials registers.
    from uctune.registry import ModelRegistry

    (tuned,) = ModelRegistry(registry).list_models(model_type="xgboost")
    best = json.loads((out / "tune" / "xgboost" / "best_params.json").read_text())
    assert best["best_trial"] == results["tuning"]["xgboost"]["best_trial"]
    # (the registry keeps every param of the fitted model: the searched ones and the defaults)
    assert best["params"].items() <= tuned["hyperparameters"].items()

    # Ray Tune's experiment lives in the bucket, under the run's id, and not on the driver's disk.
    keys = s3_server.keys(f"experiments/{out.name}/ray/")
    names = {key.rsplit("/", 1)[-1] for key in keys}
    assert "tuner.pkl" in names
    assert any(n.startswith("experiment_state") for n in names)
    assert not (out / "tune" / "ray").exists() and not (out / "tune" / "xgboost" / "ray").exists()
