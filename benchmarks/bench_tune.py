"""Tuning one family five ways, in one invocation, on the same data and the same trial budget.

    1. plain Optuna, sequential                      (study.optimize, n_jobs=1)
    2. plain Optuna, n_jobs = cores                  (study.optimize, threads)
    3. Ray Tune + OptunaSearch, Tune's defaults      (a fresh worker per trial, one report per trial)
    4. uctune's tuner without pruning                (uctune.tuning.tune_family, pruning=False)
    5. uctune's tuner with pruning                   (the same, ASHA after every fold)

Every contender evaluates a trial the same way (uctune.tuning.cv_steps: stratified k-fold CV, F1 at
the out-of-fold threshold, one thread per fit) with the same seeded TPE sampler (constant liar, the
family's defaults as the first trial). For each: wall time, best score, the best-score-vs-time
trajectory, and wall time over the ideal bound (the trials' own fit CPU-seconds / cores: what a
scheduler with no overhead at all would need). Ray start-up is excluded and reported apart.
Prints a table and writes JSON to benchmarks/results/.

    python benchmarks/bench_tune.py            # 20k rows, XGBoost, 24 trials x 5 folds
    python benchmarks/bench_tune.py --quick    # a smoke run: 4k rows, 8 trials x 3 folds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    NICENESS,
    CpuSampler,
    add_search_arguments,
    save,
    synthetic_rows,
)

CONTENDERS = ("optuna_sequential", "optuna_n_jobs", "ray_tune_default", "uctune", "uctune_pruning")
LABELS = {
    "optuna_sequential": "Optuna, sequential",
    "optuna_n_jobs": "Optuna, n_jobs={cores}",
    "ray_tune_default": "Ray Tune + OptunaSearch, defaults",
    "uctune": "uctune, no pruning",
    "uctune_pruning": "uctune, ASHA pruning",
}


def _sampler(seed: int, n_startup: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=n_startup)


def _suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    params: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, d.choices)
        elif isinstance(d, FloatDistribution):
            params[name] = trial.suggest_float(name, d.low, d.high, log=d.log, step=d.step)
        else:
            params[name] = trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
    return params


def _trajectory(events: list[tuple[float, float | None]]) -> list[list[float]]:
    """``[[seconds, best score so far], ...]`` at every trial that completed (pruned ones do not)."""
    out: list[list[float]] = []
    best = float("-inf")
    for t, score in sorted(events):
        if score is not None and score > best:
            best = score
        if best > float("-inf"):
            out.append([round(t, 2), best])
    return out


def _time_to(trajectory: list[list[float]], target: float) -> float | None:
    return next((t for t, best in trajectory if best >= target - 1e-12), None)


class Problem:
    """The data, folds, space and objective every contender shares."""

    def __init__(self, args: argparse.Namespace) -> None:
        from uctune.models import get_spec
        from uctune.splits import cv_folds
        from uctune.tuning import TuneSettings

        table = synthetic_rows(args.rows, args.data_seed)
        self.X, self.y = table.X, table.y
        self.n_features = len(table.features)
        self.family = get_spec(args.family).name
        self.space = dict(get_spec(self.family).search_space)
        self.defaults = {k: get_spec(self.family).defaults[k] for k in self.space}
        self.folds = cv_folds(self.y, n_splits=args.folds, random_state=args.seed)
        self.trials, self.n_folds, self.seed = args.trials, args.folds, args.seed
        self.n_startup = TuneSettings(n_trials=args.trials).n_startup_trials

    def cv(self, params: dict[str, Any]) -> tuple[float, float]:
        """(score, fit CPU-seconds) of one full trial."""
        from uctune.training import FitSettings
        from uctune.tuning import cv_score

        steps = cv_score(
            self.family, params, self.X, self.y, self.folds, fit=FitSettings(seed=self.seed)
        )
        last = steps[-1]
        return (last.score if last.error is None else float("nan")), sum(
            s.fit_cpu_seconds for s in steps
        )


def run_optuna(problem: Problem, n_jobs: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=_sampler(problem.seed, problem.n_startup)
    )
    study.enqueue_trial(problem.defaults)
    events: list[tuple[float, float | None]] = []
    cpu: list[float] = []
    lock = threading.Lock()
    started = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        score, fit_cpu = problem.cv(_suggest(trial, problem.space))
        with lock:
            events.append((time.perf_counter() - started, score))
            cpu.append(fit_cpu)
        return score

    study.optimize(objective, n_trials=problem.trials, n_jobs=n_jobs)
    wall = time.perf_counter() - started
    return {"wall": wall, "events": events, "fit_cpu": sum(cpu), "pruned": 0}


def run_ray_tune_default(problem: Problem, storage: Path) -> dict[str, Any]:
    """What a user writes from Ray Tune's docs: a function trainable and OptunaSearch, defaults."""
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    def trainable(config: dict[str, Any], problem: Problem) -> None:
        score, fit_cpu = problem.cv(config)
        tune.report({"score": score, "fit_cpu": fit_cpu, "t_end": time.time()})

    searcher = OptunaSearch(
        space=problem.space,
        metric="score",
        mode="max",
        sampler=_sampler(problem.seed, problem.n_startup),
        points_to_evaluate=[problem.defaults],
    )
    tuner = tune.Tuner(
        tune.with_parameters(trainable, problem=problem),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=problem.trials),
        run_config=tune.RunConfig(name="ray_tune_default", storage_path=str(storage), verbose=0),
    )
    wall_start, started = time.time(), time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - started
    events = [(r.metrics["t_end"] - wall_start, r.metrics["score"]) for r in grid if r.metrics]
    fit_cpu = sum(r.metrics["fit_cpu"] for r in grid if r.metrics)
    return {"wall": wall, "events": events, "fit_cpu": fit_cpu, "pruned": 0}


