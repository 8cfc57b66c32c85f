"""From SQLite rows to what the registry hands out: frozen entries, or the dictionaries
``ModelRegistry.list_models`` returns."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from uctune.errors import IntegrityError
from uctune.registry._entities import Lineage, ModelEntry

__all__ = ["ENTRY_SQL", "decode", "entry_from_row", "dict_from_row"]

ENTRY_SQL = """
SELECT m.model_id, m.model_name, m.model_type, m.version, m.metrics, m.hyperparameters,
       m.file_path, m.created_at, m.description, a.sha256, a.size_bytes,
       l.run_id, l.run_started_at, l.data_fingerprint, l.features, l.categorical, l.threshold,
       l.cv_scores, l.seed, l.library_versions,
       (SELECT group_concat(alias, ',') FROM
           (SELECT alias FROM aliases WHERE aliases.model_id = m.model_id ORDER BY alias)) AS aliases
FROM models AS m
LEFT JOIN model_artifacts AS a ON a.model_id = m.model_id
LEFT JOIN model_lineage AS l ON l.model_id = m.model_id
"""


def decode(text: str | None, what: str, model_id: int, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise IntegrityError(f"model {model_id}: its {what} are not valid JSON") from None


def _lineage_fields(row: sqlite3.Row, model_id: int) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "run_started_at": row["run_started_at"],
        "data_fingerprint": row["data_fingerprint"],
        "features": decode(row["features"], "features", model_id, []),
        "categorical": decode(row["categorical"], "categorical features", model_id, []),
        "threshold": row["threshold"],
        "cv_scores": decode(row["cv_scores"], "CV scores", model_id, {}),
        "seed": row["seed"],
        "library_versions": decode(row["library_versions"], "library versions", model_id, {}),
    }


def _model_fields(row: sqlite3.Row, model_id: int) -> dict[str, Any]:
    return {
        "model_id": model_id,
        "model_name": row["model_name"],
        "model_type": row["model_type"],
        "version": row["version"],
        "metrics": decode(row["metrics"], "metrics", model_id, {}),
        "hyperparameters": decode(row["hyperparameters"], "hyperparameters", model_id),
        "file_path": row["file_path"],
        "created_at": row["created_at"],
        "description": row["description"],
        "sha256": row["sha256"],
        "size_bytes": row["size_bytes"],
    }


def entry_from_row(row: sqlite3.Row) -> ModelEntry:
    model_id = int(row["model_id"])
    lineage = Lineage(**_lineage_fields(row, model_id))
    return ModelEntry(
        **_model_fields(row, model_id),
        lineage=lineage,
        aliases=tuple(row["aliases"].split(",")) if row["aliases"] else (),
    )


def dict_from_row(row: sqlite3.Row) -> dict[str, Any]:
    """``entry_from_row(row).to_dict()``, without the detour (``list_models`` over thousands of
    rows spends most of its time here)."""
    model_id = int(row["model_id"])
    return {
        **_model_fields(row, model_id),
        "lineage": _lineage_fields(row, model_id),
        "aliases": row["aliases"].split(",") if row["aliases"] else [],
    }
