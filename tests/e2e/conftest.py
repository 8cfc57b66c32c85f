"""The finished run that the end-to-end tests read, made once per session as a user makes it."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest
import yaml

from tests.invoke import uctune
from uctune.data import LABEL


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory, tiny_frame) -> SimpleNamespace:
    """One `uctune run` typed as a user types it, in a fresh process with its own two-CPU Ray: two
    families trained, tuned (two trials each) and refit, their ensemble, the report, and the
    registry the run config names (the ensemble registered whatever its score, so the registry's
    content does not hang on the tiny data). ``events`` holds 15 unlabelled rows to score.

    The console-script, report and registry tests read it; none may change it (copy it first).
    """
    base = tmp_path_factory.mktemp("e2e-run")
    csv = base / "events.csv"
    tiny_frame.to_csv(csv, index=False)
    root = base / "registry"
    config = base / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "registry": {"path": str(root)},
                "train": {"params": {"xgb": {"n_estimators": 30}}},
                "ensemble": {"registered": "always"},
                "report": {"shap_rows": 25, "background_size": 20, "bootstrap": 100},
            }
        )
    )
    out = base / "run"
    argv = ["--data", csv, "--families", "lr,xgb", "--folds", 3, "--trials", 2, "--num-cpus", 2]
    proc = subprocess.run(
        [*uctune(), "run", *map(str, argv), "--config", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    events = base / "new_events.csv"
    tiny_frame.drop(columns=LABEL).head(15).to_csv(events, index=False)
    return SimpleNamespace(
        out=out, root=root, base=base, events=events, stdout=proc.stdout, stderr=proc.stderr
    )
