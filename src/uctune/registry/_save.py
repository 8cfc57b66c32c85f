"""Saving and deleting models: input checked first, the next version taken and the rows written in
one write transaction, the file renamed into place inside it (and moved back if the commit fails).

A save serialises the model to a hidden temporary file first (outside the lock), then, inside the
transaction, takes the next version of its type, inserts the rows and renames the file into place;
so a row never exists without its file, and a crash leaves at most a file that no row counts
(``verify`` reports it). A delete removes the rows first, then the file, for the same reason.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version

from uctune.errors import ConfigError, IntegrityError, NotFoundError
from uctune.registry._aliases import current_user, record_alias
from uctune.registry._artifacts import artifact_name, resolve_inside, write_temp_artifact
from uctune.registry._entities import Lineage, ModelEntry
from uctune.registry._lineage import complete_lineage
from uctune.registry._queries import run_model_id
from uctune.registry._store import Store, utc_now
from uctune.registry._versions import Bump, check_bump, next_version, parse_version
from uctune.runs import to_jsonable

__all__ = ["delete", "save"]

logger = logging.getLogger(__name__)

_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _check_type(value: Any) -> str:
    if not isinstance(value, str) or not _TYPE.match(value):
        raise ConfigError(
            "model_type must be 1-100 letters, digits or _.- starting with a letter or digit "
            f"(it names files and type@version references), got {value!r}"
        )
    return value


def _check_name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > 200
        or not value.isprintable()
    ):
        raise ConfigError(f"model_name must be 1-200 printable characters, got {value!r}")
    return value


def _to_json(value: Any, what: str) -> str:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{what} must be a mapping of names to values, got {type(value).__name__}"
        )
    try:
        return json.dumps(to_jsonable(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be JSON-serialisable: {exc}") from None


def _metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Top-level finite numbers of ``metrics`` (the ones that can be filtered and ranked)."""
    numbers_only = {
        str(name): float(value)
        for name, value in metrics.items()
        if isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    }
    return list(numbers_only.items())


def _background_json(background: Any) -> str | None:
    if background is None:
        return None
    to_dict = getattr(background, "to_dict", None)
    if not callable(to_dict):
        raise ConfigError(
            f"background must be a DataFrame of training rows, got {type(background).__name__}"
        )
    records = to_jsonable(to_dict(orient="records"))
    return json.dumps(records, default=str, allow_nan=False)


@dataclass(frozen=True)
class _Rows:
    """What a save writes, checked and serialised before the transaction."""

    model_name: str
    model_type: str
    metrics_json: str
    metric_rows: Sequence[tuple[str, float]]
    hyper_json: str | None
    description: str | None
    explicit: Version | None
    bump: Bump
    lineage: Lineage
    background_json: str | None


def save(
    store: Store,
    root: Path,
    model: Any,
    model_name: str,
    model_type: str,
    metrics: Mapping[str, Any],
    hyperparameters: Mapping[str, Any] | None,
    description: str | None,
    *,
    version: str | None,
    bump: str,
    lineage: Lineage | None,
    background: Any,
) -> int:
    """:meth:`ModelRegistry.save_model`: the new model's id (or the id a run already saved)."""
    _check_name(model_name)
    _check_type(model_type)
    metrics_json = _to_json(metrics, "metrics")
    hyper_json = None if hyperparameters is None else _to_json(hyperparameters, "hyperparameters")
    if description is not None and not isinstance(description, str):
        raise ConfigError(f"description must be text, got {type(description).__name__}")
    explicit = parse_version(version) if version is not None else None
    step = check_bump(bump)
    if lineage is not None and not isinstance(lineage, Lineage):
        raise ConfigError(f"lineage must be a uctune Lineage, got {type(lineage).__name__}")
    full = complete_lineage(model, lineage or Lineage())
    rows = _Rows(
        model_name=model_name,
        model_type=model_type,
        metrics_json=metrics_json,
        metric_rows=_metric_rows(metrics),
        hyper_json=hyper_json,
        description=description,
        explicit=explicit,
        bump=step,
        lineage=full,
        background_json=_background_json(background),
    )

    if full.run_id is not None:
        with store.session(write=False) as db:
            known = run_model_id(db, full, model_name)
        if known is not None:
            logger.info("run %s already registered %s as model %d", full.run_id, model_name, known)
            return known

    tmp, digest, size = write_temp_artifact(model, root)
    try:
        return store.retry(lambda: _insert(store, root, tmp, digest=digest, size=size, rows=rows))
    finally:
        tmp.unlink(missing_ok=True)  # gone already when the save succeeded


