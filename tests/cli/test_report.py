"""``uctune report``: rebuilds a run's report; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.invoke import run
from tests.report.helpers import parse


@pytest.fixture()
def run_copy(tmp_path, reported_run):
    """A copy of the reported run without its report (the copy still points at the same data)."""
    copy = tmp_path / "run"
    shutil.copytree(reported_run.run_dir, copy, ignore=shutil.ignore_patterns("report"))
    return copy


def test_rebuild_into_another_folder_without_tuning(capsys, run_copy, tmp_path):
    # An untuned run: no tune/ folder, no tuning section, no tuned model.
    shutil.rmtree(run_copy / "tune")
    (run_copy / "models" / "xgboost_tuned.joblib").unlink()
    predictions = pd.read_csv(run_copy / "predictions.csv")
    predictions.drop(columns="xgboost_tuned").to_csv(run_copy / "predictions.csv", index=False)
    results = json.loads((run_copy / "results.json").read_text())
    del results["tuning"]
    (run_copy / "results.json").write_text(json.dumps(results))

    out = tmp_path / "elsewhere"
    code, stdout, stderr = run(
        capsys, "report", str(run_copy), "--out", str(out), "--shap-rows", "8", "--bootstrap", "0"
    )
    assert code == 0, stderr
    assert f"wrote {out / 'model_comparison.html'}" in stdout
    assert "SHAP: " in stderr and "neural_network" in stderr
    html = (out / "model_comparison.html").read_text()
    assert 'id="tuning"' not in html
    written = json.loads((out / "results.json").read_text())
    assert written["tuning"] == {} and written["settings"]["shap_rows"] == 8
    assert all(m["intervals"] == {} for m in written["models"].values())
    for model in written["models"].values():  # nor any calibration interval
        assert model["calibration_intervals"] == {}
        assert all(model["calibration"]["test"][w]["intervals"] == {} for w in ("before", "after"))
    comparison = written["ensemble"]["test_vs_best_single"]
    assert comparison["difference_interval"] is None and comparison["ensemble"]["interval"] is None
    # five families and the ensemble, no interval plot without a bootstrap
    assert len(parse(html).imgs) == 3 + 6 * 8
    # The run itself is left as it was.
    assert json.loads((run_copy / "results.json").read_text()) == results
    assert not (run_copy / "report").exists()


def expect_error(capsys, argv, message, *, nothing_at=None):
    code, stdout, stderr = run(capsys, "report", *argv)
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("uctune: error: "), stderr
    assert message in stderr, stderr
    if nothing_at is not None:
        assert not nothing_at.exists()


def test_not_a_run_directory(capsys, tmp_path):
    expect_error(
        capsys,
        [str(tmp_path), "--out", str(tmp_path / "o")],
        "is not a uctune run directory (no config.yaml)",
        nothing_at=tmp_path / "o",
    )


def test_a_missing_model(capsys, run_copy, tmp_path):
    (run_copy / "models" / "lightgbm.joblib").unlink()
    expect_error(
        capsys,
        [str(run_copy), "--out", str(tmp_path / "o")],
        "has predictions but no model file for lightgbm",
        nothing_at=tmp_path / "o",
    )


def test_a_run_that_was_never_trained(capsys, run_copy):
    shutil.rmtree(run_copy / "models")
    (run_copy / "predictions.csv").unlink()
    expect_error(
        capsys,
        [str(run_copy)],
        "has no predictions.csv to report on; run its train stage first",
        nothing_at=run_copy / "report",
    )


def test_a_changed_model_file_is_refused_before_it_is_unpickled(capsys, run_copy, tmp_path):
    path = run_copy / "models" / "lightgbm.joblib"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    expect_error(
        capsys,
        [str(run_copy), "--out", str(tmp_path / "o")],
        "uctune: error: run 'run': file models/lightgbm.joblib has sha256 ",
        nothing_at=tmp_path / "o",
    )


def test_a_model_without_a_checksum_is_refused(capsys, run_copy):
    checksums = json.loads((run_copy / "models" / "checksums.json").read_text())
    del checksums["xgboost_tuned.joblib"]
    (run_copy / "models" / "checksums.json").write_text(json.dumps(checksums))
    expect_error(
        capsys,
        [str(run_copy)],
        "run 'run': no checksum was recorded for models/xgboost_tuned.joblib; refusing to unpickle",
        nothing_at=run_copy / "report",
    )


def test_a_run_directory_from_before_the_checksums_is_refused(capsys, run_copy):
    (run_copy / "models" / "checksums.json").unlink()
    expect_error(
        capsys,
        [str(run_copy)],
        "cannot be checked before unpickling, the run has no models/checksums.json (a run "
        "directory from a uctune without model checksums); start a new run",
        nothing_at=run_copy / "report",
    )


def test_probabilities_out_of_range(capsys, run_copy):
    predictions = pd.read_csv(run_copy / "predictions.csv")
    predictions.loc[3, "xgboost"] = 1.7
    predictions.to_csv(run_copy / "predictions.csv", index=False)
    expect_error(
        capsys,
        [str(run_copy)],
        "column 'xgboost' of predictions.csv must hold probabilities in [0, 1]",
        nothing_at=run_copy / "report",
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--shap-rows",
            "0",
            "report.shap_rows: Input should be greater than or equal to 1 (got 0)",
        ),
        ("--bootstrap", "5", "bootstrap resamples must be 0 (no intervals) or at least 20 (got 5)"),
        (
            "--background-size",
            "-3",
            "report.background_size: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_numbers(capsys, reported_run, tmp_path, flag, value, message):
    expect_error(
        capsys,
        [str(reported_run.run_dir), "--out", str(tmp_path / "o"), flag, value],
        message,
        nothing_at=tmp_path / "o",
    )


def test_out_is_a_file(capsys, reported_run, tmp_path):
    (tmp_path / "taken").write_text("x")
    expect_error(
        capsys,
        [
            str(reported_run.run_dir),
            "--out",
            str(tmp_path / "taken"),
            "--shap-rows",
            "5",
            "--bootstrap",
            "0",
        ],
        "exists and is not a directory",
    )
    assert (tmp_path / "taken").read_text() == "x"
