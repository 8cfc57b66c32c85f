"""The AutoGluon peer benchmark (issue 19, item 6) on a real, small `uctune train` run: the run's
split rebuilt and checked against its predictions, the comparison and its intervals on known
probabilities, and the one-line refusals, none of which needs AutoGluon. Where .venv-peers exists
(`make bench-peers` makes it) AutoGluon is also fitted for real, end to end; CI has no .venv-peers
(AutoGluon's pins clash with uctune's, so it never enters uctune's venv) and reports those tests
as skipped, saying why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from tests.benchmarks import load_benchmark, run_benchmark

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".venv-peers" / "bin" / "python"
LABEL = "upper_circuit"
needs_peers = pytest.mark.skipif(
    not PEERS.is_file(),
    reason="no .venv-peers with AutoGluon here (CI never has one: AutoGluon's pins clash with "
    "uctune's); `make bench-peers` creates it, and then this test fits AutoGluon for real",
)


def _bench(
    *args: str, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_benchmark("bench_peers", *args, timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark script as a module (its helpers, without running it)."""
    return load_benchmark("bench_peers")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished `uctune train` run (time split) on 600 synthetic events: logistic regression,
    2 walk-forward folds, no Ray; a few seconds."""
    from uctune.data import generate

    base = tmp_path_factory.mktemp("bench-peers")
    data = base / "events.csv"
    generate(600, seed=3)[0].to_csv(data, index=False)
    command = [sys.executable, "-m", "uctune", "train", "--sequential", "--families", "lr"]
    command += ["--folds", "2", "--split", "time", "--data", str(data), "--out", str(base / "run")]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return base / "run"


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def _refusal(capsys: pytest.CaptureFixture[str], excinfo: pytest.ExceptionInfo[SystemExit]) -> str:
    """The one line a refusal printed (and nothing on stdout)."""
    assert excinfo.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("bench_peers: ")
    return err.strip()


# -- the split -----------------------------------------------------------------------------------


def test_the_split_rebuilt_from_the_table_is_the_runs(bench: ModuleType, run_dir: Path) -> None:
    run = bench.read_run(run_dir)
    table, path = bench.load_table(run, None)  # the table the run recorded
    assert path == Path(run.config.data)
    split = bench.rebuild_split(run, table, str(path))
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert split.test.tolist() == predictions["row"].tolist()
    results = json.loads((run_dir / "results.json").read_text())
    assert len(split.train) == results["split"]["train_rows"]
    assert len(split.test) == results["split"]["test_rows"]
    assert sorted([*split.train, *split.test]) == list(range(600))
    dates = table.dates
    assert dates.iloc[split.train].max() <= dates.iloc[split.test].min()  # the latest 20 %
    assert bench.run_wall_seconds(run) == pytest.approx(results["stages"]["train"]["seconds"])


def test_predictions_of_other_rows_or_labels_are_refused(
    bench: ModuleType, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = bench.read_run(run_dir)
    table, path = bench.load_table(run, None)
    predictions = run.predictions

    def refusal(frame: pd.DataFrame) -> str:
        altered = bench.Run(run.run_dir, run.results, run.config, frame, run.oof, run.stages)
        with pytest.raises(SystemExit) as excinfo:
            bench.rebuild_split(altered, table, str(path))
        return _refusal(capsys, excinfo)

    n = len(predictions)
    message = refusal(predictions.iloc[1:])
    assert (
        f"holds {n - 1} rows, the time split, test_size 0.2, seed 42 of {path} {n} test" in message
    )
    shifted = predictions.assign(row=predictions["row"] - 1)
    assert "holds 1 rows outside the time split" in refusal(shifted)
    assert f"(table row {predictions['row'].min() - 1} first)" in refusal(shifted)
    flipped = predictions.copy()
    flipped.loc[3, LABEL] = 1 - flipped.loc[3, LABEL]
    row = int(predictions.loc[3, "row"])
    message = refusal(flipped)
    assert f"'upper_circuit' of table row {row} is {flipped.loc[3, LABEL]}" in message
    assert "(1 rows differ): not the data the run was trained on" in message

    # Another table with the same number of rows: its labels and ids are not the run's.
    from uctune.data import generate

    other = tmp_path / "other.csv"
    generate(600, seed=4)[0].to_csv(other, index=False)
    other_table, _ = bench.load_table(run, other)
    with pytest.raises(SystemExit) as excinfo:
        bench.rebuild_split(run, other_table, str(other))
    assert "not the data the run was trained on" in _refusal(capsys, excinfo)


# -- the comparison ------------------------------------------------------------------------------


def test_the_comparison_scores_both_on_the_same_rows_with_paired_intervals(
    bench: ModuleType,
) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    ranks = y + rng.normal(0, 0.3, 400)  # a good model
    sharp = 1 / (1 + np.exp(-4 * ranks))
    noise = rng.random(400)  # no skill
    roles = {"sharp": ["registered best"], "noise": []}
    out = bench.compare(y, noise, {"sharp": sharp, "noise": noise}, roles, resamples=200, seed=0)
    assert out["autogluon"] == {
        "pr_auc": pytest.approx(average_precision_score(y, noise)),
        "roc_auc": pytest.approx(roc_auc_score(y, noise)),
    }
    good = out["uctune"]["sharp"]
    assert good["roles"] == ["registered best"]
    assert good["pr_auc"] == pytest.approx(average_precision_score(y, sharp))
    for metric, score in (("pr_auc", average_precision_score), ("roc_auc", roc_auc_score)):
        d = good["minus_autogluon"][metric]
        assert d["point"] == pytest.approx(score(y, sharp) - score(y, noise))  # uctune - peer
        assert 0 < d["low"] <= d["point"] <= d["high"]
        assert d["level"] == 0.95 and d["resamples"] == 200
    assert good["verdict"] == "better"
    same = out["uctune"]["noise"]["minus_autogluon"]["pr_auc"]
    assert (same["point"], same["low"], same["high"]) == (0, 0, 0)
    assert out["uctune"]["noise"]["verdict"] == "tie"
    # The peer better than uctune's model: worse, beyond the interval.
    flipped = bench.compare(y, sharp, {"noise": noise}, {}, resamples=200, seed=0)
    assert flipped["uctune"]["noise"]["verdict"] == "worse"
    # Seeded: the same seed resamples the same rows.
    again = bench.compare(y, noise, {"sharp": sharp}, roles, resamples=200, seed=0)
    other = bench.compare(y, noise, {"sharp": sharp}, roles, resamples=200, seed=1)
    assert again["uctune"]["sharp"] == good
    assert other["uctune"]["sharp"]["minus_autogluon"] != good["minus_autogluon"]


def test_the_runs_models_put_against_the_peer(bench: ModuleType, run_dir: Path) -> None:
    run = bench.read_run(run_dir)
    assert bench.uctune_models(run, LABEL) == {"logistic_regression": ["best single, OOF"]}
    # A run with a registered ensemble, two single models and out-of-fold predictions: the
    # single model picked by its out-of-fold PR-AUC, though the other scores better on test.
    y = np.array([0, 0, 1, 1, 0, 1])
    predictions = pd.DataFrame(
        {
            "row": range(6),
            LABEL: y,
            "a": [0.1, 0.2, 0.9, 0.8, 0.3, 0.7],  # perfect on test
            "b": [0.1, 0.6, 0.5, 0.8, 0.3, 0.7],
            "ensemble": [0.1, 0.3, 0.8, 0.8, 0.3, 0.7],
        }
    )
    oof = pd.DataFrame(
        {"row": range(4), "fold": 0, LABEL: [0, 1, 0, 1], "a": [0.6, 0.4, 0.1, 0.9]}
    ).assign(b=[0.1, 0.9, 0.2, 0.8])
    results = {"registry": {"best": {"model_name": "ensemble"}}}
    ensembled = bench.Run(run_dir, results, run.config, predictions, oof, run.stages)
    assert bench.uctune_models(ensembled, LABEL) == {
        "ensemble": ["registered best"],
        "b": ["best single, OOF"],
    }
    unregistered = bench.Run(run_dir, {}, run.config, predictions, None, run.stages)
    assert bench.uctune_models(unregistered, LABEL) == {
        "a": ["best single, by test"],
        "ensemble": [],
    }


# -- refusals ------------------------------------------------------------------------------------


def test_bad_input_is_refused_in_one_line(
    bench: ModuleType, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "peers.json"
    run = str(run_dir)

    def refusal(*args: str) -> str:
        with pytest.raises(SystemExit) as excinfo:
            bench.main([*args, "--json", str(out)])
        return _refusal(capsys, excinfo)

    absent = str(tmp_path / "absent")
    assert refusal("--run-dir", absent) == f"bench_peers: --run-dir {absent!r} does not exist"
    assert "is not a uctune run directory (no results.json)" in refusal("--run-dir", str(tmp_path))
    bare = _copy(run_dir, tmp_path)
    (bare / "predictions.csv").unlink()
    assert "has no predictions.csv: its train stage has not finished" in refusal(
        "--run-dir", str(bare)
    )
    assert "--time-limit must be a positive number of seconds, got -5" in refusal(
        "--run-dir", run, "--time-limit", "-5"
    )
    assert "--bootstrap must be at least 20, got 5" in refusal("--run-dir", run, "--bootstrap", "5")
    no_python = str(tmp_path / "venv" / "bin" / "python")
    message = refusal("--run-dir", run, "--peers-python", no_python)
    assert f"--peers-python {no_python!r} does not exist; `make bench-peers` creates" in message
    # uctune's own interpreter is a real Python without AutoGluon.
    message = refusal("--run-dir", run, "--peers-python", sys.executable)
    assert "has no AutoGluon; `make bench-peers` creates .venv-peers" in message
    # An unfinished run has no wall time to give AutoGluon.
    unfinished = bare.parent / "unfinished"
    shutil.copytree(run_dir, unfinished)
    results = json.loads((unfinished / "results.json").read_text())
    results["stages"]["tune"] = {"status": "started"}
    (unfinished / "results.json").write_text(json.dumps(results))
    message = refusal("--run-dir", str(unfinished))
    assert "did not finish (stages: train done, tune started)" in message
    assert "pass --time-limit SECONDS" in message
    assert not out.exists()


def test_the_command_line_refusal_is_one_line_and_exit_2(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    absent = tmp_path / "absent" / "python"
    proc = _bench("--run-dir", str(run_dir), "--peers-python", str(absent), "--json", str(out))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"bench_peers: --peers-python {str(absent)!r} does not exist; `make bench-peers` creates "
        ".venv-peers with AutoGluon (the peers extra of pyproject.toml), or pass --peers-python"
    ]
    assert not out.exists()


# -- AutoGluon for real (only where .venv-peers exists) -------------------------------------------


@needs_peers
@pytest.mark.slow
def test_autogluon_fitted_end_to_end_against_the_run(run_dir: Path, tmp_path: Path) -> None:
    # medium_quality: no bagging, so no DyStack and no Ray start-up eating a short time limit
    # (best_quality's path is the benchmark's default, checked by hand: see the README).
    out = tmp_path / "peers.json"
    args = ("--presets", "medium_quality", "--time-limit", "20", "--json", str(out))
    proc = _bench("--run-dir", str(run_dir), *args, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "AutoGluon training complete" in log  # its log streamed through
    record = json.loads(out.read_text())
    assert record["benchmark"] == "peers"
    ag = record["autogluon"]
    assert ag["version"].startswith("1.6") and ag["presets"] == "medium_quality"
    assert ag["time_limit"] == 20 and ag["time_limit_from"] == "--time-limit"
    results = json.loads((run_dir / "results.json").read_text())
    assert ag["train_rows"] == record["split"]["train_rows"] == results["split"]["train_rows"]
    assert ag["test_rows"] == record["split"]["test_rows"] == results["split"]["test_rows"]
    assert 0 < ag["fit_seconds"] < ag["process_seconds"]
    # AutoGluon's own test score of its best model is our PR-AUC of the probabilities it wrote.
    board = {m["model"]: m for m in ag["leaderboard"]}
    assert board[ag["best_model"]]["score_test"] == pytest.approx(
        record["scores"]["autogluon"]["pr_auc"]
    )
    predictions = pd.read_csv(run_dir / "predictions.csv")
    (name,) = record["scores"]["uctune"]
    ours = record["scores"]["uctune"][name]
    assert name == "logistic_regression" and ours["roles"] == ["best single, OOF"]
    assert ours["pr_auc"] == pytest.approx(
        average_precision_score(predictions[LABEL], predictions[name])
    )
    d = ours["minus_autogluon"]["pr_auc"]
    assert d["point"] == pytest.approx(ours["pr_auc"] - record["scores"]["autogluon"]["pr_auc"])
    assert d["low"] <= d["point"] <= d["high"]
    assert record["data"]["fingerprint_matches"] is True
    assert "uctune-AutoGluon PR-AUC [95%]" in proc.stdout


@needs_peers
@pytest.mark.slow
def test_an_autogluon_failure_is_one_line_and_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "peers.json"
    # The interpreter as make names it, relative to the checkout: the fit runs elsewhere.
    peers = str(PEERS.relative_to(ROOT))
    proc = _bench(
        "--run-dir", str(run_dir), "--time-limit", "5", "--presets", "no_such_preset",
        "--peers-python", peers, "--json", str(out), timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]  # after AutoGluon's own log
    assert last.startswith("bench_peers: AutoGluon failed (exit 1): ")
    assert "ValueError: Preset 'no_such_preset' was not found" in last
    assert last.endswith("; --debug prints its traceback")
    assert "Traceback" not in proc.stderr
    assert not out.exists()
