"""Model files: written atomically with a checksum, read back only after the checksum matches.

joblib files are pickles, and unpickling runs code: a file whose size or sha256 differs from what
was recorded at save time is refused before a single byte reaches the unpickler. Files live directly
in the registry root; a stored path that resolves anywhere else (``..``, an absolute path, a symbolic
link out) is refused whatever the database says.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from pathlib import Path
from typing import Any

import joblib

from uctune.errors import IntegrityError, NotFoundError

__all__ = [
    "ARTIFACT_SUFFIX",
    "TEMP_PREFIX",
    "artifact_name",
    "write_temp_artifact",
    "resolve_inside",
    "read_verified",
    "sha256_of_file",
]

ARTIFACT_SUFFIX = ".joblib"
TEMP_PREFIX = ".tmp-"
_COMPRESS = 3  # zlib level 3: about 4x smaller than raw for the zoo's models, a few ms more
_CHUNK = 1 << 20


def artifact_name(model_id: int, model_type: str, version: str) -> str:
    """``000012-xgboost-1.0.3.joblib``: unique by id, readable by type and version."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_type).strip("._") or "model"
    return f"{model_id:06d}-{slug[:60]}-{version}{ARTIFACT_SUFFIX}"


def write_temp_artifact(model: Any, root: Path) -> tuple[Path, str, int]:
    """Dump ``model`` to a hidden temporary file in ``root``; return its path, sha256 and size.

    The file is flushed to disk before the caller renames it into place, so a committed row never
    points at a file that a crash left half-written.
    """
    tmp = root / f"{TEMP_PREFIX}{uuid.uuid4().hex}{ARTIFACT_SUFFIX}"
    try:
        with open(tmp, "wb") as fh:
            joblib.dump(model, fh, compress=_COMPRESS)
            fh.flush()
            os.fsync(fh.fileno())
        digest, size = sha256_of_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest, size


def sha256_of_file(path: Path) -> tuple[str, int]:
    """The file's sha256 (hex) and size in bytes, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def resolve_inside(root: Path, stored: str, model_id: int) -> Path:
    """The artifact path of a row, refused unless it resolves to a file directly in ``root``."""
    base = root.resolve()
    candidate = Path(stored)
    path = (candidate if candidate.is_absolute() else base / candidate).resolve()
    if path.parent != base:
        raise IntegrityError(
            f"model {model_id}: its file path {stored!r} resolves outside the registry root "
            f"{str(base)!r}; refusing to read it"
        )
    return path


def read_verified(
    path: Path,
    *,
    sha256: str | None,
    size: int | None,
    owner: str,
    shown: str | None = None,
) -> Any:
    """Read the whole file, check size and sha256, and only then unpickle the bytes just checked.

    Errors are one line, ``<owner>: ... <shown> ...`` (``owner``: ``model 12``, ``run '...'``;
    ``shown``: how to name the file, its name by default).
    """
    shown = shown or path.name
    if sha256 is None or size is None:
        raise IntegrityError(
            f"{owner}: no checksum was recorded for {shown}; refusing to unpickle it"
        )
    if not path.is_file():
        raise NotFoundError(f"{owner}: its file {str(path)!r} is missing")
    actual_size = path.stat().st_size
    if actual_size != size:
        raise IntegrityError(
            f"{owner}: file {shown} is {actual_size} bytes, {size} were recorded; "
            "refusing to unpickle it"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if len(data) != size or actual != sha256:
        raise IntegrityError(
            f"{owner}: file {shown} has sha256 {actual[:16]}..., "
            f"{sha256[:16]}... was recorded; refusing to unpickle it"
        )
    return joblib.load(io.BytesIO(data))
