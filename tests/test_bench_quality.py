"""The tuning-quality benchmark (issue 19): its --quick mode runs `uctune run` once and its JSON
holds every figure, each consistent with what the run wrote."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tests.benchmarks import load_benchmark, run_benchmark

FAMILIES = {"logistic_regression", "xgboost"}


def _bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_benchmark("bench_quality", *args, timeout=timeout)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark script as a module (its helpers, without running it)."""
    return load_benchmark("bench_quality")


@pytest.fixture(scope="module")
def rungs(bench: ModuleType) -> ModuleType:
    """benchmarks/_rungs.py, as the benchmark imported it."""
    return sys.modules[bench.rank_plan.__module__]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    base = tmp_path_factory.mktemp("bench-quality")
    out = base / "quality.json"
    proc = _bench("--quick", "--seeds", "42", "--keep", str(base / "keep"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), base / "keep" / "seed-42", proc.stdout


def _contains(d: dict) -> None:
    assert d["low"] <= d["point"] + 1e-12 and d["point"] <= d["high"] + 1e-12, d
    assert d["level"] == 0.95 and d["resamples"] > 900


@pytest.mark.slow
def test_quick_json_holds_every_figure(quick: tuple[dict, Path, str]) -> None:
    record, run_dir, stdout = quick
    assert record["benchmark"] == "quality"
    assert record["args"]["quick"] is True and record["args"]["bootstrap"] == 1000
    (run,) = record["runs"]
    assert run["seed"] == 42 and run["wall_seconds"] > 0
    assert sum(s or 0 for s in run["stages"].values()) <= run["wall_seconds"]
    assert {"train", "tune", "ensemble", "report", "register"} <= run["stages"].keys()
    results = json.loads((run_dir / "results.json").read_text())
    predictions = pd.read_csv(run_dir / "predictions.csv")
    y = predictions["upper_circuit"].to_numpy()
    assert run["test_rows"] == len(y) and run["test_positives"] == int(y.sum())
    assert run["trials_per_family"] == 3 and run["cv"]["n_folds"] == 3
    assert set(run["families"]) == FAMILIES

    for family, f in run["families"].items():
        for name, key in ((family, "untuned"), (f"{family}_tuned", "tuned")):
            p = predictions[name].to_numpy()
            assert f[key]["pr_auc"] == pytest.approx(average_precision_score(y, p))
            assert f[key]["roc_auc"] == pytest.approx(roc_auc_score(y, p))
            assert 0 < f[key]["pr_auc"] <= 1 and 0.5 < f[key]["roc_auc"] <= 1
        for metric in ("pr_auc", "roc_auc"):
            d = f["difference"][metric]
            assert d["point"] == pytest.approx(f["tuned"][metric] - f["untuned"][metric])
            _contains(d)
        assert f["verdict"] in {"better", "tie", "worse"}

        tuning = results["tuning"][family]
        curse = f["winners_curse"]
        assert curse["metric"] == tuning["metric"] == "pr_auc"
        assert curse["best_cv_score"] == tuning["best_score"]
        assert curse["gap"] == pytest.approx(tuning["best_score"] - f["tuned"]["pr_auc"])
        assert f["selection"] == tuning.get("selection")  # copied as it is (or absent: None)

        trials = pd.read_csv(run_dir / "tune" / family / "trials.csv")
        folds = trials.loc[trials["trial"] == tuning["best_trial"], ["fold_1", "fold_2", "fold_3"]]
        scores = folds.iloc[0].to_numpy(dtype=float)
        noise = f["cv_noise"]
        assert noise["trial"] == tuning["best_trial"] and noise["fold_scores"] == pytest.approx(
            scores.tolist()
        )
        assert noise["standard_error"] == pytest.approx(np.std(scores, ddof=1) / math.sqrt(3))

        rc = f["rank_correlation"]
        assert rc["sampled"] == len(rc["trials"]) <= 3
        assert rc["refit"] == sum(t["full_score_from"] == "refit" for t in rc["trials"])
        assert set(rc["rungs"]) == {"fold_1"}  # 2,000 rows: folds, not subsamples
        for rung in rc["rungs"].values():
            # Pruned trials are scored at every rung by their re-fit: no rung is survivors only.
            assert rung["trials"] == rc["sampled"]
            assert rung["rho"] is None or -1 <= rung["rho"] <= 1
        for t in rc["trials"]:
            assert t["status"] in {"completed", "pruned"} and 0 < t["full_score"] <= 1
            assert 0 < t["fold_1"] <= 1
            if t["full_score_from"] == "search":
                recorded = trials.loc[trials["trial"] == t["trial"], "score"].iloc[0]
                assert t["full_score"] == pytest.approx(recorded)
        if rc["refit"]:
            # A pruned trial's CV run again: its first fold is the one the search recorded.
            assert rc["rung_max_gap"] == pytest.approx(0, abs=1e-9)
        # The cheapest completed trial run again scores what the search recorded, at every rung:
        # the re-fits use the run's own rows, folds, params, seed and fidelity schedule.
        rep = f["reproduction"]
        assert rep["error"] is None and rep["gap"] == pytest.approx(0, abs=1e-9)
        assert rep["rung_max_gap"] == pytest.approx(0, abs=1e-9)

    ens = run["ensemble"]
    assert ens["present"] is True
    assert ens["pr_auc"] == pytest.approx(average_precision_score(y, predictions["ensemble"]))
    singles = [c for c in predictions.columns[predictions.columns.get_loc("upper_circuit") + 1 :]]
    singles.remove("ensemble")
    best = max(singles, key=lambda c: average_precision_score(y, predictions[c]))
    assert ens["best_single_by_test"]["model"] == best
    oof = pd.read_csv(run_dir / "oof.csv")
    by_oof = max(singles, key=lambda c: average_precision_score(oof["upper_circuit"], oof[c]))
    assert ens["best_single_by_oof"]["model"] == by_oof
    for key in ("best_single_by_test", "best_single_by_oof"):
        for metric in ("pr_auc", "roc_auc"):
            _contains(ens[key]["difference"][metric])
    assert run["registry_best"] == results["registry"]["best"]

    summary = record["summary"]
    assert summary["seeds"] == [42] and set(summary["families"]) == FAMILIES
    for family, s in summary["families"].items():
        f = run["families"][family]
        assert s["better"] + s["tie"] + s["worse"] == 1
        assert s["pr_auc_difference_mean"] == pytest.approx(f["difference"]["pr_auc"]["point"])
    for heading in ("tuned-untuned [95%]", "rung rho vs full CV", "summary over 1 run(s)"):
        assert heading in stdout


@pytest.mark.slow
def test_run_dir_analyses_a_finished_run_again(
    quick: tuple[dict, Path, str], tmp_path: Path
) -> None:
    record, run_dir, _ = quick
    out = tmp_path / "again.json"
    # --rank-sample 0: no rungs, so no re-fits and no Ray (the quick run covered those).
    args = ("--run-dir", str(run_dir), "--rank-sample", "0", "--bootstrap", "20")
    proc = _bench(*args, "--families", "xgboost", "--out", str(out), timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (again,) = json.loads(out.read_text())["runs"]
    (first,) = record["runs"]
    assert again["wall_seconds"] is None and again["run_dir"] == str(run_dir)
    assert list(again["families"]) == ["xgboost"]
    f, before = again["families"]["xgboost"], first["families"]["xgboost"]
    for key in ("untuned", "tuned", "winners_curse", "cv_noise", "selection"):
        assert f[key] == before[key]
    assert f["difference"]["pr_auc"]["point"] == before["difference"]["pr_auc"]["point"]
    assert f["difference"]["pr_auc"]["resamples"] <= 20
    assert "rank_correlation" not in f and "reproduction" not in f
    assert again["ensemble"]["best_single_by_test"] == {
        **first["ensemble"]["best_single_by_test"],
        "difference": again["ensemble"]["best_single_by_test"]["difference"],
    }


def test_trials_csv_cells_are_cast_by_the_search_space(rungs: ModuleType) -> None:
    from optuna.distributions import CategoricalDistribution as Cat
    from optuna.distributions import FloatDistribution, IntDistribution

    assert rungs.cast_param("n", 120.0, IntDistribution(50, 300)) == 120
    assert type(rungs.cast_param("n", "120", IntDistribution(50, 300))) is int
    assert rungs.cast_param("lr", "0.05", FloatDistribution(0.01, 0.3)) == 0.05
    features = Cat(["sqrt", "log2", 0.25, 0.5])
    assert rungs.cast_param("f", "0.25", features) == 0.25
    assert rungs.cast_param("f", "sqrt", features) == "sqrt"
    assert rungs.cast_param("b", 128, Cat([64, 128, 256])) == 128
    assert rungs.cast_param("w", "None", Cat([None, "balanced"])) is None
    assert rungs.cast_param("n", float("nan"), IntDistribution(1, 5)) is rungs.MISSING
    with pytest.raises(ValueError, match=r"param_n must hold an integer, got 1\.5"):
        rungs.cast_param("n", 1.5, IntDistribution(1, 5))
    with pytest.raises(ValueError, match=r"param_f must be one of .*got 'auto'"):
        rungs.cast_param("f", "auto", features)
    row = {"param_n_estimators": 80.0, "param_max_features": "0.5", "param_max_depth": np.nan}
    params = rungs.trial_params(
        "random_forest", row, fixed={"min_samples_leaf": 3}, unsearched={"nope": 1}
    )
    assert params == {"n_estimators": 80, "max_features": 0.5, "min_samples_leaf": 3}


def test_a_table_with_holdout_rows_is_refused(bench: ModuleType) -> None:
    dates = pd.Series(pd.to_datetime(["2026-04-30", "2026-07-15"]))
    run = SimpleNamespace(table=SimpleNamespace(date_column="announcement_date", dates=dates))
    with pytest.raises(SystemExit, match="1 rows dated 2026-07-01 to 2026-09-01"):
        bench._check_holdout(run, Path("somewhere"))
    run.table.dates = dates.iloc[:1]
    bench._check_holdout(run, Path("somewhere"))  # before the holdout: scored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--families", "xgboost,catboost"], "unknown family 'catboost'"),
        (["--data", "absent.parquet"], "--data must be an existing table file"),
        (["--run-dir", "absent"], "--run-dir must be a finished uctune run"),
        (["--bootstrap", "5"], "--bootstrap must be at least 20, got 5"),
        (["--seeds", "4x"], "--seeds must be comma-separated integers"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    args: list[str], message: str, tmp_path: Path
) -> None:
    out = tmp_path / "quality.json"
    proc = _bench(*args, "--out", str(out), timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not out.exists()


def test_pruned_trials_are_scored_at_every_rung_by_their_refit(rungs: ModuleType) -> None:
    nan = float("nan")
    rows = {
        0: {"status": "completed", "score": 0.60, "subsample_1": 0.50, "fold_1": 0.61},
        1: {"status": "completed", "score": 0.70, "subsample_1": 0.55, "fold_1": 0.72},
        2: {"status": "pruned", "score": 0.40, "subsample_1": 0.40, "fold_1": nan},
        3: {"status": "pruned", "score": 0.45, "subsample_1": 0.45, "fold_1": nan},
    }
    refits = {
        2: {"score": 0.65, "rungs": {"subsample_1": 0.40, "fold_1": 0.66}, "error": None},
        3: {"score": 0.50, "rungs": {"subsample_1": 0.45 + 1e-3, "fold_1": 0.52}, "error": None},
    }
    out = rungs.rank_correlation([0, 1, 2, 3], rows, refits, ["subsample_1", "fold_1"], "pr_auc")
    assert out["sampled"] == 4 and out["refit"] == 2
    # full scores 0.60, 0.70, 0.65, 0.50; fold_1 0.61, 0.72, 0.66 (refit), 0.52 (refit)
    assert out["rungs"]["fold_1"] == {"rho": pytest.approx(1.0), "trials": 4}
    assert out["rungs"]["subsample_1"]["trials"] == 4
    assert out["rungs"]["subsample_1"]["rho"] == pytest.approx(0.4)  # ranks 3 4 1 2 vs 2 4 3 1
    assert out["rung_max_gap"] == pytest.approx(1e-3)  # the recorded rung against the refit's
    assert [t["full_score_from"] for t in out["trials"]] == ["search", "search", "refit", "refit"]
