"""From the command line to a report a browser shows: `uctune run`, then `uctune report`, each in
a fresh process as a user runs them, then the page in headless Chromium with the network off."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.invoke import uctune
from tests.report.helpers import cell_values, pixel_spread, render_in_chromium

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_dir(cli_run):
    """The session's finished `uctune run` (tests/e2e/conftest.py): two families, both tuned."""
    return cli_run.out


def test_run_prints_where_the_report_is(cli_run):
    assert "SHAP: " in cli_run.stdout
    assert f"wrote {cli_run.out / 'report' / 'model_comparison.html'}" in cli_run.stdout


def test_run_writes_the_report(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    from uctune.workflow import STAGES

    assert list(results["stages"]) == list(STAGES)
    assert "report" in results["stages"]
    report = json.loads((run_dir / "report" / "results.json").read_text())
    assert set(report["models"]) == {
        "logistic_regression",
        "logistic_regression_tuned",
        "xgboost",
        "xgboost_tuned",
        "ensemble",
    }
    assert report["ensemble"]["members"] == results["ensemble"]["members"]
    for name, model in report["models"].items():
        assert model["shap"]["computed"], name
        family = name.removesuffix("_tuned")
        trained = (
            results["ensemble"]
            if name == "ensemble"
            else results["tuning"][family]["refit"]
            if name.endswith("_tuned")
            else results["families"][name]
        )
        # Calibrated by the run, and reported so: the test split's calibration error after the
        # map is the one the training stage recorded.
        assert model["calibration"]["method"] == trained["calibration"]["method"]
        assert model["calibration"]["test"]["after"]["ece"] == pytest.approx(
            trained["calibration"]["holdout"]["calibrated"]["ece"], abs=1e-6
        )
        assert model["at_threshold"]["f1"] == pytest.approx(
            trained["holdout"]["at_threshold"]["f1"], abs=1e-6
        )


def test_report_command_rebuilds_it_and_a_browser_shows_it(run_dir, tmp_path):
    out = tmp_path / "again"
    proc = subprocess.run(
        [*uctune(), "report", str(run_dir), "--out", str(out), "--bootstrap", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("SHAP: ") == 1
    html = (out / "model_comparison.html").read_text()
    assert cell_values(html)[("xgboost", "at_threshold.pr_auc")]
    page = render_in_chromium(out / "model_comparison.html")
    # 3 comparison plots, 8 per model (2 families, each untuned and tuned, and the ensemble), 2
    # per tuned family
    assert len(page.images) == 3 + 5 * 8 + 2 * 2
    assert all(i["ok"] and i["w"] > 0 and i["h"] > 0 for i in page.images)
    assert page.console_errors == [] and page.page_errors == [] and page.outside_requests == []
    spread, inked = pixel_spread(page.screenshot)
    assert spread > 0.05 and inked > 0.02


def test_bad_run_dir_in_a_fresh_process(tmp_path):
    proc = subprocess.run(
        [*uctune(), "report", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"uctune: error: '{tmp_path / 'nowhere'}' is not a uctune run directory (no config.yaml)"
    )
