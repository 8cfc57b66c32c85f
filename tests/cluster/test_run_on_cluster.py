"""`uctune run --address` against a real three-node Ray: folds and trials land on every node, the
numbers equal a local run's, and only the driver writes the registry and the report."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import yaml

from tests.cluster.conftest import driver_env
from tests.invoke import uctune

pytestmark = [pytest.mark.slow, pytest.mark.ray]

# Small but complete: two families trained, both tuned (three trials each: one per node at once),
# a report without bootstrap intervals, and the register stage.
RUN = {
    "seed": 42,
    "train": {"families": ["lr", "xgb"], "cv_folds": 3},
    "tune": {"families": ["lr", "xgb"], "trials": 3, "pruning": False},
    "report": {"bootstrap": 0, "shap_rows": 40, "background_size": 20},
}


def write_config(path, data, **changes) -> str:
    config = {**RUN, "data": str(data), **changes}
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def seconds_per_trial_csv(tmp_path_factory):
    """Rows enough that an XGBoost trial of 800 deep trees takes longer than a trial actor's start
    (a fresh worker process, about 3 s): three trials then start together on the three nodes,
    where shorter ones would all be served by the first actors up."""
    from uctune.data import generate

    frame, _ = generate(3000, seed=5)
    path = tmp_path_factory.mktemp("data") / "events.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_run_uses_every_node_and_matches_a_local_run(
    multinode, workers_registry, seconds_per_trial_csv, tmp_path
):
    out, registry = tmp_path / "run", tmp_path / "registry"
    tune = {**RUN["tune"], "params": {"xgboost": {"n_estimators": 800, "max_depth": 10}}}
    config = write_config(tmp_path / "run.yaml", seconds_per_trial_csv, tune=tune)
    proc = subprocess.run(
        [*uctune(), "run", "--config", config, "--out", str(out), "--address", multinode.address],
        env=driver_env(multinode, UCTUNE_REGISTRY=str(registry)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ray: 3 CPUs on 3 nodes" in proc.stderr
    results = json.loads((out / "results.json").read_text())
    nodes = {n.node_id for n in multinode.nodes}
    assert len(nodes) == 3
    assert {n["node_id"] for n in results["execution"]["nodes"]} == nodes
    assert results["execution"]["address"] == multinode.address

    # Every node fitted folds; every fold and refit names a node of the cluster.
    families = results["families"]
    fits = [f["node"] for fam in families.values() for f in fam["cv"]["folds"]]
    fits += [fam["refit_node"] for fam in families.values()]
    assert set(fits) == nodes

    # Every node ran XGBoost trials (the logistic regression's are too short to be spread: see
    # the data fixture); trials.csv and results.json say which node ran which trial.
    for family in ("logistic_regression", "xgboost"):
        trials = pd.read_csv(out / "tune" / family / "trials.csv")
        ran_on = set(trials["node"])
        assert ran_on == nodes if family == "xgboost" else ran_on <= nodes, family
        assert results["tuning"][family]["nodes"] == trials["node"].value_counts().to_dict()
        assert set(results["tuning"][family]["refit"]["cv"]["folds"][0]) >= {"node"}

    # The same numbers as the very same fits run one after another in one process, without Ray.
    from uctune.config import load_config
    from uctune.workflow import execute_stages, start_run

    local = start_run(
        load_config(config), command="train", out=tmp_path / "local", backend="sequential"
    )
    execute_stages(local, ["train"], fresh=True)
    for family, fam in local.results["families"].items():
        assert families[family]["cv"]["mean"] == pytest.approx(fam["cv"]["mean"], rel=1e-9)
        assert families[family]["threshold"] == pytest.approx(fam["threshold"], rel=1e-9)
        for at, scores in fam["holdout"].items():
            assert families[family]["holdout"][at] == pytest.approx(scores, rel=1e-9)

    # Only the driver wrote the registry and the report; no process on a node wrote a registry.
    assert (registry / "registry.db").is_file()
    assert set(results["registry"]["models"]) == {
        "logistic_regression_tuned",
        "xgboost_tuned",
        "ensemble",
    }
    assert (out / results["report"]["html"]).is_file()
    assert not workers_registry.exists()


def test_device_cuda_on_a_cluster_without_gpus_is_refused_at_once(multinode, tiny_csv, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            *uctune(),
            "run",
            "--data",
            str(tiny_csv),
            "--device",
            "cuda",
            "--out",
            str(out),
            "--address",
            multinode.address,
        ],
        env=driver_env(multinode, UCTUNE_REGISTRY=str(tmp_path / "registry")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "uctune: error: device 'cuda' (for xgboost) asks Ray for 1 GPU(s) per fit, but the cluster "
        "(3 node(s)) has no GPU; use --device cpu or a cluster with GPUs"
    )
    assert not out.exists()
    assert not (tmp_path / "registry").exists()
