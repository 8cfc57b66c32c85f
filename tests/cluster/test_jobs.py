"""`uctune run` submitted to the multi-node cluster through Ray's Jobs API, as `ray job submit` does:
with cluster/runtime-env.yaml, a good config succeeds and a bad one fails with uctune's one line."""

from __future__ import annotations

import json

import pytest

from tests.cluster.conftest import job_client, runtime_env, wait_for_job
from tests.cluster.test_run_on_cluster import write_config

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_a_submitted_run_succeeds_and_its_logs_tell_what_it_did(
    multinode, workers_registry, run_csv, tmp_path
):
    from ray.job_submission import JobStatus

    out, registry = tmp_path / "run", tmp_path / "registry"
    config = write_config(
        tmp_path / "run.yaml",
        run_csv,
        train={"families": ["xgb"], "cv_folds": 3},
        tune={"families": ["xgb"], "trials": 2},
    )
    client = job_client(multinode)
    job = client.submit_job(
        entrypoint=f"uctune run --config {config} --out {out}",
        runtime_env=runtime_env(UCTUNE_REGISTRY=str(registry)),
    )
    status = wait_for_job(client, job)
    logs = client.get_job_logs(job)
    assert status == JobStatus.SUCCEEDED, logs

    # The job's driver joined the cluster it was submitted to (RAY_ADDRESS, set by the job server).
    assert "ray: 3 CPUs on 3 nodes" in logs
    assert f"run: {out}" in logs and f"wrote {out / 'results.json'}" in logs
    assert "xgboost best params:" in logs
    assert "Traceback" not in logs
    results = json.loads((out / "results.json").read_text())
    assert list(results["stages"]) == ["train", "tune", "ensemble", "report", "register"]
    assert all(s["status"] == "done" for s in results["stages"].values())
    assert results["execution"]["address"] == multinode.address
    assert results["tuning"]["xgboost"]["n_trials"] == 2
    # The runtime env's UCTUNE_REGISTRY reached the driver, and only the driver wrote there.
    assert set(results["registry"]["models"]) == {"xgboost_tuned", "ensemble"}
    assert (registry / "registry.db").is_file()
    assert not workers_registry.exists()
    info = client.get_job_info(job)
    assert info.runtime_env["env_vars"]["PYTHONUNBUFFERED"] == "1"


def test_a_bad_config_fails_the_job_with_one_line(multinode, run_csv, tmp_path):
    from ray.job_submission import JobStatus

    config = write_config(tmp_path / "bad.yaml", run_csv, train={"cv_folds": 1})
    out = tmp_path / "run"
    client = job_client(multinode)
    job = client.submit_job(
        entrypoint=f"uctune run --config {config} --out {out}", runtime_env=runtime_env()
    )
    status = wait_for_job(client, job, timeout=120)
    logs = client.get_job_logs(job)
    assert status == JobStatus.FAILED
    lines = [line for line in logs.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("uctune: error:")]
    assert errors == [
        f"uctune: error: config file {config!r}: train.cv_folds: "
        "Input should be greater than or equal to 2 (got 1)"
    ], logs
    assert "Traceback" not in logs
    assert not out.exists()
    assert "exit code 2" in (client.get_job_info(job).message or "")
