"""Training the five families: in parallel on Ray versus one after another in one process.

Both paths run exactly the same fits (5 CV folds + 1 refit per family, one thread each) on the same
data and seeds. Ray start-up is excluded from the Ray figure and reported separately. Prints a table
and writes JSON to benchmarks/results/.

    python benchmarks/bench_train.py [--repeats 3] [--rows N] [--num-cpus C]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rows", type=int, default=None, help="synthetic rows (default: embedded data)"
    )
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import ray

    from uctune.cluster import cluster_cpus, ray_session
    from uctune.data import generate, load_feature_table, validate_table
    from uctune.training import make_split, train_families

    if args.rows:
        table = validate_table(generate(args.rows, seed=0)[0], source=f"synthetic {args.rows} rows")
    else:
        table = load_feature_table()
    split = make_split(table, seed=42)

    t0 = time.perf_counter()
    with ray_session(num_cpus=args.num_cpus):
        startup = time.perf_counter() - t0
        cpus = cluster_cpus()
        # One warm-up round so that every worker process has imported the libraries once, as in a
        # real run after its first task; the timed rounds then measure scheduling and fitting.
        train_families(table, split, backend="ray")
        parallel, sequential, fit_cpu = [], [], []
        for _ in range(args.repeats):
            run = train_families(table, split, backend="ray")
            parallel.append(run.wall_seconds)
            fit_cpu.append(sum(r.fit_seconds for r in run.results.values()))
            run = train_families(table, split, backend="sequential")
            sequential.append(run.wall_seconds)
        assert ray.is_initialized()

    par, seq = statistics.median(parallel), statistics.median(sequential)
    ideal = statistics.median(fit_cpu) / cpus
    rows = [
        ("sequential (1 process)", seq, seq / par),
        (f"Ray, {cpus} CPUs", par, 1.0),
    ]
    print(f"data: {table.source}, {table.n_rows} rows; 5 families x (5 folds + refit) = 30 fits")
    print(f"ray start-up: {startup:.1f}s (not included)")
    print(f"{'path':<24}{'wall s (median)':>16}{'vs Ray':>10}")
    for name, wall, ratio in rows:
        print(f"{name:<24}{wall:>16.2f}{ratio:>9.2f}x")
    print(f"speed-up sequential/parallel: {seq / par:.2f}x on {cpus} CPUs")
    print(
        f"ideal bound (fit CPU-seconds / CPUs): {ideal:.2f}s; Ray wall / ideal = {par / ideal:.2f}"
    )
    path = save(
        "train",
        {
            "rows": table.n_rows,
            "repeats": args.repeats,
            "cpus": cpus,
            "ray_startup_seconds": startup,
            "parallel_seconds": parallel,
            "sequential_seconds": sequential,
            "fit_cpu_seconds": fit_cpu,
            "speedup": seq / par,
            "parallel_over_ideal": par / ideal,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
