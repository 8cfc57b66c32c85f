"""The seed's whole job at the PRD's scale: every family tuned on a 200,000-row table.

Runs ``uctune run`` (the product, in a subprocess) with a generated config: all five families in
the train stage and in the tune stage, ``--trials`` TPE trials per family (the seed's 100 by
default), ``--folds``-fold CV, then the ensemble, report and register stages as a run does. The
table is ``--data`` (e.g. the NSE sample built as docs/data.md shows;
time split, walk-forward CV) or, without it, ``uctune data synth --rows N`` (stratified).

While the run goes, every process it starts (the driver and its descendants: Ray's GCS, raylet and
workers, found through /proc; processes that existed before are never counted, nor another
session's Ray) is sampled every ``--interval`` seconds for resident memory (each process's peak
is the kernel's high-water mark, VmHWM) and CPU time. Reported:

- wall time per stage (results.json ``stages``) and per family (``tuning.<family>.wall_seconds``);
- trials completed / pruned / failed, best CV score and the tuned model's holdout PR-AUC per family;
- peak RSS of the driver, of each Ray worker (``ray::`` processes) and of the whole process tree;
- CPU utilisation: busy core-seconds of those processes / (wall time x cores).

CPU time is read from /proc at each sample, so a process's last interval before it exits is missed
(at most ``--interval`` s per process); ``cpu.children_rusage_seconds`` (getrusage of reaped
children, which misses Ray workers orphaned on shutdown) is a lower bound to compare against.

    python benchmarks/bench_scale.py                      # 200k synthetic rows, 5 x 100 trials
    python benchmarks/bench_scale.py --data /tmp/nse/sample.parquet --trials 4
    python benchmarks/bench_scale.py --quick              # a smoke run: 2k rows, LR + XGBoost, 3x3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    NICENESS,
    RAY_AGENTS,
    proc_cmdline,
    proc_stat,
    process_tree,
    save,
    synth_file,
)

FAMILIES = ("logistic_regression", "random_forest", "xgboost", "lightgbm", "neural_network")
QUICK_FAMILIES = ("logistic_regression", "xgboost")
MIB = 1024 * 1024


@dataclass
class _Proc:
    """What the sampler saw of one process."""

    pid: int
    kind: str  # driver, worker (ray::...), or ray (GCS, raylet, dashboard...)
    name: str
    peak_rss: int = 0
    cpu_seconds: float = 0.0
    names: set[str] = field(default_factory=set)


def _high_water(pid: int) -> int:
    """The kernel's own peak RSS of ``pid`` so far (VmHWM), in bytes; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _short(cmdline: str) -> str:
    """A process's program: the executable's name, or the script a Python runs."""
    words = cmdline.split() or ["?"]
    name = words[0].rsplit("/", 1)[-1]
    if name.startswith("python"):
        name = next((w.rsplit("/", 1)[-1] for w in words if w.endswith(".py")), name)
    return name


