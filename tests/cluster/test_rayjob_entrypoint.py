"""The Kubernetes batch job without Kubernetes: the RayJob's `entrypoint` and `runtimeEnvYAML`, as
`kubectl apply -k k8s/job` creates them, submitted to the multi-node cluster through the Jobs API as KubeRay's
submitter does, with the pod's mounts (/etc/uctune, /mnt/uctune, /opt/uctune/data) mapped to a
temporary directory."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.cluster.conftest import job_client, wait_for_job
from tests.k8s.schemas import K8S_DIR, kustomize, load_manifest

pytestmark = [pytest.mark.slow, pytest.mark.ray]

MOUNTS = ("/etc/uctune", "/mnt/uctune", "/opt/uctune/data")


def test_the_rayjob_entrypoint_runs_on_the_cluster(multinode, workers_registry, run_csv, tmp_path):
    from ray.job_submission import JobStatus

    def mapped(text: str) -> str:
        for mount in MOUNTS:
            text = text.replace(mount, str(tmp_path / mount.strip("/")))
        return text

    (built,) = [o for o in kustomize(K8S_DIR / "job") if o["kind"] == "RayJob"]
    rayjob = built["spec"]
    configmap = load_manifest("configmap.yaml")
    # The ConfigMap's run config, scaled down to the tiny data (fewer families and trials); its
    # paths (data, output_dir, registry) stay as written, under the mapped mounts.
    config = yaml.safe_load(configmap["data"]["run.yaml"])
    config["train"].update(families=["lr", "xgb"], cv_folds=3)
    config["tune"].update(families=["xgboost"], trials=2)
    config["report"].update(bootstrap=0, shap_rows=40, background_size=20)
    etc = tmp_path / "etc" / "uctune"
    etc.mkdir(parents=True)
    (etc / "run.yaml").write_text(mapped(yaml.safe_dump(config)))
    data = tmp_path / "opt" / "uctune" / "data"
    data.mkdir(parents=True)
    shutil.copy(run_csv, data / "events.csv")

    client = job_client(multinode)
    job = client.submit_job(
        entrypoint=mapped(rayjob["entrypoint"]),
        runtime_env=yaml.safe_load(mapped(rayjob["runtimeEnvYAML"])),
    )
    status = wait_for_job(client, job)
    logs = client.get_job_logs(job)
    assert status == JobStatus.SUCCEEDED, logs

    mnt = tmp_path / "mnt" / "uctune"
    run_dir = mnt / "runs" / built["metadata"]["name"]  # the RayJob's name names the run
    assert f"run: {run_dir}" in logs and "Traceback" not in logs
    results = json.loads((run_dir / "results.json").read_text())
    assert results["data"]["source"] == f"data file {str(data / 'events.csv')!r}"
    assert all(s["status"] == "done" for s in results["stages"].values())
    assert len(results["execution"]["nodes"]) == 3
    # The runs and the registry are on the volume, where the manifests put them.
    assert results["registry"]["path"] == str(mnt / "registry")
    assert (mnt / "registry" / "registry.db").is_file()
    assert (run_dir / results["report"]["html"]).is_file()
    assert not workers_registry.exists()

    # A retry (backoffLimit), or the RayJob applied again, runs the same entrypoint: it finds the
    # finished run and leaves it as it is, registering nothing twice.
    models = {p.name: p.stat().st_mtime_ns for p in (run_dir / "models").iterdir()}
    registry = (mnt / "registry" / "registry.db").read_bytes()
    again = client.submit_job(
        entrypoint=mapped(rayjob["entrypoint"]),
        runtime_env=yaml.safe_load(mapped(rayjob["runtimeEnvYAML"])),
    )
    assert wait_for_job(client, again) == JobStatus.SUCCEEDED, client.get_job_logs(again)
    assert f"run: {run_dir} (resumed)" in client.get_job_logs(again)
    assert {p.name: p.stat().st_mtime_ns for p in (run_dir / "models").iterdir()} == models
    assert (mnt / "registry" / "registry.db").read_bytes() == registry
