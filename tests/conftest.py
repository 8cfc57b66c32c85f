"""Shared fixtures: one Ray for the whole session, tiny synthetic data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from uctune.cluster import loopback_env  # imports no Ray

matplotlib.use("Agg")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Before Ray is first imported: every Ray the tests start (the session's local one, the multi-node
# clusters, the drivers and jobs they run) stays on loopback, reports no usage statistics, and uses
# one authentication token, which no file in the home directory has to hold.
os.environ.update(loopback_env())

TINY_ROWS = 600


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray with 2 CPUs on loopback for every test that needs it, and one logical GPU:
    what ``device: cuda`` asks Ray for can be checked on a machine without one (XGBoost itself then
    falls back to its CPU code)."""
    import logging

    import ray

    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
        logging.ERROR
    )
    ray.init(
        address="local",
        num_cpus=2,
        num_gpus=1,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    yield
    ray.shutdown()


CHECKOUT_REGISTRY = Path(__file__).resolve().parents[1] / "data" / "models" / "registry"


@pytest.fixture(scope="session", autouse=True)
def _session_registry(tmp_path_factory) -> Iterator[None]:
    """Session fixtures (set up before any test's own fixtures) get a default registry of their
    own too; and the suite fails if anything still wrote into the checkout's registry."""
    before = _snapshot(CHECKOUT_REGISTRY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UCTUNE_REGISTRY", str(tmp_path_factory.mktemp("session-registry")))
        yield
    after = _snapshot(CHECKOUT_REGISTRY)
    assert after == before, f"the test suite wrote into the checkout's registry {CHECKOUT_REGISTRY}"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture(autouse=True)
def _isolated_registry(tmp_path_factory, monkeypatch) -> None:
    """Every test (and every process it starts) gets its own default model registry, never the
    checkout's data/models/registry."""
    monkeypatch.setenv("UCTUNE_REGISTRY", str(tmp_path_factory.mktemp("registry")))


@pytest.fixture(scope="session")
def tiny_frame() -> pd.DataFrame:
    from uctune.data import generate

    frame, _ = generate(TINY_ROWS, seed=3)
    return frame


@pytest.fixture(scope="session")
def tiny_table(tiny_frame: pd.DataFrame):
    from uctune.data import validate_table

    return validate_table(tiny_frame)


@pytest.fixture()
def tiny_csv(tmp_path, tiny_frame: pd.DataFrame):
    path = tmp_path / "events.csv"
    tiny_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def run_csv(tmp_path_factory, tiny_frame: pd.DataFrame):
    path = tmp_path_factory.mktemp("data") / "events.csv"
    tiny_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def reported_run(tmp_path_factory, run_csv):
    """A run of all five families (trained in-process, no Ray, each calibrated), a fabricated
    tuning stage for XGBoost (its model uncalibrated, without out-of-fold predictions), the
    ensemble stage (so an ensemble of the five trained models), then the report stage: what the
    report, CLI and browser tests look at."""
    from tests.report.fabricate import FAST_PARAMS, REPORT, fabricate_tuning
    from uctune.config import RunConfig
    from uctune.workflow import execute_stages, start_run

    config = RunConfig.model_validate(
        {"data": str(run_csv), "train": {"cv_folds": 3, "params": FAST_PARAMS}, "report": REPORT}
    )
    out = tmp_path_factory.mktemp("runs") / "reported"
    ctx = start_run(config, command="run", out=out, backend="sequential")
    execute_stages(ctx, ["train"], fresh=True)
    fabricate_tuning(ctx)
    execute_stages(ctx, ["ensemble", "report"], fresh=False)
    return ctx
