"""The installed `uctune` console script, as a user runs it: a fresh process with its own Ray."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.invoke import uctune

pytestmark = pytest.mark.slow


def test_run_in_a_fresh_process(cli_run):
    out = cli_run.out
    assert "logistic_regression" in cli_run.stdout and "xgboost" in cli_run.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["execution"]["cpus"] == 2
    assert set(results["families"]) == {"logistic_regression", "xgboost"}
    # --families also chooses what the tune stage tunes.
    assert set(results["tuning"]) == {"logistic_regression", "xgboost"}
    assert all(t["n_trials"] == 2 for t in results["tuning"].values())
    from uctune.workflow import STAGES

    assert list(results["stages"]) == list(STAGES)  # train, tune, ensemble, report, register
    assert "xgboost best params:" in cli_run.stdout
    assert "ensemble (" in cli_run.stdout
    assert set(results["registry"]["models"]) == {
        "logistic_regression_tuned",
        "xgboost_tuned",
        "ensemble",
    }


def test_bad_input_in_a_fresh_process(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,eps_qoq,upper_circuit\nA,1.0,yes\nB,2.0,0\n")
    proc = subprocess.run(
        [*uctune(), "train", "--data", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "uctune: error: label column 'upper_circuit' must hold only 0/1, got values {'yes'}"
    )
    assert not (tmp_path / "o").exists()


def test_unreachable_cluster_fails_fast_in_one_line(tmp_path, tiny_csv):
    out = tmp_path / "r"
    proc = subprocess.run(
        [
            *uctune(),
            "train",
            "--data",
            str(tiny_csv),
            "--address",
            "127.0.0.1:9",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("uctune: error:")]
    assert errors == [proc.stderr.splitlines()[-1]]
    assert errors[0].startswith("uctune: error: cannot connect to Ray at '127.0.0.1:9': ")
    assert not out.exists()
    assert f"run: {out}" not in proc.stderr  # no run named that was never kept
