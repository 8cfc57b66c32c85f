"""``uctune tune``: bad input (one line, exit 2, nothing written) and the files it promises."""

from __future__ import annotations

import json

import joblib
import pandas as pd
import pytest
from sklearn.model_selection import FixedThresholdClassifier

from tests.invoke import run
from uctune.models import get_spec


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "svm"], "tune.families: unknown model family 'svm'"),
        (["--trials", "0"], "tune.trials: Input should be greater than or equal to 1 (got 0)"),
        (
            ["--metric", "accuracy"],
            "tune.metric: Input should be 'pr_auc', 'log_loss', 'roc_auc' or 'f1'",
        ),
        (["--grace-period", "9"], "tune.grace_period must be at most train.cv_folds (5), got 9"),
        (
            ["--cpus-per-trial", "0"],
            "tune.cpus_per_trial: Input should be greater than or equal to 1",
        ),
        (["--data", "missing.csv"], "data file 'missing.csv' does not exist"),
    ],
)
def test_bad_options_one_line_nothing_written(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "tune", *argv)
    assert code == 2, (out, err)
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_resume_takes_no_search_flags(capsys, tmp_path):
    (tmp_path / "r").mkdir()
    code, _, err = run(capsys, "tune", "--resume", str(tmp_path / "r"), "--trials", "5")
    assert code == 2 and "--resume re-uses the run's own config; drop --trials" in err


@pytest.mark.ray
def test_more_cpus_per_trial_than_the_cluster_leaves_nothing(
    capsys, ray_cluster, tiny_csv, tmp_path
):
    out_dir = tmp_path / "r"
    code, _, err = run(
        capsys, "tune", "--data", str(tiny_csv), "--cpus-per-trial", "3", "--out", str(out_dir)
    )
    assert code == 2
    assert err.splitlines()[-1] == (
        "uctune: error: cpus_per_trial must be at most the cluster's 2 CPUs, got 3"
    )
    assert not out_dir.exists()


@pytest.mark.ray
def test_tune_writes_the_contracted_files_and_prints_the_best_params(
    capsys, ray_cluster, tiny_csv, tmp_path
):
    config = tmp_path / "tune.yaml"
    config.write_text(
        "train: {cv_folds: 3}\n"
        "tune:\n  families: [xgb]\n  trials: 4\n  params:\n    xgboost: {n_estimators: 30}\n"
    )
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "tune", "--data", str(tiny_csv), "--config", str(config), "--out", str(out_dir)
    )
    assert code == 0, err
    assert "tune xgboost: 4/4" in err
    results = json.loads((out_dir / "results.json").read_text())
    tuned = results["tuning"]["xgboost"]
    assert set(tuned) >= {
        "metric",
        "n_trials",
        "completed",
        "pruned",
        "failed",
        "best_score",
        "best_trial",
        "best_params",
        "wall_seconds",
        "trials_csv",
        "refit",
        "selection",
        "rank_correlation",
    }
    # The refit's params are the picked trial's: the top one, or the defaults within the noise.
    selection = tuned["selection"]
    assert selection["picked_trial"] == tuned["best_trial"]
    assert selection["picked"] == ("defaults" if tuned["best_trial"] == 0 else "tuned")
    assert tuned["n_trials"] == 4 == tuned["completed"] + tuned["pruned"] + tuned["failed"]
    assert tuned["trials_csv"] == "tune/xgboost/trials.csv"
    assert tuned["best_params"]["n_estimators"] == 30
    assert f"xgboost best params: {json.dumps(tuned['best_params'], sort_keys=True)}" in out

    best = json.loads((out_dir / "tune" / "xgboost" / "best_params.json").read_text())
    assert best == {
        "family": "xgboost",
        "metric": "pr_auc",
        "best_score": tuned["best_score"],
        "best_trial": tuned["best_trial"],
        "params": tuned["best_params"],
    }

    trials = pd.read_csv(out_dir / tuned["trials_csv"])
    space = get_spec("xgboost").search_space
    assert list(trials.columns) == [
        "trial",
        "status",
        "score",
        "folds_done",
        "seconds",
        "node",
        "gpus",
        "attempts",
        "budget",
        "fold_1",
        "fold_2",
        "fold_3",
        *(f"param_{name}" for name in space),
    ]
    assert trials["trial"].tolist() == [0, 1, 2, 3]
    assert set(trials["status"]) <= {"completed", "pruned", "failed"}
    row = trials.set_index("trial").loc[tuned["best_trial"]]
    assert row["status"] == "completed" and row["score"] == pytest.approx(tuned["best_score"])
    assert row["folds_done"] == 3 and (trials["param_n_estimators"] == 30).all()

    # The refit is the train stage's (the picked params over the family's defaults), on the
    # trial's folds.
    refit = tuned["refit"]
    assert refit["params"] == get_spec("xgboost").resolve_params(tuned["best_params"])
    # Each fold's average precision is the trial's: calibration keeps every fold's order.
    folds = [f["pr_auc"] for f in refit["cv"]["folds"]]
    assert folds == pytest.approx([row[f"fold_{k}"] for k in (1, 2, 3)])
    model = joblib.load(out_dir / "models" / "xgboost_tuned.joblib")
    assert isinstance(model, FixedThresholdClassifier)
    assert model.threshold == pytest.approx(refit["threshold"])
    predictions = pd.read_csv(out_dir / "predictions.csv")
    assert "xgboost_tuned" in predictions and len(predictions) == results["split"]["test_rows"]
    assert (out_dir / "tune" / "xgboost" / "study.db").is_file()
