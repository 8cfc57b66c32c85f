"""The train stage as the CLI and ``uctune run`` use it: data in, a run directory out."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from uctune import __version__
from uctune.config import RunConfig
from uctune.data import FeatureTable
from uctune.training import Backend, Progress, TrainOutcome, make_split, train_families

__all__ = ["run_training", "train_payload", "write_train_outputs"]


def run_training(
    table: FeatureTable,
    config: RunConfig,
    *,
    backend: Backend = "ray",
    progress: Progress | None = None,
) -> TrainOutcome:
    """Split as configured and train every configured family (Ray must be up for ``backend="ray"``)."""
    split = make_split(
        table, method=config.split.method, test_size=config.split.test_size, seed=config.seed
    )
    return train_families(
        table,
        split,
        families=config.train.families,
        params=config.train.params,
        n_folds=config.train.cv_folds,
        seed=config.seed,
        cpus_per_fit=config.train.cpus_per_fit,
        backend=backend,
        progress=progress,
    )


def train_payload(
    table: FeatureTable,
    outcome: TrainOutcome,
    config: RunConfig,
    *,
    run_id: str,
    backend: Backend,
    cluster: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` document of a training run."""
    return {
        "uctune_version": __version__,
        "run_id": run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "data": {
            "source": table.source,
            "fingerprint": table.fingerprint(),
            "rows": table.n_rows,
            "positives": table.n_positive,
            "positive_rate": table.n_positive / table.n_rows,
            "features": list(table.features),
            "categorical": list(table.categorical),
        },
        "split": outcome.split.to_dict(table.y),
        "config": config.model_dump(mode="json"),
        "execution": {"backend": backend, **(cluster or {})},
        "families": {name: result.to_dict() for name, result in outcome.results.items()},
        "failures": outcome.failures,
        "timing": {"train_wall_seconds": outcome.wall_seconds},
    }


def write_train_outputs(
    dest: Path, table: FeatureTable, outcome: TrainOutcome, payload: dict[str, Any]
) -> None:
    """Models (joblib), test-set predictions (CSV) and ``results.json`` into ``dest``."""
    from uctune.runs import write_json

    models = dest / "models"
    models.mkdir(parents=True, exist_ok=True)
    for name, result in outcome.results.items():
        joblib.dump(result.model, models / f"{name}.joblib")
    test = outcome.split.test_index
    ids = [c for c in ("symbol", "announcement_date") if c in table.frame.columns]
    predictions = table.frame.iloc[test][ids + [table.label]].reset_index(drop=True)
    predictions.insert(0, "row", test)
    for name, result in outcome.results.items():
        predictions[name] = result.test_proba
    if "announcement_date" in predictions:
        predictions["announcement_date"] = pd.to_datetime(
            predictions["announcement_date"]
        ).dt.strftime("%Y-%m-%d")
    predictions.to_csv(dest / "predictions.csv", index=False, float_format="%.6g")
    write_json(dest / "results.json", payload)