def run_uctune(
    problem: Problem, storage: Path, pruning: bool, args: argparse.Namespace
) -> dict[str, Any]:
    import optuna

    from uctune.training import FitSettings
    from uctune.tuning import STUDY_FILE, TuneSettings, tune_family

    folder = storage / ("uctune_pruning" if pruning else "uctune")
    settings = TuneSettings(
        n_trials=problem.trials,
        pruning=pruning,
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        fit=FitSettings(seed=problem.seed, n_folds=problem.n_folds),
    )
    from uctune.cluster import cluster_cpus

    sampler = CpuSampler(os.getpid())
    sampler.start()
    wall_start, started = datetime.now(), time.perf_counter()
    result = tune_family(
        problem.family, problem.X, problem.y, experiment_dir=folder, settings=settings
    )
    wall = time.perf_counter() - started
    sampler.stop()
    spent = sampler.spent()
    study = optuna.load_study(study_name=problem.family, storage=f"sqlite:///{folder / STUDY_FILE}")
    done = {t.number: t.datetime_complete for t in study.trials}
    events: list[tuple[float, float | None]] = []
    for t in result.trials:
        when = done.get(t.number)
        if when is not None:
            score = t.score if t.status == "completed" else None
            events.append(((when - wall_start).total_seconds(), score))
    fit_cpu = sum(t.fit_cpu_seconds for t in result.trials)
    available = wall * cluster_cpus()
    return {
        "wall": wall,
        "events": events,
        "fit_cpu": fit_cpu,
        "pruned": result.pruned,
        # Where the cores' time went (CPU-seconds): the trials' fits, the rest of the trial
        # workers' time (scoring, reporting, Ray's worker threads), the driver (Tune's loop,
        # TPE, the study), Ray's own processes, and idle cores (start-up, a last trial alone).
        "cpu": {
            "available": available,
            "fits": fit_cpu,
            "trial_workers_besides_fits": spent.get("trials", 0.0) - fit_cpu,
            "driver": spent.get("driver", 0.0),
            "ray_processes": spent.get("ray", 0.0),
            "idle": available - sum(spent.values()),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_search_arguments(
        parser,
        repeats_help="rounds of all contenders (medians)",
        quick_help="smoke run: 4k rows, 8 trials x 3 folds",
    )
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--reduction-factor", type=int, default=2)
    parser.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders")
    parser.add_argument("--num-cpus", type=int, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.trials, args.folds = 4_000, 8, 3
    chosen = [c for c in args.only.split(",") if c]
    unknown = sorted(set(chosen) - set(CONTENDERS))
    if unknown:
        parser.error(f"unknown contender {unknown[0]!r}; choose from {', '.join(CONTENDERS)}")

    from uctune.cluster import cluster_cpus, ray_session

    os.environ.setdefault(NICENESS, str(args.worker_niceness))
    problem = Problem(args)
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in chosen}
    t0 = time.perf_counter()
    with ray_session(num_cpus=args.num_cpus), tempfile.TemporaryDirectory() as tmp:
        startup = time.perf_counter() - t0
        cores = cluster_cpus()
        jobs: dict[str, Callable[[Path], dict[str, Any]]] = {
            "optuna_sequential": lambda _: run_optuna(problem, 1),
            "optuna_n_jobs": lambda _: run_optuna(problem, cores),
            "ray_tune_default": lambda d: run_ray_tune_default(problem, d),
            "uctune": lambda d: run_uctune(problem, d, False, args),
            "uctune_pruning": lambda d: run_uctune(problem, d, True, args),
        }
        for r in range(args.repeats):
            for name in chosen:
                print(f"[round {r + 1}/{args.repeats}] {name} ...", file=sys.stderr, flush=True)
                run = jobs[name](Path(tmp) / f"{name}-{r}")
                run["trajectory"] = _trajectory(run.pop("events"))
                run["best"] = run["trajectory"][-1][1] if run["trajectory"] else None
                run["ideal"] = run["fit_cpu"] / cores
                run["ratio"] = run["wall"] / run["ideal"] if run["ideal"] else None
                runs[name].append(run)
                print(
                    f"    wall {run['wall']:.1f}s, best {run['best']}, "
                    f"wall/ideal {run['ratio']:.2f}",
                    file=sys.stderr,
                    flush=True,
                )

    def median(name: str, key: str) -> float | None:
        values = [r[key] for r in runs[name] if r[key] is not None]
        return statistics.median(values) if values else None

    target_name = "optuna_n_jobs" if "optuna_n_jobs" in runs else chosen[0]
    target = median(target_name, "best")
    # The best score every contender reached: who gets there first is comparable across all of
    # them, whatever luck each had later in its search.
    bests = [median(name, "best") for name in chosen]
    common = min(b for b in bests if b is not None) if any(b is not None for b in bests) else None

    def reach(name: str, score: float | None) -> float | None:
        times = [_time_to(r["trajectory"], score) for r in runs[name]] if score else []
        found = [t for t in times if t is not None]
        return statistics.median(found) if found else None

    summary: dict[str, dict[str, Any]] = {}
    for name in chosen:
        summary[name] = {
            "wall_seconds": median(name, "wall"),
            "best_score": median(name, "best"),
            "ideal_seconds": median(name, "ideal"),
            "wall_over_ideal": median(name, "ratio"),
            "pruned": median(name, "pruned"),
            "seconds_to_target": reach(name, target),
            "seconds_to_common": reach(name, common),
        }

    print(
        f"data: {args.rows} synthetic rows x {problem.n_features} features; {problem.family}, "
        f"one thread per fit; {args.trials} TPE trials x {args.folds} folds; {cores} CPUs; "
        f"{args.repeats} round(s), medians"
    )
    print(
        f"ray start-up: {startup:.1f}s (not included); Ray worker niceness {os.environ[NICENESS]}"
    )
    print(
        f"'to target': seconds to reach {target_name}'s best ({target}); 'to common': to reach "
        f"the best score all contenders reached ({common})"
    )
    header = (
        f"{'contender':<36}{'wall s':>9}{'best':>9}{'ideal s':>9}{'wall/ideal':>12}"
        f"{'pruned':>8}{'to target s':>13}{'to common s':>13}"
    )
    print(header)
    print("-" * len(header))

    def fmt(value: float | None, spec: str) -> str:
        return format(value, spec) if value is not None else "-"

    for name, s in summary.items():
        print(
            f"{LABELS[name].format(cores=cores):<36}{fmt(s['wall_seconds'], '9.1f')}"
            f"{fmt(s['best_score'], '9.4f')}{fmt(s['ideal_seconds'], '9.1f')}"
            f"{fmt(s['wall_over_ideal'], '12.2f')}{fmt(s['pruned'], '8.0f')}"
            f"{fmt(s['seconds_to_target'], '13.1f')}{fmt(s['seconds_to_common'], '13.1f')}"
        )
    for name in chosen:
        cpu = [r["cpu"] for r in runs[name] if "cpu" in r]
        if cpu:
            parts = {k: statistics.median(c[k] for c in cpu) for k in cpu[0]}
            summary[name]["cpu_seconds"] = parts
            spent = ", ".join(
                f"{k.replace('_', ' ')} {v:.1f} ({100 * v / parts['available']:.1f} %)"
                for k, v in parts.items()
                if k != "available"
            )
            print(f"{LABELS[name]}: of {parts['available']:.1f} core-seconds: {spent}")
    path = save(
        "tune",
        {
            "settings": {
                "rows": args.rows,
                "features": problem.n_features,
                "family": problem.family,
                "trials": args.trials,
                "folds": args.folds,
                "grace_period": args.grace_period,
                "reduction_factor": args.reduction_factor,
                "repeats": args.repeats,
                "seed": args.seed,
                "quick": args.quick,
                "ray_worker_niceness": int(os.environ[NICENESS]),
            },
            "cpus": cores,
            "ray_startup_seconds": startup,
            "target": {"from": target_name, "score": target, "common": common},
            "summary": summary,
            "runs": runs,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
