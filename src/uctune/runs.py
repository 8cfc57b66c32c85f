"""File helpers for everything uctune writes: unique run ids, and atomic writes.

Every output (JSON, CSV/Parquet tables, HTML, models) is written to a temporary file beside its
destination and renamed into place, so a reader never sees half a file and an interrupted write
leaves the previous version intact. Files get the usual permissions (0666 less the umask).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "new_run_id",
    "atomic_path",
    "is_staging",
    "write_json",
    "write_text",
    "write_frame",
    "to_jsonable",
    "TABLE_SUFFIXES",
]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def new_run_id(kind: str, root: Path | None = None) -> str:
    """A sortable, readable id, ``20261126-193012-train``, made unique under ``root``."""
    base = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{kind}"
    run_id, n = base, 1
    while root is not None and (root / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def to_jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars and arrays unwrapped, NaN and infinities as null, paths as strings."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_staging(path: Path) -> bool:
    """Whether ``path`` is the temporary file of an :func:`atomic_path` write (one a killed
    process can leave behind)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, payload: Any) -> None:
    """Strict JSON (NaN as null), indented, written atomically."""
    write_text(path, json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n")


def write_frame(frame: pd.DataFrame, path: Path, *, float_format: str | None = None) -> None:
    """A table as CSV (gzipped for ``.csv.gz``) or Parquet, by the file's suffix, atomically."""
    name = path.name.lower()
    with atomic_path(path) as tmp:
        if name.endswith((".parquet", ".pq")):
            frame.to_parquet(tmp, index=False)
        else:
            compression = "gzip" if name.endswith(".gz") else None
            frame.to_csv(tmp, index=False, float_format=float_format, compression=compression)
