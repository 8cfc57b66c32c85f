"""The model registry: the seed's SQLite ``models`` table and joblib files, made safe to share.

Every write is one ``BEGIN IMMEDIATE`` transaction (the database's single writer lock, taken up
front), retried when another process holds it; the database runs in WAL mode so readers never wait
for writers. A save serialises the model to a hidden temporary file first (outside the lock), then,
inside the transaction, takes the next version of its type, inserts the rows and renames the file
into place; if the commit fails the file is moved back, so a row never exists without its file and a
crash leaves at most a file that no row counts (``verify`` reports it).
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import numbers
import os
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.version import Version

from uctune.errors import ConfigError, IntegrityError, NotFoundError
from uctune.metrics import model_threshold
from uctune.registry._artifacts import (
    ARTIFACT_SUFFIX,
    TEMP_PREFIX,
    artifact_name,
    read_verified,
    resolve_inside,
    sha256_of_file,
    write_temp_artifact,
)
from uctune.registry._entities import (
    AliasEntry,
    AliasEvent,
    Lineage,
    ModelEntry,
    Problem,
    VerifyReport,
)
from uctune.registry._lineage import installed_versions, warn_on_mismatch
from uctune.registry._paths import DB_NAME, default_registry_root
from uctune.registry._rows import ENTRY_SQL, decode, dict_from_row, entry_from_row
from uctune.registry._store import Store
from uctune.registry._versions import Bump, check_bump, next_version, parse_version
from uctune.runs import to_jsonable

__all__ = ["ModelRegistry"]

logger = logging.getLogger(__name__)

BEST = "best"
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_LOWER_IS_BETTER = ("loss", "error", "brier")
_TEMP_GRACE_SECONDS = 60.0  # a younger temporary file may belong to a save in progress


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return os.environ.get("USER") or "unknown"


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


def _feature_names(model: Any) -> tuple[str, ...]:
    """``feature_names_in_`` of the model or the estimator inside it (thresholded pipelines)."""
    inner = model
    for _ in range(3):
        names = getattr(inner, "feature_names_in_", None)
        if names is not None:
            return tuple(str(n) for n in names)
        inner = getattr(inner, "estimator_", None) or getattr(inner, "estimator", None)
        if inner is None:
            break
    return ()


class ModelRegistry:
    """Versioned models in one directory: ``registry.db`` (SQLite) and a joblib file per model.

    ``ModelRegistry()`` uses ``data/models/registry`` under the working directory (or
    ``$UCTUNE_REGISTRY``), creating it on first use; ``create=False`` refuses a missing registry
    instead. Several processes may use one registry at once.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        timeout: float = 60.0,
    ) -> None:
        self.root = Path(root) if root is not None else default_registry_root()
        self.db_path = self.root / DB_NAME
        self.timeout = timeout
        if not self.db_path.is_file():
            if not create:
                raise NotFoundError(
                    f"no model registry at {str(self.root)!r} (no {DB_NAME}); "
                    "register models with `uctune run` or ModelRegistry.save_model first"
                )
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(f"registry root {str(self.root)!r} exists and is not a directory")
            self.root.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.db_path, timeout=timeout)
        self._store.retry(self._store.initialise)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- the seed's operations ------------------------------------------------------------------
    def save_model(
        self,
        model: Any,
        model_name: str,
        model_type: str,
        metrics: Mapping[str, Any],
        hyperparameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        version: str | None = None,
        bump: str = "patch",
        lineage: Lineage | None = None,
        background: Any = None,
    ) -> int:
        """Store ``model`` and its metadata; return the new ``model_id``.

        The version is the next patch after the highest version ever issued to ``model_type``
        (deleted models count; 1.0.0 for its first model), or the next ``bump="minor"``/``"major"``,
        or exactly ``version`` ("2.0.0") if it was never issued to that type.
        ``lineage`` records where the model came from (the threshold and feature names are read
        from the model when not given); ``background`` is a small sample of training rows kept
        for SHAP explanations. A model name is stored once per run (``lineage.run_id`` and
        ``run_started_at``): saving it again returns the existing id, so a resumed run does not
        register twice.
        """
        _check_name(model_name)
        _check_type(model_type)
        metrics_json = _to_json(metrics, "metrics")
        hyper_json = (
            None if hyperparameters is None else _to_json(hyperparameters, "hyperparameters")
        )
        if description is not None and not isinstance(description, str):
            raise ConfigError(f"description must be text, got {type(description).__name__}")
        explicit = parse_version(version) if version is not None else None
        step = check_bump(bump)
        if lineage is not None and not isinstance(lineage, Lineage):
            raise ConfigError(f"lineage must be a uctune Lineage, got {type(lineage).__name__}")
        full = self._complete_lineage(model, lineage or Lineage())
        background_json = self._background_json(background)

        if full.run_id is not None:
            known = self._find_run_model(full, model_name)
            if known is not None:
                logger.info(
                    "run %s already registered %s as model %d", full.run_id, model_name, known
                )
                return known

        tmp, digest, size = write_temp_artifact(model, self.root)
        try:
            return self._store.retry(
                lambda: self._insert(
                    tmp,
                    digest=digest,
                    size=size,
                    model_name=model_name,
                    model_type=model_type,
                    metrics_json=metrics_json,
                    metric_rows=_metric_rows(metrics),
                    hyper_json=hyper_json,
                    description=description,
                    explicit=explicit,
                    bump=step,
                    lineage=full,
                    background_json=background_json,
                )
            )
        finally:
            tmp.unlink(missing_ok=True)  # gone already when the save succeeded

    def load_model(
        self,
        model_id: int | None = None,
        version: str | None = None,
        model_type: str | None = None,
    ) -> Any:
        """The stored model, by ``model_id`` or by ``version`` (with ``model_type`` when several
        types share that version). The file's size and sha256 are checked before unpickling."""
        if model_id is not None and version is None:
            entry = self.get(model_id)
        elif version is not None and model_id is None:
            entry = self._by_version(version, model_type)
        else:
            raise ConfigError(
                "load_model needs exactly one of model_id or version, got "
                f"model_id={model_id!r}, version={version!r}"
            )
        return self.load(entry)

    def list_models(
        self, model_type: str | None = None, min_f1: float | None = None
    ) -> list[dict[str, Any]]:
        """Every model (oldest first) as a dict of the seed's columns, JSON decoded, plus checksum,
        lineage and aliases; optionally only one type, and only models whose F1 is at least
        ``min_f1``."""
        return [dict_from_row(r) for r in self._select(model_type, min_f1)]

    def get_best_model(
        self, metric: str = "f1", model_type: str | None = None
    ) -> dict[str, Any] | None:
        """The model with the best ``metric`` (highest; lowest for losses and errors) as a dict
        (``model_id``, ``model_name``, ``version``, ``metrics``, ...); ``None`` if no model has it."""
        entry = self.best(metric, model_type=model_type)
        return None if entry is None else entry.to_dict()

    def delete_model(self, model_id: int, *, force: bool = False) -> None:
        """Remove a model's rows and its file. A model that an alias points at is kept unless
        ``force``, which also removes those aliases (recorded in their history). Its version is
        never issued again: the type's next save still counts from it."""
        entry = self.get(model_id)

        def delete() -> None:
            with self._store.session(write=True) as db:
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
                    self._record_alias(
                        db, alias, entry.model_id, None, _current_user(), "model deleted"
                    )
                    db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
                gone = db.execute("DELETE FROM models WHERE model_id = ?", (entry.model_id,))
                if gone.rowcount == 0:
                    raise NotFoundError(f"model {entry.model_id} was deleted meanwhile")

        self._store.retry(delete)
        # The row is gone first: a crash here leaves a stray file, never a row without a file.
        try:
            path = resolve_inside(self.root, entry.file_path, entry.model_id)
        except IntegrityError:
            logger.warning("model %d: not deleting %s, outside the root", model_id, entry.file_path)
            return
        path.unlink(missing_ok=True)
        logger.info("deleted model %d (%s)", entry.model_id, entry.ref)

    # -- lookups --------------------------------------------------------------------------------
    def entries(
        self, *, model_type: str | None = None, min_f1: float | None = None
    ) -> list[ModelEntry]:
        """Every model as a frozen :class:`ModelEntry`, oldest first, optionally filtered."""
        return [entry_from_row(r) for r in self._select(model_type, min_f1)]

    def _select(self, model_type: str | None, min_f1: float | None) -> list[sqlite3.Row]:
        if min_f1 is not None and (
            isinstance(min_f1, bool)
            or not isinstance(min_f1, int | float)
            or not math.isfinite(min_f1)
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
        sql = (
            ENTRY_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY m.model_id"
        )
        with self._store.session(write=False) as db:
            return db.execute(sql, params).fetchall()

    def get(self, ref: int | str) -> ModelEntry:
        """One model by id (``12``), ``type@version``, alias, or ``best`` (highest F1)."""
        if isinstance(ref, bool):
            raise ConfigError(
                f"a model reference must be an id, type@version or alias, got {ref!r}"
            )
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            model_id = int(ref)
            with self._store.session(write=False) as db:
                row = db.execute(ENTRY_SQL + " WHERE m.model_id = ?", (model_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no model with id {model_id} in registry {str(self.root)!r}")
            return entry_from_row(row)
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(
                f"a model reference must be an id, type@version or alias, got {ref!r}"
            )
        ref = ref.strip()
        if ref == BEST:
            best = self.best("f1")
            if best is None:
                raise NotFoundError(
                    f"registry {str(self.root)!r} has no model with an 'f1' metric to call best"
                )
            return best
        if "@" in ref:
            model_type, _, version = ref.partition("@")
            if not model_type:
                raise ConfigError(f"a type@version reference needs the type, got {ref!r}")
            return self._by_version(version, model_type)
        with self._store.session(write=False) as db:
            row = db.execute(
                ENTRY_SQL + " WHERE m.model_id = (SELECT model_id FROM aliases WHERE alias = ?)",
                (ref,),
            ).fetchone()
            if row is None:
                known = [r[0] for r in db.execute("SELECT alias FROM aliases ORDER BY alias")]
                raise NotFoundError(
                    f"{ref!r} is not a model id, type@version, alias or 'best' in registry "
                    f"{str(self.root)!r} (aliases: {', '.join(known) or 'none'})"
                )
        return entry_from_row(row)

    def best(self, metric: str = "f1", *, model_type: str | None = None) -> ModelEntry | None:
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
        with self._store.session(write=False) as db:
            row = db.execute(sql, params).fetchone()
            if row is None:
                return None
            found = db.execute(ENTRY_SQL + " WHERE m.model_id = ?", (row[0],)).fetchone()
        return None if found is None else entry_from_row(found)

    def load(self, entry: ModelEntry) -> Any:
        """The model of ``entry``: its path checked to be inside the root, its size and sha256
        checked, then unpickled; warns when the recorded library versions differ from these."""
        path = resolve_inside(self.root, entry.file_path, entry.model_id)
        model = read_verified(
            path, sha256=entry.sha256, size=entry.size_bytes, owner=f"model {entry.model_id}"
        )
        warn_on_mismatch(entry.model_id, entry.ref, entry.lineage.library_versions)
        return model

    def background(self, model_id: int) -> list[dict[str, Any]] | None:
        """The training rows saved with a model as SHAP's reference sample (``None`` if none)."""
        with self._store.session(write=False) as db:
            row = db.execute(
                "SELECT background FROM model_lineage WHERE model_id = ?", (model_id,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        records = decode(row[0], "background rows", model_id)
        return records if isinstance(records, list) else None

    def _by_version(self, version: str, model_type: str | None) -> ModelEntry:
        parse_version(version)
        sql = ENTRY_SQL + " WHERE m.version = ?" + (" AND m.model_type = ?" if model_type else "")
        params = (version, model_type) if model_type else (version,)
        with self._store.session(write=False) as db:
            rows = db.execute(sql + " ORDER BY m.model_type", params).fetchall()
        if not rows:
            what = f"{model_type}@{version}" if model_type else f"version {version}"
            raise NotFoundError(f"no model {what} in registry {str(self.root)!r}")
        if len(rows) > 1:
            types = ", ".join(r["model_type"] for r in rows)
            raise ConfigError(
                f"version {version} exists for several model types ({types}); name one, "
                f"e.g. {rows[0]['model_type']}@{version}"
            )
        return entry_from_row(rows[0])

    def _find_run_model(self, lineage: Lineage, model_name: str) -> int | None:
        with self._store.session(write=False) as db:
            return self._run_model_id(db, lineage, model_name)

    @staticmethod
    def _run_model_id(db: sqlite3.Connection, lineage: Lineage, model_name: str) -> int | None:
        row = db.execute(
            "SELECT m.model_id FROM models AS m JOIN model_lineage AS l ON l.model_id = m.model_id "
            "WHERE l.run_id = ? AND l.run_started_at IS ? AND m.model_name = ?",
            (lineage.run_id, lineage.run_started_at, model_name),
        ).fetchone()
        return None if row is None else int(row[0])

    # -- saving ---------------------------------------------------------------------------------
    @staticmethod
    def _complete_lineage(model: Any, given: Lineage) -> Lineage:
        threshold = given.threshold
        if threshold is None:
            threshold = model_threshold(model)
        if threshold is not None and not (
            isinstance(threshold, int | float) and math.isfinite(threshold)
        ):
            raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
        features = given.features or _feature_names(model)
        unknown = sorted(set(given.categorical) - set(features))
        if unknown:
            raise ConfigError(
                f"categorical features must be among the features, got {', '.join(unknown)}"
            )
        if given.seed is not None and (
            isinstance(given.seed, bool) or not isinstance(given.seed, int)
        ):
            raise ConfigError(f"seed must be an integer, got {given.seed!r}")
        return Lineage(
            run_id=given.run_id,
            run_started_at=given.run_started_at,
            data_fingerprint=given.data_fingerprint,
            features=features,
            categorical=given.categorical,
            threshold=None if threshold is None else float(threshold),
            cv_scores=given.cv_scores,
            seed=given.seed,
            library_versions=installed_versions(),
        )

    @staticmethod
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

    def _insert(
        self,
        tmp: Path,
        *,
        digest: str,
        size: int,
        model_name: str,
        model_type: str,
        metrics_json: str,
        metric_rows: Sequence[tuple[str, float]],
        hyper_json: str | None,
        description: str | None,
        explicit: Version | None,
        bump: Bump,
        lineage: Lineage,
        background_json: str | None,
    ) -> int:
        placed: Path | None = None
        try:
            with self._store.session(write=True) as db:
                if lineage.run_id is not None:
                    known = self._run_model_id(db, lineage, model_name)
                    if known is not None:
                        return known
                # issued_versions keeps deleted models' versions too: none is handed out twice.
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
                            f"version {explicit} of {model_type!r} {how}; "
                            "a version must be new for its type"
                        )
                    version = explicit
                else:
                    latest = db.execute(
                        "SELECT major, minor, patch FROM issued_versions WHERE model_type = ? "
                        "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
                        (model_type,),
                    ).fetchone()
                    version = next_version(
                        None if latest is None else Version("{}.{}.{}".format(*latest)), bump
                    )
                major, minor, patch = version.release[:3]
                created_at = _now()
                cursor = db.execute(
                    "INSERT INTO models (model_name, model_type, version, metrics, hyperparameters,"
                    " file_path, created_at, description) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
                    (
                        model_name,
                        model_type,
                        str(version),
                        metrics_json,
                        hyper_json,
                        created_at,
                        description,
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
                        background_json,
                    ),
                )
                db.executemany(
                    "INSERT INTO model_metrics (model_id, name, value) VALUES (?, ?, ?)",
                    [(model_id, n, v) for n, v in metric_rows],
                )
                placed = self.root / name
                os.replace(tmp, placed)
        except BaseException:
            if placed is not None and placed.exists():
                os.replace(placed, tmp)  # not committed: take the file back, for a retry or cleanup
            raise
        logger.info("saved model %d: %s@%s (%s)", model_id, model_type, version, model_name)
        return model_id

    # -- aliases --------------------------------------------------------------------------------
    def set_alias(
        self, alias: str, ref: int | str, *, by: str | None = None, reason: str | None = None
    ) -> AliasEvent | None:
        """Point ``alias`` (``production``, ``staging``, any name) at a model; the move is added
        to the alias's history. ``None`` when it already pointed there."""
        self._check_alias(alias)
        target = self.get(ref)
        who = by or _current_user()

        def move() -> AliasEvent | None:
            with self._store.session(write=True) as db:
                if (
                    db.execute(
                        "SELECT 1 FROM models WHERE model_id = ?", (target.model_id,)
                    ).fetchone()
                    is None
                ):
                    raise NotFoundError(f"model {target.model_id} was deleted meanwhile")
                row = db.execute(
                    "SELECT model_id FROM aliases WHERE alias = ?", (alias,)
                ).fetchone()
                before = None if row is None else int(row[0])
                if before == target.model_id:
                    return None
                now = _now()
                db.execute(
                    "INSERT INTO aliases (alias, model_id, updated_at, updated_by) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO UPDATE SET "
                    "model_id = excluded.model_id, updated_at = excluded.updated_at, "
                    "updated_by = excluded.updated_by",
                    (alias, target.model_id, now, who),
                )
                return self._record_alias(db, alias, before, target.model_id, who, reason, now)

        return self._store.retry(move)

    def remove_alias(
        self, alias: str, *, by: str | None = None, reason: str | None = None
    ) -> AliasEvent:
        """Unset ``alias`` (recorded in its history)."""
        self._check_alias(alias)
        who = by or _current_user()

        def drop() -> AliasEvent:
            with self._store.session(write=True) as db:
                row = db.execute(
                    "SELECT model_id FROM aliases WHERE alias = ?", (alias,)
                ).fetchone()
                if row is None:
                    raise NotFoundError(
                        f"alias {alias!r} is not set in registry {str(self.root)!r}"
                    )
                db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
                return self._record_alias(db, alias, int(row[0]), None, who, reason)

        return self._store.retry(drop)

    def aliases(self, alias: str | None = None) -> list[AliasEntry]:
        """Every alias (or only ``alias``, if set) and the model it points at."""
        sql = (
            "SELECT a.alias, a.model_id, m.model_type, m.version, a.updated_at, a.updated_by "
            "FROM aliases AS a JOIN models AS m ON m.model_id = a.model_id"
            + ("" if alias is None else " WHERE a.alias = ?")
        )
        with self._store.session(write=False) as db:
            rows = db.execute(
                sql + " ORDER BY a.alias", () if alias is None else (alias,)
            ).fetchall()
        return [
            AliasEntry(
                alias=r["alias"],
                model_id=int(r["model_id"]),
                ref=f"{r['model_type']}@{r['version']}",
                updated_at=r["updated_at"],
                updated_by=r["updated_by"],
            )
            for r in rows
        ]

    def alias_history(self, alias: str | None = None) -> list[AliasEvent]:
        """Every move of ``alias`` (or of every alias), oldest first."""
        sql = "SELECT * FROM alias_history" + (" WHERE alias = ?" if alias else "")
        with self._store.session(write=False) as db:
            rows = db.execute(sql + " ORDER BY event_id", (alias,) if alias else ()).fetchall()
        return [
            AliasEvent(
                event_id=int(r["event_id"]),
                alias=r["alias"],
                from_model_id=r["from_model_id"],
                to_model_id=r["to_model_id"],
                changed_by=r["changed_by"],
                changed_at=r["changed_at"],
                reason=r["reason"],
            )
            for r in rows
        ]

    @staticmethod
    def _check_alias(alias: Any) -> None:
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == BEST:
            raise ConfigError(
                "an alias must be 1-64 letters, digits or _.- starting with a letter, and not "
                f"'best', got {alias!r}"
            )

    @staticmethod
    def _record_alias(
        db: sqlite3.Connection,
        alias: str,
        before: int | None,
        after: int | None,
        who: str,
        reason: str | None,
        when: str | None = None,
    ) -> AliasEvent:
        when = when or _now()
        cursor = db.execute(
            "INSERT INTO alias_history (alias, from_model_id, to_model_id, changed_by, changed_at,"
            " reason) VALUES (?, ?, ?, ?, ?, ?)",
            (alias, before, after, who, when, reason),
        )
        return AliasEvent(int(cursor.lastrowid or 0), alias, before, after, who, when, reason)

    # -- integrity ------------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Check every model's file (present, inside the root, size, sha256) and look for files
        no row accounts for. Nothing is unpickled."""
        with self._store.session(
            write=True
        ) as db:  # no save can be half-way while we list the files
            rows = db.execute(
                "SELECT m.model_id, m.file_path, a.sha256, a.size_bytes FROM models AS m "
                "LEFT JOIN model_artifacts AS a ON a.model_id = m.model_id ORDER BY m.model_id"
            ).fetchall()
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            on_disk = sorted(p for p in self.root.iterdir() if p.is_file() or p.is_symlink())
        problems: list[Problem] = []
        if check != "ok":
            problems.append(Problem("database", str(self.db_path), None, str(check)))
        claimed: set[Path] = set()
        for row in rows:
            model_id, stored = int(row["model_id"]), row["file_path"]
            try:
                path = resolve_inside(self.root, stored, model_id)
            except IntegrityError as exc:
                problems.append(Problem("outside", stored, model_id, str(exc)))
                continue
            claimed.add(path)
            if not path.is_file():
                problems.append(Problem("missing", stored, model_id, "the file is not there"))
                continue
            if row["sha256"] is None:
                problems.append(Problem("unrecorded", stored, model_id, "no checksum recorded"))
                continue
            digest, size = sha256_of_file(path)
            if size != row["size_bytes"]:
                problems.append(
                    Problem("size", stored, model_id, f"{size} bytes, {row['size_bytes']} recorded")
                )
            elif digest != row["sha256"]:
                problems.append(
                    Problem(
                        "corrupted",
                        stored,
                        model_id,
                        f"sha256 {digest[:16]}..., {row['sha256'][:16]}... recorded",
                    )
                )
        now = time.time()
        for path in on_disk:
            name = path.name
            if name.startswith(DB_NAME) or path.resolve() in claimed:
                continue
            if name.startswith(TEMP_PREFIX):
                if now - path.lstat().st_mtime >= _TEMP_GRACE_SECONDS:
                    problems.append(
                        Problem("temp", name, None, "left by an interrupted save; safe to delete")
                    )
                continue
            if name.endswith(ARTIFACT_SUFFIX):
                problems.append(Problem("stray", name, None, "a model file no row accounts for"))
        return VerifyReport(str(self.root), len(rows), tuple(problems))