def existing_processes() -> set[tuple[int, int]]:
    """(pid, start time) of every process now running: what a sampler started later ignores."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))) is not None:
            out.add((int(entry), st.started))
    return out


class Sampler(threading.Thread):
    """Polls the process tree under one root pid until stopped."""

    def __init__(self, root: int, interval: float, ignore: set[tuple[int, int]]) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.ignore = root, interval, ignore
        self.procs: dict[int, _Proc] = {}
        self.peak_total = 0
        self.samples = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        while True:
            self.sample()
            if self._halt.wait(self.interval):
                return

    def sample(self) -> None:
        # Descendants of the driver only: other sessions on this machine may run Ray too.
        total = 0
        for pid, st in process_tree(self.root, self.ignore).items():
            cmdline = proc_cmdline(pid)
            proc = self.procs.get(pid)
            if proc is None:
                kind = "driver" if pid == self.root else "ray"
                proc = self.procs[pid] = _Proc(pid, kind, _short(cmdline))
            if cmdline.startswith("ray::"):
                name = cmdline.split()[0]
                if name in RAY_AGENTS:
                    proc.name = name
                else:
                    proc.kind = "worker"  # a worker renames itself after it starts
                    proc.names.add(name)
            # VmHWM also holds peaks between samples.
            proc.peak_rss = max(proc.peak_rss, st.rss, _high_water(pid))
            proc.cpu_seconds = max(proc.cpu_seconds, st.cpu_seconds)
            total += st.rss
        self.peak_total = max(self.peak_total, total)
        self.samples += 1


def _config(
    args: argparse.Namespace,
    families: tuple[str, ...],
    tuned: tuple[str, ...],
    data: Path,
    registry: Path,
) -> str:
    import yaml

    split = args.split or ("time" if args.data else "stratified")
    config = {
        "data": str(data),
        "seed": args.seed,
        "split": {"method": split, "test_size": 0.2},
        "train": {"families": list(families), "cv_folds": args.folds},
        "tune": {
            "families": list(tuned),
            "trials": args.trials,
            "fidelity": args.fidelity,
            "reduction_factor": args.reduction_factor,
        },
        "registry": {"path": str(registry)},
    }
    if args.quick:  # a smoke run: a small report (SHAP on 40 rows, 200 bootstrap resamples)
        config["report"] = {"shap_rows": 40, "background_size": 40, "bootstrap": 200}
    return yaml.safe_dump(config, sort_keys=False)


def _family_figures(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family, t in results.get("tuning", {}).items():
        holdout = t.get("refit", {}).get("holdout", {}).get("at_threshold", {})
        untuned = results.get("families", {}).get(family, {}).get("holdout", {})
        out[family] = {
            "wall_seconds": t.get("wall_seconds"),
            "trials": t.get("n_trials"),
            "completed": t.get("completed"),
            "pruned": t.get("pruned"),
            "failed": t.get("failed"),
            "metric": t.get("metric"),
            "best_cv_score": t.get("best_score"),
            "holdout_pr_auc": holdout.get("pr_auc"),
            "untuned_holdout_pr_auc": untuned.get("at_threshold", {}).get("pr_auc"),
            "finished": True,
        }
    return out


def _studies(run_dir: Path) -> dict[str, Any]:
    """Each tuned family's trials as its Optuna study holds them, finished or not: the state
    counts and every ended trial's wall time (what a cut-short search is extrapolated from)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: dict[str, Any] = {}
    for db in sorted(run_dir.glob("tune/*/study.db")):
        family = db.parent.name
        storage = f"sqlite:///{db}"
        if family not in optuna.get_all_study_names(storage):
            continue  # stopped between creating the file and creating the study in it
        trials = optuna.load_study(study_name=family, storage=storage).trials
        states = Counter(t.state.name for t in trials)
        scores = [t.value for t in trials if t.state.name == "COMPLETE" and t.value is not None]
        out[family] = {
            "completed": states["COMPLETE"],
            "pruned": states["PRUNED"],
            "failed": states["FAIL"],
            "running": states["RUNNING"],
            "best_cv_score": max(scores, default=None),
            "trial_seconds": [t.duration.total_seconds() for t in trials if t.duration],
            # The fitting threads' CPU time, every ended trial: what the search's ideal bound is.
            "fit_cpu_seconds": sum(
                float((t.user_attrs.get("cv") or {}).get("fit_cpu_seconds") or 0.0) for t in trials
            ),
            # How many trials ended at each fidelity budget (JSON keys: the budget).
            "budgets": dict(
                Counter(str((t.user_attrs.get("cv") or {}).get("budget") or 0) for t in trials)
            ),
        }
    return out


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Interrupt the run as Ctrl-C does (it saves its state and stays resumable); then SIGTERM,
    then SIGKILL to every process of its session, ``grace`` seconds apart. (Ray Tune's SIGINT
    handler outlives a search: a Ctrl-C during the refit that follows is only logged.)"""
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc.send_signal(sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _memory(sampler: Sampler) -> dict[str, Any]:
    procs = sampler.procs.values()
    driver = [p for p in procs if p.kind == "driver"]
    workers = sorted((p for p in procs if p.kind == "worker"), key=lambda p: -p.peak_rss)
    ray_system = [p for p in procs if p.kind == "ray"]
    return {
        "driver_pid": sampler.root,
        "driver_peak_mib": max((p.peak_rss for p in driver), default=0) / MIB,
        "worker_peak_mib": max((p.peak_rss for p in workers), default=0) / MIB,
        "workers": [
            {
                "pid": p.pid,
                "peak_mib": p.peak_rss / MIB,
                "cpu_seconds": p.cpu_seconds,
                "names": sorted(p.names),
            }
            for p in workers
        ],
        "ray_system": [
            {"pid": p.pid, "name": p.name, "peak_mib": p.peak_rss / MIB} for p in ray_system
        ],
        "tree_peak_mib": sampler.peak_total / MIB,
    }


def _num(value: float | None, width: int, digits: int = 4) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None, help="table to run on (e.g. the NSE sample)"
    )
    parser.add_argument("--rows", type=int, default=200_000, help="synthetic rows without --data")
    parser.add_argument("--trials", type=int, default=100, help="TPE trials per family")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--fidelity",
        choices=("auto", "folds", "rows"),
        default="auto",
        help="tune.fidelity: what ASHA's budget grows (auto: rows on large tables)",
    )
    parser.add_argument(
        "--reduction-factor",
        type=int,
        default=3,
        help="tune.reduction_factor (3: subsamples of 1/9 and 1/3 of a fold's rows)",
    )
    parser.add_argument("--families", default=",".join(FAMILIES), help="trained and tuned")
    parser.add_argument(
        "--tune-families",
        default=None,
        help="tuned, if not all of --families (the seed's job: xgboost,lightgbm,neural_network)",
    )
    parser.add_argument(
        "--split",
        choices=("stratified", "time"),
        default=None,
        help="default: time with --data, else stratified",
    )
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the run's local Ray")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.5, help="sampling interval, seconds")
    parser.add_argument("--worker-niceness", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2,000 rows, LR and XGBoost, 3 trials x 3 folds, a small report",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds: then interrupt the run and report what it finished (JSON complete: false)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directory here")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.trials, args.folds = 2_000, 3, 3
        args.families = ",".join(QUICK_FAMILIES)
    families = tuple(f for f in args.families.split(",") if f)
    tuned = tuple(f for f in (args.tune_families or args.families).split(",") if f)
    unknown = sorted((set(families) | set(tuned)) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    if not set(tuned) <= set(families):
        parser.error(f"--tune-families must be among --families, got {','.join(tuned)!r}")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data must be an existing table file, got {str(args.data)!r}")

    from uctune.cluster import loopback_env

    env = {**os.environ, **loopback_env(), NICENESS: str(args.worker_niceness)}
    os.environ.update(loopback_env())  # _common.machine() imports Ray
    cores = args.num_cpus or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        data = args.data
        if data is None:
            data = synth_file(args.rows, args.data_seed, base / "synth.parquet", env)
        config = base / "config.yaml"
        config.write_text(_config(args, families, tuned, data, base / "registry"))
        run_dir = base / "run"
        command = [
            sys.executable,
            "-m",
            "uctune",
            "run",
            "--config",
            str(config),
            "--out",
            str(run_dir),
        ]
        if args.num_cpus:
            command += ["--num-cpus", str(args.num_cpus)]
        before = existing_processes()
        log = (base / "run.log").open("w")
        started = time.perf_counter()
        # A session of its own, so that a run which ignores the interrupt can be killed whole.
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        sampler = Sampler(proc.pid, args.interval, before)
        sampler.start()
        stopped = False
        try:
            code = proc.wait(args.time_limit)
        except subprocess.TimeoutExpired:
            stopped = True
            _stop(proc, grace=60)
            code = proc.returncode
        wall = time.perf_counter() - started
        sampler.stop()
        log.close()
        if code != 0 and not stopped:
            tail = (base / "run.log").read_text()[-3000:]
            sys.exit(f"bench_scale: `{' '.join(command)}` failed with exit {code}:\n{tail}")
        results_file = run_dir / "results.json"
        results = json.loads(results_file.read_text()) if results_file.is_file() else {}
        studies = _studies(run_dir)

    rusage = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = sum(p.cpu_seconds for p in sampler.procs.values())
    per_family = _family_figures(results)
    for family, study in studies.items():
        if family in per_family:
            for key in ("trial_seconds", "fit_cpu_seconds", "budgets"):
                per_family[family][key] = study[key]
        else:  # stopped by --time-limit before its search ended
            per_family[family] = {"finished": False, "wall_seconds": None} | study
    memory = _memory(sampler)
    stages = {k: v.get("seconds") for k, v in results.get("stages", {}).items()}
    fit_cpu = sum(f.get("fit_cpu_seconds", 0.0) for f in studies.values())
    search_wall = max(
        (t.get("wall_seconds") or 0.0 for t in results.get("tuning", {}).values()), default=0.0
    )
    search = {
        # The families' searches are one experiment: its wall time against the trials' fit
        # CPU-seconds spread over the cores (the ideal bound).
        "wall_seconds": search_wall or None,
        "fit_cpu_seconds": fit_cpu,
        "ideal_seconds": fit_cpu / cores,
        "overhead": search_wall / (fit_cpu / cores) if search_wall and fit_cpu else None,
    }
    cpu = {
        "cores": cores,
        "busy_core_seconds": busy,
        "utilisation": busy / (wall * cores),
        "by_kind": {
            kind: sum(p.cpu_seconds for p in sampler.procs.values() if p.kind == kind)
            for kind in ("driver", "worker", "ray")
        },
        "children_rusage_seconds": rusage.ru_utime + rusage.ru_stime,
        "samples": sampler.samples,
        "interval_seconds": args.interval,
    }
    info = results.get("data", {})

    print(
        f"data: {info.get('source')}  rows {info.get('rows')}  positive rate "
        f"{info.get('positive_rate', 0):.4f}  features {len(info.get('features', []))}"
    )
    print(
        f"{len(families)} families trained, {len(tuned)} tuned x {args.trials} trials x "
        f"{args.folds}-fold CV on {cores} cores; "
        f"run wall {wall:.1f}s"
    )
    print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items() if v is not None))
    print(
        f"{'family':20} {'wall s':>8} {'done':>5} {'pruned':>6} {'failed':>6} "
        f"{'best CV':>8} {'holdout PR-AUC':>15} {'untuned':>8}"
    )
    for family, f in per_family.items():
        print(
            f"{family:20} {_num(f['wall_seconds'], 8, 1)} {f['completed']:5d} {f['pruned']:6d} "
            f"{f['failed']:6d} {_num(f['best_cv_score'], 8)} {_num(f.get('holdout_pr_auc'), 15)} "
            f"{_num(f.get('untuned_holdout_pr_auc'), 8)}"
            + ("" if f["finished"] else f"  stopped, {f['running']} trial(s) running")
        )
    if search["overhead"]:
        print(
            f"search: wall {search['wall_seconds']:.1f}s vs ideal bound {search['ideal_seconds']:.1f}s "
            f"(fit CPU {fit_cpu:.0f}s / {cores} cores) = {search['overhead']:.3f}x"
        )
    if stopped:
        print(f"stopped by --time-limit {args.time_limit:.0f}s: the run is incomplete")
    print(
        f"peak RSS: driver {memory['driver_peak_mib']:.0f} MiB, largest Ray worker "
        f"{memory['worker_peak_mib']:.0f} MiB ({len(memory['workers'])} workers), whole tree "
        f"{memory['tree_peak_mib']:.0f} MiB"
    )
    print(
        f"CPU: {busy:.0f} busy core-seconds / ({wall:.0f}s x {cores} cores) = "
        f"{100 * cpu['utilisation']:.1f} %  (driver {cpu['by_kind']['driver']:.0f}s, workers "
        f"{cpu['by_kind']['worker']:.0f}s, Ray system {cpu['by_kind']['ray']:.0f}s)"
    )
    path = save(
        "scale",
        {
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "families": list(families),
            "tuned_families": list(tuned),
            "data": {k: info.get(k) for k in ("source", "rows", "positives", "positive_rate")}
            | {"features": len(info.get("features", []))},
            "complete": not stopped,
            "wall_seconds": wall,
            "stages": stages,
            "timing": results.get("timing", {}),
            "tuning": per_family,
            "search": search,
            "memory": memory,
            "cpu": cpu,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
