"""A tuning run killed for real (SIGKILL of the `uctune tune` process) and resumed with --resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import optuna
import pandas as pd
import pytest

from tests.invoke import uctune
from uctune.cli.main import main
from uctune.models import get_spec
from uctune.tuning import STUDY_FILE

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TRIALS = 8


def _finished(study_path) -> int:
    if not study_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{study_path}?mode=ro", uri=True, timeout=5) as db:
            (n,) = db.execute(
                "SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED', 'FAIL')"
            ).fetchone()
        return int(n)
    except sqlite3.Error:  # the tables are being created
        return 0


def _finished_trials(study_path) -> dict[int, tuple]:
    study = optuna.load_study(study_name="xgboost", storage=f"sqlite:///{study_path}")
    return {
        t.number: (t.state, t.params, t.value, t.datetime_start, t.datetime_complete)
        for t in study.get_trials(deepcopy=False)
        if t.state.is_finished()
    }


def test_a_killed_run_resumes_without_repeating_finished_trials(
    capsys, ray_cluster, tiny_csv, tmp_path
):
    import ray

    out = tmp_path / "run"
    study_path = out / "tune" / "xgboost" / STUDY_FILE
    log = (tmp_path / "killed.log").open("w")
    # The process joins this session's Ray, so killing it leaves the cluster to the resumed run.
    proc = subprocess.Popen(
        [
            *uctune(),
            "tune",
            "--data",
            str(tiny_csv),
            "--model",
            "xgb",
            "--trials",
            str(TRIALS),
            "--folds",
            "3",
            "--out",
            str(out),
            # Ray Tune's experiment through a pyarrow URI, as on a cluster with shared storage.
            "--storage",
            f"file://{tmp_path / 'store'}",
            "--address",
            ray.get_runtime_context().gcs_address,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while _finished(study_path) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    before = _finished_trials(study_path)
    assert 3 <= len(before) < TRIALS

    code = main(["tune", "--resume", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "(resumed)" in err

    after = _finished_trials(study_path)
    for number, record in before.items():
        assert after[number] == record, f"trial {number} was run again"
    trials = pd.read_csv(out / "tune" / "xgboost" / "trials.csv")
    assert len(trials) == TRIALS and trials["trial"].is_unique
    assert set(before) <= set(trials["trial"])
    # The search went on from the same study: its history (TPE's input) holds the trials from
    # before the kill, and the family's defaults (the first trial) were evaluated once.
    study = optuna.load_study(study_name="xgboost", storage=f"sqlite:///{study_path}")
    defaults = {k: get_spec("xgboost").defaults[k] for k in get_spec("xgboost").search_space}
    kept = set(trials["trial"])
    assert len([t for t in study.trials if t.params == defaults and t.number in kept]) == 1
    configs = [json.dumps(t.params, sort_keys=True) for t in study.trials if t.number in kept]
    assert len(set(configs)) == len(configs), "a configuration was evaluated twice"
    results = json.loads((out / "results.json").read_text())
    assert results["stages"]["tune"]["status"] == "done"
    assert (tmp_path / "store" / "run" / "ray" / "tuner.pkl").is_file()
    assert results["tuning"]["xgboost"]["n_trials"] == TRIALS
    assert (out / "models" / "xgboost_tuned.joblib").is_file()
    assert os.path.getsize(out / "tune" / "xgboost" / "best_params.json") > 0
