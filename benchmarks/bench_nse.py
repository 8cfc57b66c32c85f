"""Build the NSE tables from the whole 2022-2026 archive: wall time and peak memory.

    python benchmarks/bench_nse.py [--source DIR] [--out DIR] [--json PATH]

Prints the builder's figures (rows, labelled rows and base rate on sessions before 2026-05-01, the
funnel) and writes them, with the wall time and the peak resident memory (``ru_maxrss``), to JSON.
Label statistics of later sessions are never computed: they hold the final holdout.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REAL)
    parser.add_argument(
        "--calendar", type=Path, default=REAL / "moneycontrol_q1fy27_results_calendar"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from uctune.data.nse import build

    out = args.out or Path(tempfile.mkdtemp(prefix="uctune-bench-nse-")) / "nse"
    started = time.perf_counter()
    summary = build(args.source, out, calendar=args.calendar, progress=print)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime  # the wall time depends on what else runs; this less so
    for line in summary.lines():
        print(line)
    print(f"build: {wall:.1f} s wall, {cpu:.1f} s CPU, peak memory {peak_mib:,.0f} MiB (ru_maxrss)")
    path = save(
        "nse",
        {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "peak_rss_mib": round(peak_mib, 1),
            "summary": summary.as_dict(),
        },
        args.json,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
