"""How long `uctune run --export` takes for a finished run: upload of the run directory and of a
consistent registry snapshot, to a local folder and to an S3-compatible server on loopback (moto,
as in the tests), then `uctune registry pull` of that registry back from each.

    python benchmarks/bench_export.py --run-dir runs/<id>          # a finished run of yours

The run is read, never changed; every upload goes to a fresh temporary prefix. Prints one line per
target and writes JSON (benchmarks/results/export-*.json, or --out).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import save


def _s3_server() -> tuple[Any, str, dict[str, str]]:
    """A moto S3 server on 127.0.0.1 with one bucket: the server, its URI base, credentials."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from uctune.cluster import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_bucket(Bucket="bench")
    query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    return server, f"s3://bench/exports?{query}", credentials


def measure(run_dir: Path, target: str) -> dict[str, Any]:
    from uctune.registry import pull_registry
    from uctune.storage import join_storage
    from uctune.workflow import export_run, resume_run

    run = resume_run(run_dir, backend="sequential")
    done = export_run(run, target)
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        started = time.perf_counter()
        pull_registry(join_storage(target, run.run_id), Path(tmp) / "registry")
        pulled = time.perf_counter() - started
    return {
        "target": done.target,
        "files": done.files,
        "megabytes": done.bytes / 1e6,
        "export_seconds": done.seconds,
        "export_mb_per_second": done.bytes / 1e6 / done.seconds,
        "pull_seconds": pulled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a finished run directory")
    parser.add_argument("--no-s3", action="store_true", help="only the local folder")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if not (args.run_dir / "results.json").is_file():
        sys.exit(f"bench_export: {str(args.run_dir)!r} is not a run directory (no results.json)")
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        figures.append({"kind": "folder", **measure(args.run_dir, str(Path(tmp) / "exports"))})
    if not args.no_s3:
        server, uri, credentials = _s3_server()
        os.environ.update(credentials)
        try:
            figures.append({"kind": "s3 (moto, loopback)", **measure(args.run_dir, uri)})
        finally:
            server.stop()
    for f in figures:
        print(
            f"{f['kind']:<20} {f['files']:5d} files {f['megabytes']:8.1f} MB  export "
            f"{f['export_seconds']:6.2f} s ({f['export_mb_per_second']:.0f} MB/s)  "
            f"pull of the registry {f['pull_seconds']:5.2f} s"
        )
    path = save("export", {"run_dir": str(args.run_dir), "targets": figures}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