def _take_version(db: sqlite3.Connection, rows: _Rows) -> Version:
    """The version this save gets, read inside the write transaction."""
    # issued_versions keeps deleted models' versions too: none is handed out twice.
    explicit, model_type = rows.explicit, rows.model_type
    if explicit is not None:
        taken = db.execute(
            "SELECT i.model_id, m.model_id IS NULL FROM issued_versions AS i "
            "LEFT JOIN models AS m ON m.model_id = i.model_id "
            "WHERE i.model_type = ? AND i.major = ? AND i.minor = ? AND i.patch = ?",
            (model_type, *explicit.release[:3]),
        ).fetchone()
        if taken is not None:
            owner, deleted = int(taken[0]), bool(taken[1])
            how = (
                f"was issued to model {owner}, since deleted"
                if deleted
                else f"is taken (model {owner})"
            )
            raise ConfigError(
                f"version {explicit} of {model_type!r} {how}; a version must be new for its type"
            )
        return explicit
    latest = db.execute(
        "SELECT major, minor, patch FROM issued_versions WHERE model_type = ? "
        "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
        (model_type,),
    ).fetchone()
    return next_version(None if latest is None else Version("{}.{}.{}".format(*latest)), rows.bump)


def _insert(store: Store, root: Path, tmp: Path, *, digest: str, size: int, rows: _Rows) -> int:
    lineage, model_type = rows.lineage, rows.model_type
    placed: Path | None = None
    try:
        with store.session(write=True) as db:
            if lineage.run_id is not None:
                known = run_model_id(db, lineage, rows.model_name)
                if known is not None:
                    return known
            version = _take_version(db, rows)
            major, minor, patch = version.release[:3]
            created_at = utc_now()
            cursor = db.execute(
                "INSERT INTO models (model_name, model_type, version, metrics, hyperparameters,"
                " file_path, created_at, description) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
                (
                    rows.model_name,
                    model_type,
                    str(version),
                    rows.metrics_json,
                    rows.hyper_json,
                    created_at,
                    rows.description,
                ),
            )
            model_id = int(cursor.lastrowid or 0)
            name = artifact_name(model_id, model_type, str(version))
            db.execute("UPDATE models SET file_path = ? WHERE model_id = ?", (name, model_id))
            db.execute(
                "INSERT INTO model_artifacts (model_id, sha256, size_bytes) VALUES (?, ?, ?)",
                (model_id, digest, size),
            )
            db.execute(
                "INSERT INTO model_versions (model_id, model_type, major, minor, patch) "
                "VALUES (?, ?, ?, ?, ?)",
                (model_id, model_type, major, minor, patch),
            )
            db.execute(
                "INSERT INTO issued_versions (model_type, major, minor, patch, model_id,"
                " issued_at) VALUES (?, ?, ?, ?, ?, ?)",
                (model_type, major, minor, patch, model_id, created_at),
            )
            db.execute(
                "INSERT INTO model_lineage (model_id, run_id, run_started_at, data_fingerprint,"
                " features, categorical, threshold, cv_scores, seed, library_versions,"
                " background) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id,
                    lineage.run_id,
                    lineage.run_started_at,
                    lineage.data_fingerprint,
                    json.dumps(list(lineage.features)),
                    json.dumps(list(lineage.categorical)),
                    lineage.threshold,
                    json.dumps(to_jsonable(lineage.cv_scores), allow_nan=False),
                    lineage.seed,
                    json.dumps(dict(lineage.library_versions)),
                    rows.background_json,
                ),
            )
            db.executemany(
                "INSERT INTO model_metrics (model_id, name, value) VALUES (?, ?, ?)",
                [(model_id, n, v) for n, v in rows.metric_rows],
            )
            placed = root / name
            os.replace(tmp, placed)
    except BaseException:
        if placed is not None and placed.exists():
            os.replace(placed, tmp)  # not committed: take the file back, for a retry or cleanup
        raise
    logger.info("saved model %d: %s@%s (%s)", model_id, model_type, version, rows.model_name)
    return model_id


def delete(store: Store, root: Path, entry: ModelEntry, *, force: bool) -> None:
    """:meth:`ModelRegistry.delete_model` of the model ``entry`` describes."""

    def remove_rows() -> None:
        with store.session(write=True) as db:
            targets = [
                r[0]
                for r in db.execute(
                    "SELECT alias FROM aliases WHERE model_id = ? ORDER BY alias",
                    (entry.model_id,),
                )
            ]
            if targets and not force:
                raise ConfigError(
                    f"model {entry.model_id} ({entry.ref}) is the target of alias "
                    f"{', '.join(map(repr, targets))}; move the alias first, or force the "
                    "delete (--force)"
                )
            for alias in targets:
                record_alias(db, alias, entry.model_id, None, current_user(), "model deleted")
                db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
            gone = db.execute("DELETE FROM models WHERE model_id = ?", (entry.model_id,))
            if gone.rowcount == 0:
                raise NotFoundError(f"model {entry.model_id} was deleted meanwhile")

    store.retry(remove_rows)
    # The row is gone first: a crash here leaves a stray file, never a row without a file.
    try:
        path = resolve_inside(root, entry.file_path, entry.model_id)
    except IntegrityError:
        logger.warning(
            "model %d: not deleting %s, outside the root", entry.model_id, entry.file_path
        )
        return
    path.unlink(missing_ok=True)
    logger.info("deleted model %d (%s)", entry.model_id, entry.ref)
