"""A registry that outlives its machine: a consistent snapshot to export, and an exported one
pulled back, checked file by file, for a teammate to list and score with.

The snapshot's database is made with SQLite's backup API (a consistent copy even while another
process writes; never a copy of the live file), and holds exactly the model files its rows name.
An export is a folder of files plus ``MANIFEST.json`` (each file's sha256 and size), written last:
an export without it is unfinished. A pull downloads into a staging folder beside the target,
checks every file against the manifest and the registry's own checksums, and only then renames
it into place, so a damaged export leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uctune.errors import ConfigError, IntegrityError, NotFoundError
from uctune.registry._artifacts import resolve_inside
from uctune.registry._paths import DB_NAME

__all__ = ["MANIFEST", "REGISTRY_DIR", "pull_registry", "read_manifest", "snapshot_registry"]

MANIFEST = "MANIFEST.json"
REGISTRY_DIR = "registry"
"""Where an export keeps its registry snapshot."""


def snapshot_registry(root: Path, dest: Path) -> list[Path]:
    """Copy the registry at ``root`` into the new folder ``dest``: its database through SQLite's
    backup API, then the model files that copy names. Returns the files written."""
    source = root / DB_NAME
    if not source.is_file():
        raise NotFoundError(f"no model registry at {str(root)!r} (no {DB_NAME}) to export")
    dest.mkdir(parents=True)
    copy = dest / DB_NAME
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        rows = dst.execute("SELECT model_id, file_path FROM models ORDER BY model_id").fetchall()
    finally:
        src.close()
        dst.close()
    written = [copy]
    for model_id, stored in rows:
        path = resolve_inside(root, stored, int(model_id))
        target = dest / path.relative_to(root.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    return written


def read_manifest(fs: Any, base: str, where: str) -> dict[str, Any]:
    """The manifest of the export at ``base`` on ``fs`` (``where`` names it in errors)."""
    import pyarrow.fs

    path = f"{base}/{MANIFEST}"
    if fs.get_file_info(path).type == pyarrow.fs.FileType.NotFound:
        raise NotFoundError(f"no uctune export at {where!r} (no {MANIFEST})")
    with fs.open_input_stream(path) as stream:
        try:
            manifest = json.loads(stream.read())
        except ValueError as exc:
            raise IntegrityError(f"the manifest of {where!r} is not JSON: {exc}") from None
    if not isinstance(manifest, Mapping) or not isinstance(manifest.get("files"), Mapping):
        raise IntegrityError(f"the manifest of {where!r} lists no files")
    return dict(manifest)


def pull_registry(source: str, root: Path) -> dict[str, Any]:
    """Download the registry of the export at ``source`` (a URI or a folder) into ``root``, which
    must not exist or be empty. Every file must match the manifest's sha256 and size, and the
    pulled registry its own checksums; otherwise nothing is left at ``root``. Returns the
    manifest."""
    from uctune.registry._registry import ModelRegistry
    from uctune.storage import filesystem, get_file, shown

    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"--root {str(root)!r} exists and is not empty; pull into a new folder")
    fs, base = filesystem(source)
    base = base.rstrip("/")
    manifest = read_manifest(fs, base, shown(source))
    wanted = {
        name: entry
        for name, entry in manifest["files"].items()
        if name.startswith(f"{REGISTRY_DIR}/")
    }
    if f"{REGISTRY_DIR}/{DB_NAME}" not in wanted:
        raise NotFoundError(f"the export at {shown(source)!r} holds no registry")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.pull-", dir=root.parent))
    try:
        for name, entry in sorted(wanted.items()):
            relative = Path(name).relative_to(REGISTRY_DIR)
            if relative.is_absolute() or ".." in relative.parts:
                raise IntegrityError(
                    f"the export at {shown(source)!r} names a file outside it: {name}"
                )
            digest, size = get_file(fs, f"{base}/{name}", staging / relative)
            if (digest, size) != (entry.get("sha256"), entry.get("size")):
                raise IntegrityError(
                    f"{name} of the export at {shown(source)!r} does not match its manifest "
                    f"(sha256 {digest[:16]}..., {size} bytes; "
                    f"{str(entry.get('sha256'))[:16]}..., {entry.get('size')} bytes recorded)"
                )
        report = ModelRegistry(staging, create=False).verify()
        if report.problems:
            first = report.problems[0]
            raise IntegrityError(
                f"the registry of the export at {shown(source)!r} fails its own check: "
                f"{first.kind} {first.path}: {first.detail}"
            )
        if root.exists():
            root.rmdir()
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
