"""The same search on a one-node Ray and on a two-node loopback cluster with the same CPUs.

    local    one raylet with 2 CPUs           (ray.init(address="local", num_cpus=2))
    cluster  a head and a worker, 1 CPU each  (uctune.cluster.LocalCluster; this process drives it)

Both run uctune's tuner (uctune.tuning.tune_family, no pruning, one CPU and one thread per trial)
on the same synthetic rows: XGBoost, 24 trials x 5 folds by default, and the very same 24
configurations (the defaults, then seeded random draws, enqueued in the study): TPE's own
proposals depend on the order in which concurrent trials finish, so two TPE searches do different
work and their wall times compare more than the cluster path (`--tpe` lets TPE propose anyway).
The two cases alternate round by round (--repeats). For each: wall time of the search (Ray or
cluster start-up excluded, reported apart), best score, completed trials, the nodes the trials ran
on, and wall time over the ideal bound (the trials' fit CPU-seconds / the 2 CPUs). The figure is
cluster wall / local wall (median over rounds); the target is at most 1.10. Prints a table and
writes JSON to benchmarks/results/.

    python benchmarks/bench_cluster.py               # 20k rows, XGBoost, 24 trials x 5 folds
    python benchmarks/bench_cluster.py --repeats 3   # three rounds, medians
    python benchmarks/bench_cluster.py --quick       # a smoke run: 2k rows, 4 trials x 3 folds
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# A loopback cluster needs its settings in the environment before ray is first imported (Ray reads
# them once); importing uctune.cluster does not import ray. Both cases run with them, so they
# differ in the nodes only. Every Ray here is started by this script: never join another one.
from uctune.cluster import loopback_env

os.environ.update(loopback_env())
os.environ.pop("RAY_ADDRESS", None)

import argparse  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import AbstractContextManager, contextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import NICENESS, add_search_arguments, save, synthetic_rows  # noqa: E402

CASES = ("local", "cluster")
LABELS = {
    "local": "one node, 2 CPUs",
    "cluster": "two nodes, 1 CPU each",
}
CPUS = 2
TARGET = 1.10


@contextmanager
def local_ray() -> Iterator[dict[str, Any]]:
    """A fresh one-node Ray with 2 CPUs, this process its driver; shut down when the block ends."""
    from uctune.cluster import ray_session

    started = time.perf_counter()
    with ray_session("local", num_cpus=CPUS):
        yield {"startup_seconds": time.perf_counter() - started}


@contextmanager
def cluster_ray() -> Iterator[dict[str, Any]]:
    """A head and one worker node (1 CPU each) on loopback, this process their driver; the driver
    disconnects and every node stops when the block ends, failed or not."""
    from uctune.cluster import LocalCluster, ray_session

    cluster = LocalCluster(workers=1, cpus_per_worker=1, head_cpus=1)
    started = time.perf_counter()
    try:
        cluster.start()
        with ray_session(cluster.address):  # ray.shutdown() on the way out, failed or not
            yield {"startup_seconds": time.perf_counter() - started}
    finally:
        cluster.shutdown()


SESSIONS: dict[str, Callable[[], AbstractContextManager[dict[str, Any]]]] = {
    "local": local_ray,
    "cluster": cluster_ray,
}


class Problem:
    """The data and settings both cases share (bench_tune.py's rows, seeds and family)."""

    def __init__(self, args: argparse.Namespace) -> None:
        from uctune.models import get_spec
        from uctune.training import FitSettings
        from uctune.tuning import TuneSettings

        table = synthetic_rows(args.rows, args.data_seed)
        self.X, self.y = table.X, table.y
        self.n_features = len(table.features)
        self.family = get_spec(args.family).name
        self.settings = TuneSettings(
            n_trials=args.trials,
            pruning=False,
            fit=FitSettings(seed=args.seed, n_folds=args.folds, cpus_per_fit=1),
        )
        self.configs = (
            fixed_configs(self.family, args.trials, args.seed) if args.same_configs else []
        )


def fixed_configs(family: str, n: int, seed: int) -> list[dict[str, Any]]:
    """The family's defaults, then seeded random draws from its search space: the very same
    configurations for both cases. TPE's own proposals depend on the order in which concurrent
    trials finish, which differs from run to run, so two TPE searches do different work."""
    import optuna

    from uctune.models import get_spec

    spec = get_spec(family)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    draws = [study.ask(dict(spec.search_space)).params for _ in range(n - 1)]
    return [{k: spec.defaults[k] for k in spec.search_space}, *draws]


def _enqueued_study(folder: Path, family: str, configs: list[dict[str, Any]]) -> None:
    """A study in ``folder`` whose first trials are ``configs``, for tune_family(resume=True)
    to run in that order (Optuna hands out enqueued trials first)."""
    from uctune.tuning import STUDY_FILE
    from uctune.tuning._study import open_study, study_storage

    study = open_study(study_storage(folder / STUDY_FILE), family)
    for config in configs:
        study.enqueue_trial(config)


def run_case(case: str, problem: Problem) -> dict[str, Any]:
    """Start the case's Ray, run the search into a fresh temporary directory, stop everything."""
    import ray

    from uctune.cluster import cluster_cpus, cluster_nodes
    from uctune.tuning import tune_family

    if ray.is_initialized():
        raise RuntimeError("a Ray is still connected from before; this case must start its own")
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{case}-"))
    try:
        with SESSIONS[case]() as session:
            cores = cluster_cpus()
            ray_nodes = len(cluster_nodes())
            if problem.configs:
                _enqueued_study(tmp / "study", problem.family, problem.configs)
            started = time.perf_counter()
            result = tune_family(
                problem.family,
                problem.X,
                problem.y,
                experiment_dir=tmp / "study",
                settings=problem.settings,
                resume=bool(problem.configs),  # the study above holds the configurations
            )
            wall = time.perf_counter() - started
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per_node = Counter(t.node for t in result.trials if t.node)
    fit_cpu = sum(t.fit_cpu_seconds for t in result.trials)
    ideal = fit_cpu / cores if cores else None
    return {
        "wall": wall,
        "tuner_wall": result.wall_seconds,
        "startup": session["startup_seconds"],
        "best": result.best_score,
        "completed": result.completed,
        "pruned": result.pruned,
        "failed": result.failed,
        "trials": len(result.trials),
        "cores": cores,
        "ray_nodes": ray_nodes,
        "nodes_used": len(per_node),
        "trials_per_node": sorted(per_node.values(), reverse=True),
        "fit_cpu": fit_cpu,
        "ideal": ideal,
        "ratio": wall / ideal if ideal else None,
        # Per trial, to tell cluster overhead (the same configuration costing more) from TPE's
        # choices (other configurations): trial 0 is the family's defaults in both cases.
        "per_trial": [
            {
                "trial": t.number,
                "node": t.node,
                "seconds": t.seconds,
                "fit_cpu_seconds": t.fit_cpu_seconds,
                "params": dict(t.params),
            }
            for t in result.trials
        ],
    }


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM as Ctrl-C, so the finally blocks disconnect the driver and stop every node started
    # here. (While a driver is connected, ray.init's own handler, sys.exit, does the same.)
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_search_arguments(
        parser,
        repeats_help="rounds of both cases (medians)",
        quick_help="smoke run: 2k rows, 4 trials x 3 folds",
    )
    parser.add_argument(
        "--tpe",
        dest="same_configs",
        action="store_false",
        help="let TPE propose the trials in each case (they then differ between the cases) "
        "instead of running the same configurations in both",
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.trials, args.folds = 2_000, 4, 3
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    signal.signal(signal.SIGTERM, _terminate)
    os.environ[NICENESS] = str(args.worker_niceness)
    problem = Problem(args)
    date = datetime.now(UTC).isoformat(timespec="seconds")
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
    for r in range(args.repeats):
        # Alternate which case goes first, so neither always meets a cold or a warm machine.
        order = CASES if r % 2 == 0 else CASES[::-1]
        for case in order:
            print(f"[round {r + 1}/{args.repeats}] {case} ...", file=sys.stderr, flush=True)
            run = run_case(case, problem)
            run["round"] = r + 1
            runs[case].append(run)
            print(
                f"    wall {run['wall']:.1f}s (start-up {run['startup']:.1f}s apart), "
                f"best {run['best']:.4f}, {run['completed']}/{run['trials']} completed on "
                f"{run['nodes_used']} node(s), wall/ideal {run['ratio']:.2f}",
                file=sys.stderr,
                flush=True,
            )

    def median(case: str, key: str) -> float | None:
        values = [r[key] for r in runs[case] if r[key] is not None]
        return statistics.median(values) if values else None

    summary: dict[str, dict[str, Any]] = {
        case: {
            "wall_seconds": median(case, "wall"),
            "startup_seconds": median(case, "startup"),
            "best_score": median(case, "best"),
            "completed": median(case, "completed"),
            "trials": median(case, "trials"),
            "nodes_used": median(case, "nodes_used"),
            "ray_nodes": median(case, "ray_nodes"),
            "cores": median(case, "cores"),
            "ideal_seconds": median(case, "ideal"),
            "wall_over_ideal": median(case, "ratio"),
        }
        for case in CASES
    }
    # The figure: per round cluster / local, then the median (rounds pair up, so a busy spell on
    # the machine weighs on both cases of its round). Over the ideal bounds as well: TPE's choices
    # differ between the cases (trials finish in another order), so their trials cost differently.
    ratios = [
        c["wall"] / loc["wall"] for loc, c in zip(runs["local"], runs["cluster"], strict=True)
    ]
    ratio = statistics.median(ratios)
    local_wall, cluster_wall = summary["local"]["wall_seconds"], summary["cluster"]["wall_seconds"]
    ratio_of_medians = cluster_wall / local_wall if local_wall and cluster_wall else None
    over_ideal = [
        c["ratio"] / loc["ratio"]
        for loc, c in zip(runs["local"], runs["cluster"], strict=True)
        if c["ratio"] and loc["ratio"]
    ]
    ratio_over_ideal = statistics.median(over_ideal) if over_ideal else None
    met = ratio <= TARGET

    print(
        f"data: {args.rows} synthetic rows x {problem.n_features} features (seed "
        f"{args.data_seed}); {problem.family}, one thread per fit; {args.trials} trials x "
        f"{args.folds} folds, no pruning, 1 CPU per trial (seed {args.seed}); machine "
        f"{os.cpu_count()} cores; {args.repeats} round(s), medians"
    )
    print(
        "configurations: "
        + ("the same in both cases" if problem.configs else "TPE's own in each case (they differ)")
    )
    print(f"Ray start-up not included; Ray worker niceness {os.environ[NICENESS]}")
    header = (
        f"{'case':<24}{'wall s':>9}{'start s':>9}{'best':>9}{'done':>8}{'nodes':>7}"
        f"{'ideal s':>9}{'wall/ideal':>12}"
    )
    print(header)
    print("-" * len(header))

    def fmt(value: float | None, spec: str) -> str:
        return format(value, spec) if value is not None else "-"

    for case, s in summary.items():
        done = f"{fmt(s['completed'], '.0f')}/{fmt(s['trials'], '.0f')}"
        print(
            f"{LABELS[case]:<24}{fmt(s['wall_seconds'], '9.1f')}{fmt(s['startup_seconds'], '9.1f')}"
            f"{fmt(s['best_score'], '9.4f')}{done:>8}{fmt(s['nodes_used'], '7.0f')}"
            f"{fmt(s['ideal_seconds'], '9.1f')}{fmt(s['wall_over_ideal'], '12.2f')}"
        )
    print(
        f"cluster / local wall: {ratio:.3f} (rounds: {', '.join(f'{x:.3f}' for x in ratios)}); "
        f"of wall/ideal: {fmt(ratio_over_ideal, '.3f')}"
    )
    print(f"target ratio <= {TARGET:.2f}: {'met' if met else 'NOT met'}")
    if any(r["nodes_used"] < 2 for r in runs["cluster"]):
        print("warning: in some cluster round the trials ran on fewer than 2 nodes")
    if args.quick:
        print("(--quick: a smoke run; the figure that counts is the full run's)")

    path = save(
        "cluster",
        {
            "date": date,
            "data": {
                "source": "uctune.data.generate (synthetic)",
                "rows": args.rows,
                "features": problem.n_features,
                "data_seed": args.data_seed,
            },
            "settings": {
                "family": problem.family,
                "n_threads_per_fit": problem.settings.fit.cpus_per_fit,
                "trials": args.trials,
                "folds": args.folds,
                "pruning": False,
                "configurations": "the same in both cases (defaults + seeded random draws)"
                if problem.configs
                else "TPE's own in each case",
                "cpus_per_trial": problem.settings.fit.cpus_per_fit,
                "seed": args.seed,
                "repeats": args.repeats,
                "quick": args.quick,
                "ray_worker_niceness": int(os.environ[NICENESS]),
                "local": {"nodes": 1, "num_cpus": CPUS, "dashboard": False},
                "cluster": {
                    "nodes": 2,
                    "head_cpus": 1,
                    "cpus_per_worker": 1,
                    "workers": 1,
                    "dashboard": True,
                },
            },
            "cores": os.cpu_count(),
            "target": {"ratio_at_most": TARGET, "met": met},
            "ratio": ratio,
            "ratios": ratios,
            "ratio_of_median_walls": ratio_of_medians,
            "ratio_of_wall_over_ideal": ratio_over_ideal,
            "summary": summary,
            "runs": runs,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
