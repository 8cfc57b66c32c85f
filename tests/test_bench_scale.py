"""The scale benchmark's --quick mode: it runs `uctune run` and its JSON holds every promised figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_scale.py"


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, str]:
    base = tmp_path_factory.mktemp("bench-scale")
    out = base / "scale.json"
    proc = _bench("--quick", "--out", str(out), "--keep", str(base / "keep"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((base / "keep" / "run" / "results.json").read_text())
    return json.loads(out.read_text()), results, proc.stdout


@pytest.mark.slow
def test_quick_json_has_every_figure(quick: tuple[dict, dict, str]) -> None:
    record, results, stdout = quick
    assert record["benchmark"] == "scale"
    assert record["complete"] is True
    assert record["families"] == ["logistic_regression", "xgboost"]
    assert record["data"]["rows"] == 2_000
    assert 0 < record["data"]["positive_rate"] < 0.5
    wall = record["wall_seconds"]
    assert wall > 0
    assert {"train", "tune", "report"} <= record["stages"].keys()
    assert sum(record["stages"].values()) <= wall
    assert set(record["tuning"]) == {"logistic_regression", "xgboost"}
    for family, f in record["tuning"].items():
        # The figures are the run's own, read from its results.json.
        assert f["wall_seconds"] == results["tuning"][family]["wall_seconds"]
        assert f["trials"] == 3
        assert f["completed"] >= 1
        assert f["finished"] and f["completed"] + f["pruned"] + f["failed"] == 3
        assert len(f["trial_seconds"]) == 3 and all(0 < t < wall for t in f["trial_seconds"])
        assert 0 < f["best_cv_score"] <= 1
        assert 0 < f["holdout_pr_auc"] <= 1
        assert f["fit_cpu_seconds"] > 0
        # 2,000 rows: folds, not subsamples (budget = folds reached).
        assert set(f["budgets"]) <= {"1", "2", "3"} and sum(f["budgets"].values()) == 3
    # The families' searches are one experiment inside the tune stage.
    search = record["search"]
    walls = {f["wall_seconds"] for f in record["tuning"].values()}
    assert walls == {search["wall_seconds"]} and search["wall_seconds"] <= record["stages"]["tune"]
    assert search["fit_cpu_seconds"] == pytest.approx(
        sum(f["fit_cpu_seconds"] for f in record["tuning"].values())
    )
    assert search["ideal_seconds"] == pytest.approx(search["fit_cpu_seconds"] / os.cpu_count())
    # The fits cannot take less wall time than their CPU time spread over every core.
    assert search["overhead"] > 0.95
    assert "ideal bound" in stdout

    memory = record["memory"]
    assert 100 < memory["driver_peak_mib"] < 4096  # the driver imports pandas, Ray and the models
    assert memory["workers"], "no Ray worker was sampled"
    assert memory["worker_peak_mib"] == max(w["peak_mib"] for w in memory["workers"])
    assert all(w["peak_mib"] > 0 and w["names"] for w in memory["workers"])
    # Only processes the run started: never this test's own process or anything older.
    pids = {memory["driver_pid"], *(w["pid"] for w in memory["workers"])}
    assert os.getpid() not in pids and len(pids) == len(memory["workers"]) + 1
    assert memory["tree_peak_mib"] >= max(memory["driver_peak_mib"], memory["worker_peak_mib"])

    cpu = record["cpu"]
    assert cpu["cores"] == os.cpu_count()
    assert cpu["busy_core_seconds"] == pytest.approx(sum(cpu["by_kind"].values()))
    assert cpu["by_kind"]["worker"] > 0 and cpu["by_kind"]["driver"] > 0
    # Sampled CPU time cannot exceed what the cores could give in the wall time (plus one tick).
    assert 0 < cpu["utilisation"] <= 1.05
    assert cpu["samples"] >= wall / cpu["interval_seconds"] / 2

    assert "holdout PR-AUC" in stdout and "busy core-seconds" in stdout


def test_unknown_family_is_refused_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    proc = _bench("--families", "xgboost,catboost", "--out", str(out), timeout=60)
    assert proc.returncode == 2
    assert "unknown family 'catboost'" in proc.stderr
    assert not out.exists()


def test_missing_data_file_is_refused(tmp_path: Path) -> None:
    proc = _bench("--data", str(tmp_path / "absent.parquet"), timeout=60)
    assert proc.returncode == 2
    assert "--data must be an existing table file" in proc.stderr


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_time_limit_interrupts_the_run_and_leaves_no_process(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    proc = _bench("--quick", "--time-limit", "15", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "stopped by --time-limit 15s" in proc.stdout
    record = json.loads(out.read_text())
    assert record["complete"] is False
    assert 15 <= record["wall_seconds"] < 15 + 2 * 60 + 30
    memory = record["memory"]
    pids = [memory["driver_pid"], *(p["pid"] for p in memory["ray_system"])]
    pids += [w["pid"] for w in memory["workers"]]
    assert len(pids) > 1, "the sampler saw none of Ray's processes"
    # The interrupted run shuts its Ray down: nothing it started is left running.
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [p for p in pids if _alive(p)]
