"""Helpers shared by the benchmark scripts: machine facts and a JSON record per run."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# -- test-split scores, shared by the benchmarks that read finished runs ---------------------------

# The project's final holdout: the July-August 2026 results events. No benchmark scores them.
HOLDOUT = ("2026-07-01", "2026-09-01")  # [from, until)
AUC_METRICS = ("pr_auc", "roc_auc")


def holdout_rows(dates: Any) -> int:
    """How many of ``dates`` fall in :data:`HOLDOUT`."""
    import pandas as pd

    dates = pd.to_datetime(pd.Series(dates))
    return int(((dates >= pd.Timestamp(HOLDOUT[0])) & (dates < pd.Timestamp(HOLDOUT[1]))).sum())


def model_columns(predictions: Any, label: str) -> list[str]:
    """The model columns of a run's predictions.csv (or oof.csv): all but rows, folds, the label
    and the id columns."""
    from uctune.data.schema import DATE_COLUMNS, ID_COLUMNS

    skip = {"row", "fold", label, *ID_COLUMNS, *DATE_COLUMNS}
    return [c for c in predictions.columns if c not in skip]


def oof_pr_auc(oof: Any, label: str, models: Sequence[str]) -> dict[str, float]:
    """Each of ``models``' PR-AUC on its out-of-fold predictions (a run's oof.csv), over the rows
    it has one for (walk-forward CV leaves the earliest rows out); models without both classes
    there are left out."""
    from sklearn.metrics import average_precision_score

    scores = {}
    for m in models:
        if m in oof.columns:
            rows = oof[m].notna()
            if rows.any() and oof.loc[rows, label].nunique() == 2:
                scores[m] = float(average_precision_score(oof.loc[rows, label], oof.loc[rows, m]))
    return scores


def auc_scores(y: Any, p: Any) -> dict[str, float]:
    """Test PR-AUC (average precision) and ROC-AUC of probabilities ``p``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"pr_auc": float(average_precision_score(y, p)), "roc_auc": float(roc_auc_score(y, p))}


def paired_difference(
    y: Any, a: Any, b: Any, *, resamples: int, seed: int
) -> dict[str, dict[str, Any]]:
    """A minus B: test PR-AUC and ROC-AUC, each with its paired percentile bootstrap 95 % interval
    (:func:`uctune.evaluation.difference_intervals`, the rows resampled with ``seed``)."""
    from uctune.evaluation import difference_intervals

    intervals = difference_intervals(y, a, 0.5, b, 0.5, n_resamples=resamples, random_state=seed)
    score_a, score_b = auc_scores(y, a), auc_scores(y, b)
    point = {m: score_a[m] - score_b[m] for m in AUC_METRICS}
    return {
        m: {
            "point": point[m],
            "low": intervals[m].low,
            "high": intervals[m].high,
            "level": intervals[m].level,
            "resamples": intervals[m].resamples,
        }
        for m in AUC_METRICS
    }


