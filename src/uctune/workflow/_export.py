"""Exporting a finished run where it outlives the machine (and the Kubernetes volume) that made it.

``<uri>/<run id>/`` receives the run directory (``run/``: results, models, predictions, the report,
the tuning studies) and a consistent snapshot of the registry the run registered into
(``registry/``, see :func:`uctune.registry.snapshot_registry`), then ``MANIFEST.json``: every
file's sha256 and size. The run's id keys the export, so a second run's export never lands on the
first's; an export whose manifest is there is complete and is never written again (the same run
exported again, as a retried job does, is left as it is). ``uri`` is
anything pyarrow opens: ``s3://bucket/prefix``, ``gs://...``, or a local folder.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uctune import __version__
from uctune.errors import ConfigError
from uctune.registry import (
    MANIFEST,
    REGISTRY_DIR,
    read_manifest,
    sha256_of_file,
    snapshot_registry,
)
from uctune.runs import is_staging
from uctune.storage import check_storage, filesystem, join_storage, put_file, shown

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["Exported", "check_export", "export_run"]

RUN_DIR = "run"


@dataclass(frozen=True)
class Exported:
    """Where a run went, and what it took."""

    target: str  # shown without the URI's query string
    files: int
    bytes: int
    seconds: float
    already: bool = False  # this run was exported there before: nothing was written


def check_export(uri: str) -> None:
    """Fail at once, in one line, on an export target pyarrow cannot open or reach."""
    check_storage(uri, "--export")


def export_run(run: RunContext, uri: str) -> Exported:
    """Upload ``run`` (it must be finished) and its registry's snapshot to ``<uri>/<run id>/``."""
    import pyarrow.fs

    unfinished = [
        name
        for name, stage in run.results.get("stages", {}).items()
        if stage.get("status") != "done"
    ]
    if unfinished or not run.results.get("stages"):
        raise ConfigError(
            f"run {run.run_id!r} is not finished (stages not done: {', '.join(unfinished) or 'all'});"
            " finish it before exporting"
        )
    target = join_storage(uri, run.run_id)
    fs, base = filesystem(target)
    base = base.rstrip("/")
    if fs.get_file_info(f"{base}/{MANIFEST}").type != pyarrow.fs.FileType.NotFound:
        manifest = read_manifest(fs, base, shown(target))
        record = manifest["files"].get(f"{RUN_DIR}/results.json") or {}
        if record.get("sha256") != sha256_of_file(run.run_dir / "results.json")[0]:
            raise ConfigError(
                f"{shown(target)!r} already holds an export of another run named "
                f"{run.run_id!r}; each run is exported once"
            )
        sizes = [int(f["size"]) for f in manifest["files"].values()]
        return Exported(shown(target), len(sizes), sum(sizes), 0.0, already=True)
    started = time.perf_counter()
    files: dict[str, dict[str, Any]] = {}

    def put(source: Path, name: str) -> None:
        digest, size = put_file(fs, source, f"{base}/{name}")
        files[name] = {"sha256": digest, "size": size}

    for path in sorted(run.run_dir.rglob("*")):
        if path.is_file() and not is_staging(path):
            put(path, f"{RUN_DIR}/{path.relative_to(run.run_dir).as_posix()}")
    registry = run.results.get("registry") or {}
    if registry.get("path") and registry.get("enabled", True):
        root = Path(registry["path"])
        with tempfile.TemporaryDirectory(prefix="uctune-export-") as tmp:
            snapshot = Path(tmp) / REGISTRY_DIR
            for path in snapshot_registry(root, snapshot):
                put(path, f"{REGISTRY_DIR}/{path.relative_to(snapshot).as_posix()}")
    manifest = {
        "format": 1,
        "run_id": run.run_id,
        "uctune_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    with tempfile.TemporaryDirectory(prefix="uctune-export-") as tmp:
        written = Path(tmp) / MANIFEST
        written.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        put_file(fs, written, f"{base}/{MANIFEST}")  # last: its presence marks a whole export
    return Exported(
        target=shown(target),
        files=len(files),
        bytes=sum(f["size"] for f in files.values()),
        seconds=time.perf_counter() - started,
    )
