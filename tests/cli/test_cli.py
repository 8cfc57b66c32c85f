"""The command line: help, bad input (one line, non-zero, nothing written) and the train command."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.invoke import run
from uctune.data import LABEL


def test_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("data", "train", "run"):
        assert name in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "uctune" in out


def test_synth_writes_table_and_truth(capsys, tmp_path):
    code, out, _ = run(
        capsys, "data", "synth", "--rows", "300", "--seed", "2", "--out", str(tmp_path / "e.csv")
    )
    assert code == 0, out
    events = pd.read_csv(tmp_path / "e.csv")
    truth = pd.read_csv(tmp_path / "e.truth.csv")
    assert len(events) == len(truth) == 300
    assert "true_probability" in truth and "true_probability" not in events


def test_synth_parquet(capsys, tmp_path):
    assert (
        run(capsys, "data", "synth", "--rows", "200", "--out", str(tmp_path / "e.parquet"))[0] == 0
    )
    assert len(pd.read_parquet(tmp_path / "e.truth.parquet")) == 200


def test_validate_summarises(capsys, tiny_csv):
    code, out, _ = run(capsys, "data", "validate", str(tiny_csv))
    assert code == 0 and "600 rows" in out and "fingerprint sha256:" in out


def bad_files(tmp_path, tiny_frame):
    """Each bad input of the schema, written to disk as a user would hand it over."""
    cases = {}

    def write(name, frame):
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        cases[name] = path

    write("no_label", tiny_frame.drop(columns=LABEL))
    write("label_not_binary", tiny_frame.assign(**{LABEL: tiny_frame[LABEL].replace({1: 2})}))
    nan_label = tiny_frame.astype({LABEL: float})
    nan_label.loc[5, LABEL] = float("nan")
    write("label_nan", nan_label)
    write("single_class", tiny_frame.assign(**{LABEL: 0}))
    write("text_feature", tiny_frame.assign(notes="beat estimates"))
    write("all_nan_feature", tiny_frame.assign(opm=float("nan")))
    few = tiny_frame[tiny_frame[LABEL] == 0].head(100)
    write("too_few_positives", pd.concat([few, tiny_frame[tiny_frame[LABEL] == 1].head(3)]))
    (tmp_path / "empty.csv").write_text("")
    cases["empty"] = tmp_path / "empty.csv"
    return cases


EXPECTED = {
    "no_label": "label column 'upper_circuit' is missing",
    "label_not_binary": "must hold only 0/1, got values {2}",
    "label_nan": "1 missing or infinite values",
    "single_class": "holds a single class (0)",
    "text_feature": "feature column 'notes' is not numeric",
    "all_nan_feature": "feature column 'opm' is entirely missing",
    "too_few_positives": "class 1 of 'upper_circuit' has 3 rows, fewer than the 5",
    "empty": "is empty (0 bytes)",
}


@pytest.mark.parametrize("command", ["train", "run", "tune"])
def test_bad_data_one_line_nonzero_nothing_written(capsys, tmp_path, tiny_frame, command):
    cases = bad_files(tmp_path, tiny_frame)
    for name, path in cases.items():
        out_dir = tmp_path / f"out-{name}"
        code, out, err = run(capsys, command, "--data", str(path), "--out", str(out_dir))
        assert code == 2, (name, out, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines == [f"uctune: error: {lines[0].removeprefix('uctune: error: ')}"], (name, err)
        assert EXPECTED[name] in lines[0], (name, lines[0])
        assert not out_dir.exists(), name


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "missing.csv"], "data file 'missing.csv' does not exist"),
        (["train", "--families", "lr,svm"], "unknown model family 'svm'"),
        (["train", "--folds", "1"], "train.cv_folds: Input should be greater than or equal to 2"),
        (["train", "--test-size", "1.5"], "split.test_size: Input should be less than 1"),
        (["train", "--config", "nope.yaml"], "config file 'nope.yaml' does not exist"),
        (["data", "synth", "--rows", "5", "--out", "x.csv"], "--rows must be at least 100, got 5"),
        (["data", "synth", "--out", "x.txt"], "--out must end in .csv, .csv.gz or .parquet"),
    ],
)
def test_bad_options(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()
    assert not (tmp_path / "x.csv").exists()


def test_bad_config_file(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  cv_folds: 3\n  famlies: [lr]\n")
    code, _, err = run(capsys, "train", "--config", str(config))
    assert code == 2 and "train.famlies: Extra inputs are not permitted" in err
    config.write_text("train: [unclosed\n")
    code, _, err = run(capsys, "train", "--config", str(config))
    assert code == 2 and "is not valid YAML at line" in err


def test_existing_output_directory_is_refused(capsys, tmp_path, tiny_csv):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "train", "--data", str(tiny_csv), "--out", str(tmp_path / "taken"))
    assert code == 2 and "already exists" in err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


@pytest.mark.ray
def test_train_prints_the_table_and_writes_results(capsys, ray_cluster, tiny_csv, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text(
        "train:\n  cv_folds: 3\n  params:\n    rf: {n_estimators: 30}\n"
        "    xgboost: {n_estimators: 30}\n    lightgbm: {n_estimators: 30}\n"
    )
    out_dir = tmp_path / "run1"
    code, out, err = run(
        capsys, "train", "--data", str(tiny_csv), "--config", str(config), "--out", str(out_dir)
    )
    assert code == 0, err
    for name in ("logistic_regression", "random_forest", "xgboost", "lightgbm", "neural_network"):
        assert name in out
    results = json.loads((out_dir / "results.json").read_text())
    assert set(results["families"]) == {
        "logistic_regression",
        "random_forest",
        "xgboost",
        "lightgbm",
        "neural_network",
    }
    assert results["config"]["train"]["cv_folds"] == 3
    assert results["data"]["rows"] == 600
    assert results["families"]["xgboost"]["params"]["n_estimators"] == 30
    for fam in results["families"].values():
        assert len(fam["cv"]["folds"]) == 3
        assert {"at_0.5", "at_threshold"} == set(fam["holdout"])
    predictions = pd.read_csv(out_dir / "predictions.csv")
    assert len(predictions) == results["split"]["test_rows"]
    assert sorted((out_dir / "models").iterdir())
    assert not list(tmp_path.glob(".run1*")), "no staging directory left behind"


def test_resume_takes_no_other_flags(capsys, tmp_path):
    (tmp_path / "r").mkdir()
    code, _, err = run(capsys, "run", "--resume", str(tmp_path / "r"), "--families", "lr")
    assert code == 2 and "--resume re-uses the run's own config; drop --families" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--resume", "nowhere"], "Invalid value for '--resume': run directory 'nowhere' does not"),
        (["--resume", "auto"], "uctune: error: --resume auto needs --out: the directory to"),
    ],
)
def test_resume_needs_a_run_directory_or_auto_with_an_out(
    capsys, tmp_path, tiny_csv, argv, message
):
    code, _, err = run(capsys, "run", "--data", str(tiny_csv), *argv)
    assert code == 2 and message in err, err


@pytest.mark.ray
def test_run_then_resume_does_not_retrain(capsys, ray_cluster, tiny_csv, tmp_path):
    out_dir = tmp_path / "r"
    code, _, err = run(
        capsys,
        "run",
        "--data",
        str(tiny_csv),
        "--families",
        "lr",
        "--folds",
        "3",
        "--trials",
        "2",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    models = out_dir / "models"
    before = {p.name: p.stat().st_mtime_ns for p in models.iterdir()}
    assert set(before) == {
        "checksums.json",
        "ensemble.joblib",
        "logistic_regression.joblib",
        "logistic_regression_tuned.joblib",
    }
    code, out, err = run(capsys, "run", "--resume", str(out_dir))
    assert code == 0, err
    assert "(resumed)" in err and "logistic_regression" in out
    assert {p.name: p.stat().st_mtime_ns for p in models.iterdir()} == before


def test_a_command_default_fills_only_what_the_config_file_leaves_out(tmp_path):
    from uctune.cli._common import build_config

    flags = {"data": None, "folds": None, "split": None, "test_size": None, "seed": None}
    defaults = {"tune.trials": 100}
    assert build_config(None, defaults=defaults, **flags).tune.trials == 100
    silent = tmp_path / "silent.yaml"
    silent.write_text("tune:\n  metric: pr_auc\n")
    assert build_config(silent, defaults=defaults, **flags).tune.trials == 100
    given = tmp_path / "given.yaml"
    given.write_text("tune:\n  trials: 7\n")
    assert build_config(given, defaults=defaults, **flags).tune.trials == 7
    assert build_config(None, **flags).tune.trials == 12  # the run's own default, no command's