def verdict(difference: Mapping[str, Any]) -> str:
    """better / worse: the interval excludes 0 on that side; tie otherwise."""
    low, high = difference.get("low"), difference.get("high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "undefined"
    return "better" if low > 0 else "worse" if high < 0 else "tie"


def json_ready(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt_num(value: Any, width: int, digits: int = 3, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:{'+' if sign else ''}{width}.{digits}f}"


def fmt_diff(d: Mapping[str, Any] | None) -> str:
    """A paired difference as ``+0.012 [+0.003, +0.021]``."""
    if not d:
        return f"{'-':>24}"
    return f"{d['point']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


NICENESS = "RAY_worker_niceness"  # read by each raylet when it starts


def add_search_arguments(
    parser: argparse.ArgumentParser, *, repeats_help: str, quick_help: str
) -> None:
    """The options every tuning benchmark shares: the synthetic rows, the search's size and seeds,
    rounds, a --quick smoke mode, Ray workers' niceness and where the JSON goes."""
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--family", default="xgboost")
    parser.add_argument("--repeats", type=int, default=1, help=repeats_help)
    parser.add_argument("--seed", type=int, default=42, help="TPE, folds and model seed")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--worker-niceness",
        type=int,
        default=0,
        help="niceness of Ray's worker processes (Ray's default is 15, which on a busy machine "
        "starves them next to work in this process, which runs at 0)",
    )
    parser.add_argument("--out", type=Path, default=None)


def synthetic_rows(rows: int, data_seed: int) -> Any:
    """The benchmarks' shared data: ``rows`` synthetic events (seeded), validated."""
    from uctune.data import generate, validate_table

    return validate_table(generate(rows, seed=data_seed)[0], source=f"synthetic {rows} rows")


def synth_file(rows: int, data_seed: int, out: Path, env: dict[str, str] | None = None) -> Path:
    """``rows`` synthetic events written to ``out`` by ``uctune data synth`` (as a user makes them)."""
    command = [sys.executable, "-m", "uctune", "data", "synth", "--rows", str(rows)]
    command += ["--seed", str(data_seed), "--out", str(out)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    return out


# -- processes, read from /proc ----------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# Ray's per-node agents rename themselves "ray::..." as workers do, but run no task.
RAY_AGENTS = ("ray::RuntimeEnvAgent", "ray::DashboardAgent")


@dataclass(frozen=True)
class ProcStat:
    ppid: int
    cpu_seconds: float  # user + system
    rss: int  # bytes
    started: int  # clock ticks after boot: with the pid, names a process even if pids are reused


def proc_stat(pid: int) -> ProcStat | None:
    """What /proc/<pid>/stat says of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    # The command name in field 2 may hold spaces and parentheses: split after its last ")".
    rest = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(rest[11]) + int(rest[12])) / TICK
    return ProcStat(int(rest[1]), cpu, int(rest[21]) * PAGE, int(rest[19]))


def proc_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def process_tree(
    root: int, ignore: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset()
) -> dict[int, ProcStat]:
    """``root`` and every process under it now (not another session's Ray), but those in
    ``ignore`` (pid, start time)."""
    stats: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        st = proc_stat(int(entry)) if entry.isdigit() else None
        if st is not None and (int(entry), st.started) not in ignore:
            stats[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, st in stats.items():
        children.setdefault(st.ppid, []).append(pid)
    tree: dict[int, ProcStat] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid]
            frontier.extend(children.get(pid, []))
    return tree


def cpu_by_process(root: int) -> dict[tuple[int, int], tuple[str, float]]:
    """CPU seconds so far of ``root`` and every process under it, by (pid, start time), with its
    kind: ``driver`` (root), ``trials`` (Ray workers: ``ray::`` processes but Ray's agents) or
    ``ray`` (GCS, raylet, agents, dashboard)."""
    out: dict[tuple[int, int], tuple[str, float]] = {}
    for pid, st in process_tree(root).items():
        name = proc_cmdline(pid).split(" ", 1)[0]
        worker = name.startswith("ray::") and name not in RAY_AGENTS
        kind = "driver" if pid == root else "trials" if worker else "ray"
        out[(pid, st.started)] = (kind, st.cpu_seconds)
    return out


class CpuSampler(threading.Thread):
    """Reads :func:`cpu_by_process` under ``root`` every ``interval`` seconds until stopped, so that
    workers that exit before the end are counted (but for their last interval); ``spent()`` is
    the CPU seconds by kind since the sampler started."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.before = cpu_by_process(root)
        self.last = dict(self.before)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self._read()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self._read()

    def _read(self) -> None:
        for key, (kind, cpu) in cpu_by_process(self.root).items():
            # A worker is a worker once seen as one: exited but not yet reaped, it has no name.
            seen = self.last.get(key, (kind, 0.0))[0]
            self.last[key] = (seen if seen != "ray" else kind, cpu)

    def spent(self) -> dict[str, float]:
        out: Counter[str] = Counter()
        for key, (kind, cpu) in self.last.items():
            out[kind] += cpu - self.before.get(key, (kind, 0.0))[1]
        return dict(out)
