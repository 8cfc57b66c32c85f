"""Does the multi-fidelity search give up score? The same search with and without it.

Runs ``uctune tune`` (the product, in a subprocess) twice on one table with the same families,
trials, seed, split and folds:

1. ``multi-fidelity``: ``tune.fidelity: rows`` with ASHA (subsamples of the first fold, then folds);
   with ``--early-stopping N`` its boosters also stop early (``early_stopping_rounds: N``, on a
   slice of each fit's training rows);
2. ``full budget``: ``tune.fidelity: folds`` with pruning off: every trial runs every fold.

For each family it reports both searches' fit CPU-seconds and wall time, and the refit best
model's holdout PR-AUC with its bootstrap interval, and the paired bootstrap interval of the
difference (multi-fidelity minus full budget) on the same test rows: an interval that contains 0
says the test split cannot tell the two apart.

    python benchmarks/bench_fidelity.py                          # 60,000 synthetic rows
    python benchmarks/bench_fidelity.py --data /tmp/nse/sample.parquet --trials 30
    python benchmarks/bench_fidelity.py --early-stopping 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save, synth_file  # noqa: E402

MODES = {
    "multi_fidelity": {"fidelity": "rows", "pruning": True},
    "full_budget": {"fidelity": "folds", "pruning": False},
}


def _config(args: argparse.Namespace, data: Path, name: str) -> str:
    import yaml

    from uctune.models import get_spec

    mode = dict(MODES[name])
    families = args.families.split(",")
    if args.early_stopping is not None and name == "multi_fidelity":
        stopping = [f for f in families if "early_stopping_rounds" in get_spec(f).defaults]
        mode["params"] = {f: {"early_stopping_rounds": args.early_stopping} for f in stopping}

    split = args.split or ("time" if args.data else "stratified")
    config = {
        "data": str(data),
        "seed": args.seed,
        "split": {"method": split, "test_size": 0.2},
        "train": {"families": [], "cv_folds": args.folds},
        "tune": {
            "families": families,
            "trials": args.trials,
            "reduction_factor": args.reduction_factor,
            **mode,
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def _run(args: argparse.Namespace, base: Path, data: Path, name: str) -> dict[str, Any]:
    config = base / f"{name}.yaml"
    config.write_text(_config(args, data, name))
    out = base / name
    command = [sys.executable, "-m", "uctune", "tune", "--config", str(config), "--out", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench_fidelity: {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    results = json.loads((out / "results.json").read_text())
    return {
        "wall_seconds": time.perf_counter() - started,
        "results": results,
        "predictions": out / "predictions.csv",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="a table (default: synthetic)")
    parser.add_argument("--rows", type=int, default=60_000, help="synthetic rows without --data")
    parser.add_argument("--families", default="xgboost,lightgbm")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--reduction-factor", type=int, default=3)
    parser.add_argument("--split", choices=("stratified", "time"), default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="ROUNDS",
        help="the multi-fidelity search's boosters stop early after ROUNDS rounds without a "
        "lower log loss on a slice of their training rows",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.early_stopping is not None and args.early_stopping < 1:
        parser.error(f"--early-stopping must be at least 1, got {args.early_stopping}")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data must be an existing table file, got {str(args.data)!r}")

    import pandas as pd
    from sklearn.metrics import average_precision_score

    from uctune.cluster import loopback_env
    from uctune.evaluation import bootstrap_intervals, difference_intervals

    os.environ.update(loopback_env())
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        data = args.data
        if data is None:
            data = synth_file(args.rows, args.data_seed, base / "synth.parquet")
        runs = {name: _run(args, base, data, name) for name in MODES}
        frames = {name: pd.read_csv(run["predictions"]) for name, run in runs.items()}

    fast, full = frames["multi_fidelity"], frames["full_budget"]
    if not fast["row"].equals(full["row"]):
        sys.exit("bench_fidelity: the two runs scored different test rows")
    label = runs["full_budget"]["results"].get("data", {}).get("label", "upper_circuit")
    y = fast[label].to_numpy()
    figures: dict[str, Any] = {}
    for family in args.families.split(","):
        tuned = {n: r["results"]["tuning"][family] for n, r in runs.items()}
        column = f"{family}_tuned"
        cut = {n: t["refit"]["threshold"] for n, t in tuned.items()}
        proba = {n: frames[n][column].to_numpy() for n in MODES}
        point = {n: float(average_precision_score(y, proba[n])) for n in MODES}
        own = {
            n: bootstrap_intervals(y, proba[n], cut[n], n_resamples=args.bootstrap)["pr_auc"]
            for n in MODES
        }
        diff = difference_intervals(
            y,
            fast[column].to_numpy(),
            cut["multi_fidelity"],
            full[column].to_numpy(),
            cut["full_budget"],
            n_resamples=args.bootstrap,
        )["pr_auc"]
        figures[family] = {
            n: {
                "fit_cpu_seconds": tuned[n].get("fit_cpu_seconds"),
                "search_wall_seconds": tuned[n]["wall_seconds"],
                "completed": tuned[n]["completed"],
                "pruned": tuned[n]["pruned"],
                "best_cv_score": tuned[n]["best_score"],
                "holdout_pr_auc": {"point": point[n], "low": own[n].low, "high": own[n].high},
            }
            for n in MODES
        }
        figures[family]["difference_pr_auc"] = {
            "point": point["multi_fidelity"] - point["full_budget"],
            "low": diff.low,
            "high": diff.high,
        }
        within = own["full_budget"].low <= point["multi_fidelity"] <= own["full_budget"].high
        figures[family]["within_full_budget_interval"] = bool(within)
        figures[family]["cpu_ratio"] = (
            tuned["multi_fidelity"]["fit_cpu_seconds"] / tuned["full_budget"]["fit_cpu_seconds"]
        )

    stopping = f"; early stopping after {args.early_stopping} rounds" if args.early_stopping else ""
    print(f"{args.trials} trials x {args.folds}-fold CV per family; rows: {len(y)} test{stopping}")
    print(
        f"{'family':12} {'mode':15} {'fit CPU s':>10} {'wall s':>8} {'pruned':>6} "
        f"{'holdout PR-AUC [95 %]':>26}"
    )
    for family, f in figures.items():
        for n in MODES:
            m = f[n]
            pr = m["holdout_pr_auc"]
            print(
                f"{family:12} {n:15} {m['fit_cpu_seconds']:10.1f} {m['search_wall_seconds']:8.1f} "
                f"{m['pruned']:6d}   {pr['point']:.4f} [{pr['low']:.4f}, {pr['high']:.4f}]"
            )
        d = f["difference_pr_auc"]
        print(
            f"{family:12} difference {d['point']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] "
            f"(paired); fit CPU ratio {f['cpu_ratio']:.3f}; within the full budget's interval: "
            f"{'yes' if f['within_full_budget_interval'] else 'NO'}"
        )
    args_record = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = save("fidelity", {"args": args_record, "families": figures}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
