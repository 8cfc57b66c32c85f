"""The registry's SQLite schema: the ``models`` table (the original schema, unchanged) and uctune's
side tables.

The ``models`` table keeps exactly the original workflow's columns, so any SQLite client (``sqlite3
registry.db 'SELECT * FROM models'``) and any code written against that table reads it as before.
Everything uctune adds (checksums, numeric versions, lineage, indexed metrics, aliases and their
history) lives in tables keyed by ``model_id``. ``PRAGMA user_version`` holds
:data:`SCHEMA_VERSION`; an older registry is brought up to date by the steps in :data:`MIGRATIONS`,
each in one write transaction.
"""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "SEED_MODELS_DDL", "DDL", "MIGRATIONS"]

SCHEMA_VERSION = 2

SEED_MODELS_DDL = """CREATE TABLE models (
    model_id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_name TEXT NOT NULL,
    model_type TEXT NOT NULL,
    version TEXT NOT NULL,
    metrics TEXT NOT NULL,  -- JSON
    hyperparameters TEXT,   -- JSON
    file_path TEXT NOT NULL,
    created_at TEXT NOT NULL,
    description TEXT
)"""

# Every version ever issued, per type, kept when its model is deleted: the next version counts from
# here, so a deleted model's version is never handed out again. Append-only, like alias_history.
_ISSUED_VERSIONS: tuple[str, ...] = (
    """CREATE TABLE issued_versions (
    model_type TEXT NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    model_id INTEGER NOT NULL,       -- no foreign key: the row outlives its model
    issued_at TEXT NOT NULL,
    PRIMARY KEY (model_type, major, minor, patch)
)""",
    """CREATE TRIGGER issued_versions_no_update BEFORE UPDATE ON issued_versions
BEGIN SELECT RAISE(ABORT, 'issued_versions is append-only'); END""",
    """CREATE TRIGGER issued_versions_no_delete BEFORE DELETE ON issued_versions
BEGIN SELECT RAISE(ABORT, 'issued_versions is append-only'); END""",
)

DDL: tuple[str, ...] = (
    SEED_MODELS_DDL,
    # One version per type, whatever the writer: a second guard behind the write transaction.
    "CREATE UNIQUE INDEX models_type_version ON models (model_type, version)",
    "CREATE INDEX models_name ON models (model_name)",
    """CREATE TABLE model_artifacts (
    model_id INTEGER PRIMARY KEY REFERENCES models (model_id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL
)""",
    # The version as numbers, so "latest of a type" is an index lookup, not a text comparison.
    """CREATE TABLE model_versions (
    model_id INTEGER PRIMARY KEY REFERENCES models (model_id) ON DELETE CASCADE,
    model_type TEXT NOT NULL,
    major INTEGER NOT NULL,
    minor INTEGER NOT NULL,
    patch INTEGER NOT NULL,
    UNIQUE (model_type, major, minor, patch)
)""",
    """CREATE TABLE model_lineage (
    model_id INTEGER PRIMARY KEY REFERENCES models (model_id) ON DELETE CASCADE,
    run_id TEXT,
    run_started_at TEXT,
    data_fingerprint TEXT,
    features TEXT NOT NULL,          -- JSON list, in the order the model expects
    categorical TEXT NOT NULL,       -- JSON list
    threshold REAL,
    cv_scores TEXT NOT NULL,         -- JSON
    seed INTEGER,
    library_versions TEXT NOT NULL,  -- JSON
    background TEXT                  -- JSON records: training rows for SHAP's reference
)""",
    "CREATE INDEX model_lineage_run ON model_lineage (run_id)",
    # Top-level numeric metrics, one row each: min-F1 filters and best-by-metric use the index.
    """CREATE TABLE model_metrics (
    model_id INTEGER NOT NULL REFERENCES models (model_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (model_id, name)
)""",
    "CREATE INDEX model_metrics_name_value ON model_metrics (name, value, model_id)",
    """CREATE TABLE aliases (
    alias TEXT PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models (model_id),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
)""",
    "CREATE INDEX aliases_model ON aliases (model_id)",
    """CREATE TABLE alias_history (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    alias TEXT NOT NULL,
    from_model_id INTEGER,
    to_model_id INTEGER,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    reason TEXT
)""",
    "CREATE INDEX alias_history_alias ON alias_history (alias, event_id)",
    """CREATE TRIGGER alias_history_no_update BEFORE UPDATE ON alias_history
BEGIN SELECT RAISE(ABORT, 'alias_history is append-only'); END""",
    """CREATE TRIGGER alias_history_no_delete BEFORE DELETE ON alias_history
BEGIN SELECT RAISE(ABORT, 'alias_history is append-only'); END""",
    *_ISSUED_VERSIONS,
)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: issued_versions, filled from the models still there. Versions of models deleted
    # before the upgrade were not recorded anywhere, so they cannot be added.
    1: (
        *_ISSUED_VERSIONS,
        """INSERT INTO issued_versions (model_type, major, minor, patch, model_id, issued_at)
SELECT v.model_type, v.major, v.minor, v.patch, v.model_id, m.created_at
FROM model_versions AS v JOIN models AS m ON m.model_id = v.model_id""",
    ),
}
"""``MIGRATIONS[n]``: the statements that take a registry from schema version ``n`` to ``n + 1``."""
