"""Choosing the CV from the command line: `--cv`, `--embargo` and the time split's default,
and flags that make no valid folds refused before anything is written."""

from __future__ import annotations

import json

import pytest

from tests.invoke import run


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--cv", "walk_forward", "--embargo", "-2"],
            "cv.embargo: Input should be greater than or equal to 0 (got -2)",
        ),
        (
            ["--cv", "walk_forward", "--embargo", "600"],
            "5 folds and an embargo of 600 sessions needs at least 606 distinct dates, got",
        ),
        (["--embargo", "2"], "cv.embargo applies to walk_forward CV only"),
    ],
)
@pytest.mark.parametrize("command", ["train", "tune", "run"])
def test_bad_cv_flags_are_one_line_and_write_nothing(
    capsys, tmp_path, tiny_csv, command, argv, message
):
    out_dir = tmp_path / "out"
    code, _, err = run(capsys, command, "--data", str(tiny_csv), "--out", str(out_dir), *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert not out_dir.exists()


def test_train_with_a_time_split_walks_forward(capsys, tmp_path, tiny_csv):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        "--data",
        str(tiny_csv),
        "--families",
        "lr",
        "--folds",
        "3",
        "--split",
        "time",
        "--embargo",
        "2",
        "--sequential",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["cv"] == {
        "n_folds": 3,
        "method": "walk_forward",
        "embargo": 2,
        "group_by_symbol": False,
        "threshold_from": "earlier_folds",
    }
    family = results["families"]["logistic_regression"]
    assert family["cv"]["threshold_from"] == "earlier_folds"
    assert family["cv"]["folds"][0]["threshold"] == 0.5  # no earlier block to choose from


def test_cv_flag_overrides_the_time_split_default(capsys, tmp_path, tiny_csv):
    out_dir = tmp_path / "run"
    code, _, err = run(
        capsys,
        "train",
        "--data",
        str(tiny_csv),
        "--families",
        "lr",
        "--folds",
        "3",
        "--split",
        "time",
        "--cv",
        "stratified",
        "--sequential",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["cv"]["method"] == "stratified"
    assert results["cv"]["threshold_from"] == "other_folds"
