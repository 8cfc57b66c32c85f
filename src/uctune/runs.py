"""Small file helpers for run directories: unique run ids and atomic JSON writes."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["new_run_id", "write_json", "to_jsonable"]


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
    if isinstance(value, dict):
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


def write_json(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(to_jsonable(payload), fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
