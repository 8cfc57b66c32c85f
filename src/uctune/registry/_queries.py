"""Reading the registry: listings, one model by reference, the best by a metric, stored rows."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from uctune.errors import ConfigError, NotFoundError
from uctune.registry._entities import Lineage, ModelEntry
from uctune.registry._rows import ENTRY_SQL, decode, entry_from_row
from uctune.registry._store import Store
from uctune.registry._versions import parse_version

__all__ = [
    "BEST",
    "background",
    "best",
    "by_version",
    "get",
    "run_model_id",
    "select",
]

BEST = "best"
_LOWER_IS_BETTER = ("loss", "error", "brier")


def select(store: Store, model_type: str | None, min_f1: float | None) -> list[sqlite3.Row]:
    """The rows of every model (oldest first), optionally of one type and with F1 >= ``min_f1``."""
    if min_f1 is not None and (
        isinstance(min_f1, bool) or not isinstance(min_f1, int | float) or not math.isfinite(min_f1)
    ):
        raise ConfigError(f"min_f1 must be a number, got {min_f1!r}")
    where: list[str] = []
    params: list[Any] = []
    if model_type is not None:
        where.append("m.model_type = ?")
        params.append(model_type)
    if min_f1 is not None:
        where.append(
            "m.model_id IN (SELECT model_id FROM model_metrics WHERE name = 'f1' AND value >= ?)"
        )
        params.append(float(min_f1))
    sql = ENTRY_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY m.model_id"
    with store.session(write=False) as db:
        return db.execute(sql, params).fetchall()


def get(store: Store, root: Path, ref: int | str) -> ModelEntry:
    """One model by id, ``type@version``, alias, or ``best``."""
    if isinstance(ref, bool):
        raise ConfigError(f"a model reference must be an id, type@version or alias, got {ref!r}")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        model_id = int(ref)
        with store.session(write=False) as db:
            row = db.execute(ENTRY_SQL + " WHERE m.model_id = ?", (model_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no model with id {model_id} in registry {str(root)!r}")
        return entry_from_row(row)
    if not isinstance(ref, str) or not ref.strip():
        raise ConfigError(f"a model reference must be an id, type@version or alias, got {ref!r}")
    ref = ref.strip()
    if ref == BEST:
        found = best(store, "f1")
        if found is None:
            raise NotFoundError(
                f"registry {str(root)!r} has no model with an 'f1' metric to call best"
            )
        return found
    if "@" in ref:
        model_type, _, version = ref.partition("@")
        if not model_type:
            raise ConfigError(f"a type@version reference needs the type, got {ref!r}")
        return by_version(store, root, version, model_type)
    with store.session(write=False) as db:
        row = db.execute(
            ENTRY_SQL + " WHERE m.model_id = (SELECT model_id FROM aliases WHERE alias = ?)",
            (ref,),
        ).fetchone()
        if row is None:
            known = [r[0] for r in db.execute("SELECT alias FROM aliases ORDER BY alias")]
            raise NotFoundError(
                f"{ref!r} is not a model id, type@version, alias or 'best' in registry "
                f"{str(root)!r} (aliases: {', '.join(known) or 'none'})"
            )
    return entry_from_row(row)


def best(store: Store, metric: str, *, model_type: str | None = None) -> ModelEntry | None:
    """The model with the best ``metric`` (ties: the newest), or ``None`` when none has it."""
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"metric must be a metric name such as 'f1', got {metric!r}")
    order = "ASC" if any(word in metric.lower() for word in _LOWER_IS_BETTER) else "DESC"
    sql = (
        "SELECT mm.model_id FROM model_metrics AS mm"
        + (" JOIN models AS m ON m.model_id = mm.model_id" if model_type else "")
        + " WHERE mm.name = ?"
        + (" AND m.model_type = ?" if model_type else "")
        + f" ORDER BY mm.value {order}, mm.model_id DESC LIMIT 1"
    )
    params = (metric, model_type) if model_type else (metric,)
    with store.session(write=False) as db:
        row = db.execute(sql, params).fetchone()
        if row is None:
            return None
        found = db.execute(ENTRY_SQL + " WHERE m.model_id = ?", (row[0],)).fetchone()
    return None if found is None else entry_from_row(found)


def by_version(store: Store, root: Path, version: str, model_type: str | None) -> ModelEntry:
    """The model of ``version`` (of ``model_type``; refused when several types have it)."""
    parse_version(version)
    sql = ENTRY_SQL + " WHERE m.version = ?" + (" AND m.model_type = ?" if model_type else "")
    params = (version, model_type) if model_type else (version,)
    with store.session(write=False) as db:
        rows = db.execute(sql + " ORDER BY m.model_type", params).fetchall()
    if not rows:
        what = f"{model_type}@{version}" if model_type else f"version {version}"
        raise NotFoundError(f"no model {what} in registry {str(root)!r}")
    if len(rows) > 1:
        types = ", ".join(r["model_type"] for r in rows)
        raise ConfigError(
            f"version {version} exists for several model types ({types}); name one, "
            f"e.g. {rows[0]['model_type']}@{version}"
        )
    return entry_from_row(rows[0])


def background(store: Store, model_id: int) -> list[dict[str, Any]] | None:
    """The training rows saved with a model as SHAP's reference sample (``None`` if none)."""
    with store.session(write=False) as db:
        row = db.execute(
            "SELECT background FROM model_lineage WHERE model_id = ?", (model_id,)
        ).fetchone()
    if row is None or row[0] is None:
        return None
    records = decode(row[0], "background rows", model_id)
    return records if isinstance(records, list) else None


def run_model_id(db: sqlite3.Connection, lineage: Lineage, model_name: str) -> int | None:
    """The id of ``model_name`` as registered by the run ``lineage`` names, if it was."""
    row = db.execute(
        "SELECT m.model_id FROM models AS m JOIN model_lineage AS l ON l.model_id = m.model_id "
        "WHERE l.run_id = ? AND l.run_started_at IS ? AND m.model_name = ?",
        (lineage.run_id, lineage.run_started_at, model_name),
    ).fetchone()
    return None if row is None else int(row[0])
