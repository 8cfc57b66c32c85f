"""Aliases (``production``, ``staging``, any name) pointing at models, and their append-only
history: every move, by whom, when and why."""

from __future__ import annotations

import getpass
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from uctune.errors import ConfigError, NotFoundError
from uctune.registry._entities import AliasEntry, AliasEvent, ModelEntry
from uctune.registry._queries import BEST
from uctune.registry._store import Store, utc_now

__all__ = [
    "alias_history",
    "check_alias",
    "current_user",
    "list_aliases",
    "record_alias",
    "remove_alias",
    "set_alias",
]

_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def current_user() -> str:
    """Who moves an alias when nobody says: the login name."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return os.environ.get("USER") or "unknown"


def check_alias(alias: Any) -> None:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == BEST:
        raise ConfigError(
            "an alias must be 1-64 letters, digits or _.- starting with a letter, and not "
            f"'best', got {alias!r}"
        )


def record_alias(
    db: sqlite3.Connection,
    alias: str,
    before: int | None,
    after: int | None,
    who: str,
    reason: str | None,
    when: str | None = None,
) -> AliasEvent:
    """Append one move to ``alias_history``, inside the caller's write transaction."""
    when = when or utc_now()
    cursor = db.execute(
        "INSERT INTO alias_history (alias, from_model_id, to_model_id, changed_by, changed_at,"
        " reason) VALUES (?, ?, ?, ?, ?, ?)",
        (alias, before, after, who, when, reason),
    )
    return AliasEvent(int(cursor.lastrowid or 0), alias, before, after, who, when, reason)


def set_alias(
    store: Store, alias: str, target: ModelEntry, *, by: str | None, reason: str | None
) -> AliasEvent | None:
    who = by or current_user()

    def move() -> AliasEvent | None:
        with store.session(write=True) as db:
            if (
                db.execute("SELECT 1 FROM models WHERE model_id = ?", (target.model_id,)).fetchone()
                is None
            ):
                raise NotFoundError(f"model {target.model_id} was deleted meanwhile")
            row = db.execute("SELECT model_id FROM aliases WHERE alias = ?", (alias,)).fetchone()
            before = None if row is None else int(row[0])
            if before == target.model_id:
                return None
            now = utc_now()
            db.execute(
                "INSERT INTO aliases (alias, model_id, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO UPDATE SET "
                "model_id = excluded.model_id, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (alias, target.model_id, now, who),
            )
            return record_alias(db, alias, before, target.model_id, who, reason, now)

    return store.retry(move)


def remove_alias(
    store: Store, root: Path, alias: str, *, by: str | None, reason: str | None
) -> AliasEvent:
    who = by or current_user()

    def drop() -> AliasEvent:
        with store.session(write=True) as db:
            row = db.execute("SELECT model_id FROM aliases WHERE alias = ?", (alias,)).fetchone()
            if row is None:
                raise NotFoundError(f"alias {alias!r} is not set in registry {str(root)!r}")
            db.execute("DELETE FROM aliases WHERE alias = ?", (alias,))
            return record_alias(db, alias, int(row[0]), None, who, reason)

    return store.retry(drop)


def list_aliases(store: Store, alias: str | None) -> list[AliasEntry]:
    sql = (
        "SELECT a.alias, a.model_id, m.model_type, m.version, a.updated_at, a.updated_by "
        "FROM aliases AS a JOIN models AS m ON m.model_id = a.model_id"
        + ("" if alias is None else " WHERE a.alias = ?")
    )
    with store.session(write=False) as db:
        rows = db.execute(sql + " ORDER BY a.alias", () if alias is None else (alias,)).fetchall()
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


def alias_history(store: Store, alias: str | None) -> list[AliasEvent]:
    sql = "SELECT * FROM alias_history" + (" WHERE alias = ?" if alias else "")
    with store.session(write=False) as db:
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
