"""Integrity: a model is unpickled only after its file checks out, and ``verify`` checks them all
(present, inside the root, size, sha256) and finds the files no row accounts for."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from uctune.errors import IntegrityError
from uctune.registry._artifacts import (
    ARTIFACT_SUFFIX,
    TEMP_PREFIX,
    read_verified,
    resolve_inside,
    sha256_of_file,
)
from uctune.registry._entities import ModelEntry, Problem, VerifyReport
from uctune.registry._lineage import warn_on_mismatch
from uctune.registry._paths import DB_NAME
from uctune.registry._store import Store

__all__ = ["load", "verify"]

_TEMP_GRACE_SECONDS = 60.0  # a younger temporary file may belong to a save in progress


def load(root: Path, entry: ModelEntry) -> Any:
    """:meth:`ModelRegistry.load`: path, size and sha256 checked, then unpickled."""
    path = resolve_inside(root, entry.file_path, entry.model_id)
    model = read_verified(
        path, sha256=entry.sha256, size=entry.size_bytes, owner=f"model {entry.model_id}"
    )
    warn_on_mismatch(entry.model_id, entry.ref, entry.lineage.library_versions)
    return model


def verify(store: Store, root: Path) -> VerifyReport:
    """:meth:`ModelRegistry.verify`; nothing is unpickled."""
    with store.session(write=True) as db:  # no save can be half-way while we list the files
        rows = db.execute(
            "SELECT m.model_id, m.file_path, a.sha256, a.size_bytes FROM models AS m "
            "LEFT JOIN model_artifacts AS a ON a.model_id = m.model_id ORDER BY m.model_id"
        ).fetchall()
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        on_disk = sorted(p for p in root.iterdir() if p.is_file() or p.is_symlink())
    problems: list[Problem] = []
    if check != "ok":
        problems.append(Problem("database", str(store.db_path), None, str(check)))
    claimed: set[Path] = set()
    for row in rows:
        model_id, stored = int(row["model_id"]), row["file_path"]
        try:
            path = resolve_inside(root, stored, model_id)
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
    return VerifyReport(str(root), len(rows), tuple(problems))
