"""A worker node dies in the middle of a tuning search (its raylet killed by pid): the search finishes
on the nodes that are left, keeps every finished trial, and retries the trials that were killed."""

from __future__ import annotations

import json
import subprocess
import time

import pandas as pd
import pytest
import yaml

from tests.cluster.conftest import driver_env, nodes_running_trials, started_cluster
from tests.e2e.test_tune_resume import _finished, _finished_trials
from tests.invoke import uctune

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TRIALS = 9


@pytest.fixture()
def slow_trials_csv(tmp_path):
    """Rows enough that a trial (three folds of a 300-tree booster) takes seconds: when the node
    dies, each node is busy with a trial."""
    from uctune.data import generate

    frame, _ = generate(4000, seed=11)
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_search_survives_a_worker_node_killed_mid_way(slow_trials_csv, tmp_path):
    config = tmp_path / "tune.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": str(slow_trials_csv),
                "train": {"cv_folds": 3},
                "tune": {
                    "families": ["xgb"],
                    "trials": TRIALS,
                    "pruning": False,
                    "max_failures": 2,
                    "params": {"xgboost": {"n_estimators": 300}},
                },
            }
        )
    )
    out = tmp_path / "run"
    study = out / "tune" / "xgboost" / "study.db"
    with started_cluster(tmp_path, workers=2) as cluster:
        victim = cluster.worker_nodes[0]
        log = (tmp_path / "driver.log").open("w")
        driver = subprocess.Popen(
            [*uctune(), "tune", "--config", str(config), "--out", str(out)],
            env=driver_env(cluster, UCTUNE_REGISTRY=str(tmp_path / "registry")),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 240
            while _finished(study) < 2 and driver.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            # Killed between two trials (its next one not yet started), the node would take no
            # trial down with it: wait until it is running one.
            while victim.node_id not in nodes_running_trials(cluster) and driver.poll() is None:
                assert time.monotonic() < deadline, "no trial ran on the worker node"
                time.sleep(0.1)
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()
            before = _finished_trials(study)
            cluster.kill_raylet(victim)
            code = driver.wait(timeout=400)
        finally:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
            log.close()
        assert victim.node_id not in {n.node_id for n in cluster.nodes}
    assert code == 0, (tmp_path / "driver.log").read_text()

    after = _finished_trials(study)
    for number, record in before.items():
        assert after[number] == record, f"trial {number} was run again"
    trials = pd.read_csv(out / "tune" / "xgboost" / "trials.csv")
    assert len(trials) == TRIALS and trials["trial"].is_unique
    assert (trials["status"] == "completed").all()
    # The trials that were running on the dead node ran again, elsewhere, and are counted.
    retried = trials[trials["attempts"] > 1]
    assert len(retried) >= 1
    assert victim.node_id not in set(retried["node"])
    results = json.loads((out / "results.json").read_text())
    assert results["tuning"]["xgboost"]["retried"] == len(retried)
    assert results["tuning"]["xgboost"]["completed"] == TRIALS
    assert (out / "models" / "xgboost_tuned.joblib").is_file()
