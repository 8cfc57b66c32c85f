"""The SQLite side of the registry: connections, one transaction per session, retries, schema.

Every session is one transaction on a fresh connection. Writers open it with ``BEGIN IMMEDIATE``,
which takes the database's single write lock up front: a version read inside the transaction cannot
be taken by another process before the commit. The file runs in WAL mode, so readers never wait for
the writer; a writer that finds the lock taken waits (SQLite's busy timeout), and the whole
operation is retried after a short random pause until the registry's timeout has passed.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from uctune.errors import IntegrityError, UctuneError
from uctune.registry._schema import DDL, MIGRATIONS, SCHEMA_VERSION

__all__ = ["Store", "utc_now"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A version taken by another writer between our read and our insert (the unique indexes guard it).
_VERSION_CONFLICTS = (
    "models.model_type, models.version",
    "model_versions.model_type",
    "issued_versions.model_type",
)


def utc_now() -> str:
    """The time as the registry records it (``created_at``, alias moves): UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Store:
    """Sessions on one ``registry.db``."""

    def __init__(self, db_path: Path, *, timeout: float) -> None:
        self.db_path = db_path
        self.timeout = timeout

    @contextmanager
    def _unusable_file(self, what: str) -> Iterator[None]:
        """A database error in the block, other than a busy lock (retried), as an
        :class:`~uctune.errors.IntegrityError`: ``'<db path>' <what>: <error>``."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise
            raise IntegrityError(f"{str(self.db_path)!r} {what}: {exc}") from None

    def connect(self) -> sqlite3.Connection:
        with self._unusable_file("cannot be opened as an SQLite database"):
            conn = sqlite3.connect(self.db_path, timeout=self.timeout, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def session(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction: committed on success, rolled back on any error, closed either way."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def retry(self, operation: Callable[[], T]) -> T:
        """``operation()``, run again while another writer holds the lock or took our version."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                return operation()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise IntegrityError(f"registry {str(self.db_path)!r}: {exc}") from None
                error: Exception = exc
            except sqlite3.IntegrityError as exc:
                if not any(conflict in str(exc) for conflict in _VERSION_CONFLICTS):
                    raise IntegrityError(f"registry {str(self.db_path)!r}: {exc}") from None
                error = exc
            if time.monotonic() >= deadline:
                raise UctuneError(
                    f"registry {str(self.db_path)!r} stayed busy for {self.timeout:g} s "
                    f"({error}); try again"
                ) from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.25)

    def initialise(self) -> None:
        """Create the schema in a new database, bring an older one up to date (:data:`MIGRATIONS`),
        or refuse one whose schema version this uctune does not know."""
        conn = self.connect()
        try:
            with self._unusable_file("is not a usable SQLite database"):
                # WAL is a property of the file: set once, it holds for every later connection.
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        finally:
            conn.close()
        if str(mode).lower() != "wal":
            logger.warning("registry %s: journal mode is %s, not wal", self.db_path, mode)
        with self.session(write=False) as db:
            found = int(db.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if found == 0 and not tables:
            with self.session(write=True) as db:
                # Checked again under the write lock: another process may have created it meanwhile.
                found = int(db.execute("PRAGMA user_version").fetchone()[0])
                if found == 0:
                    for statement in DDL:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    logger.info("created model registry %s", self.db_path)
                    return
        if found in MIGRATIONS and found < SCHEMA_VERSION:
            found = self._migrate()
        if found != SCHEMA_VERSION:
            raise IntegrityError(
                f"registry {str(self.db_path)!r} has schema version {found}, this uctune reads "
                f"version {SCHEMA_VERSION}; open it with the uctune that wrote it, or use another "
                "--root"
            )

    def _migrate(self) -> int:
        """Apply the migrations from the database's schema version on, all in one transaction
        (another process may have done it meanwhile: the version is read under the write lock).
        Returns the schema version the database ends at."""
        with self.session(write=True) as db:
            found = start = int(db.execute("PRAGMA user_version").fetchone()[0])
            while found < SCHEMA_VERSION and found in MIGRATIONS:
                for statement in MIGRATIONS[found]:
                    db.execute(statement)
                found += 1
            if found != start:
                db.execute(f"PRAGMA user_version = {found}")
                logger.info("registry %s: schema version %d -> %d", self.db_path, start, found)
        return found
