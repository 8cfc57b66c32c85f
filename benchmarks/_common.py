"""Helpers shared by the benchmark scripts: machine facts and a JSON record per run."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    import ray

    import uctune

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "uctune": uctune.__version__,
    }


def save(name: str, payload: dict[str, Any], out: Path | None = None) -> Path:
    """Write ``payload`` (plus machine facts and a timestamp) as JSON; return the path."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = out or RESULTS / f"{name}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "at": stamp, "machine": machine(), **payload}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
