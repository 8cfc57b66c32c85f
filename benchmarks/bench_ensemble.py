"""Calibration and the ensemble on `make run`'s job: what they buy, and what they cost.

Runs ``uctune run`` (the embedded dataset and the default config, as ``make run`` does, unless
``--data``/``--config`` say otherwise) into a fresh directory, then reads what it wrote:

- every model's test PR-AUC with its bootstrap interval, the ensemble's against the best single
  tuned model's and the best single model's (the issue's target: ensemble >= best tuned + 0.01);
- every model's expected calibration error (10 equal-width bins) and Brier score on the test split,
  before and after calibration, with bootstrap intervals (the target: ECE <= 0.02 after);
- the ensemble's cost: its stage, its share of the report's SHAP time, against the run's wall
  time (the target: under 10 %). ``--compare`` also runs the same job with ``--ensemble off`` and
  reports the difference in wall time directly.

Prints a table and writes JSON to benchmarks/results/. No metric here touches data outside the
run's own test split.

    python benchmarks/bench_ensemble.py [--compare] [--num-cpus N] [--quick] [-- run flags]
    python benchmarks/bench_ensemble.py --run-dir runs/<id>   (a finished run: its stages' times)
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

from _common import save  # noqa: E402

RESAMPLES = 1000


def _run(out: Path, extra: list[str], env: dict[str, str]) -> float:
    command = [sys.executable, "-m", "uctune", "run", "--out", str(out), *extra]
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"bench_ensemble: `{' '.join(command)}` failed:\n{proc.stderr[-3000:]}")
    return wall


def _calibration_intervals(y: Any, p: Any, seed: int) -> dict[str, Any]:
    """ECE and Brier score with percentile bootstrap intervals over the test rows (the report's
    own resamples for this seed)."""
    from uctune.calibration import calibration_scores
    from uctune.evaluation import calibration_intervals

    scores = calibration_scores(y, p)
    intervals = calibration_intervals(y, p, n_resamples=RESAMPLES, random_state=seed)
    return {
        "ece": scores["ece"],
        "ece_interval": [intervals["ece"].low, intervals["ece"].high],
        "brier": scores["brier"],
        "brier_interval": [intervals["brier"].low, intervals["brier"].high],
    }


def _measure(run_dir: Path, seed: int) -> dict[str, Any]:
    import joblib
    import numpy as np
    import pandas as pd

    from uctune.evaluation import bootstrap_intervals
    from uctune.models import CalibratedClassifier
    from uctune.workflow import resume_run

    results = json.loads((run_dir / "results.json").read_text())
    predictions = pd.read_csv(run_dir / "predictions.csv")
    label = "upper_circuit"
    y = predictions[label].to_numpy()
    run = resume_run(run_dir, backend="sequential")  # the run's own table and split
    X_test = run.table.X.iloc[run.split.test_index]
    models: dict[str, Any] = {}
    names = [c for c in predictions.columns if (run_dir / "models" / f"{c}.joblib").is_file()]
    for name in names:
        p = predictions[name].to_numpy(dtype=float)
        model = joblib.load(run_dir / "models" / f"{name}.joblib")
        threshold = float(model.threshold)
        pr = bootstrap_intervals(y, p, threshold, n_resamples=RESAMPLES, random_state=seed)
        inner = model.estimator
        raw = inner.raw_proba(X_test) if isinstance(inner, CalibratedClassifier) else p
        models[name] = {
            "proba": p,
            "threshold": threshold,
            "pr_auc": float(_holdout(results, name)["pr_auc"]),
            "pr_auc_interval": [pr["pr_auc"].low, pr["pr_auc"].high],
            "calibration": getattr(inner, "method_", "none"),
            "before": _calibration_intervals(y, np.asarray(raw, dtype=float), seed),
            "after": _calibration_intervals(y, p, seed),
        }
    if "ensemble" in models:
        from uctune.evaluation import difference_intervals

        ens = models["ensemble"]
        for name, m in models.items():
            if name != "ensemble":
                gap = difference_intervals(
                    y,
                    ens["proba"],
                    ens["threshold"],
                    m["proba"],
                    m["threshold"],
                    n_resamples=RESAMPLES,
                    random_state=seed,
                )["pr_auc"]
                m["ensemble_minus_this_pr_auc_interval"] = [gap.low, gap.high]
    for m in models.values():
        del m["proba"]
    timing = results.get("timing", {})
    report = results.get("report", {})
    shap = report.get("shap_seconds_by_model", {})
    return {
        "models": models,
        "stages": {k: v.get("seconds") for k, v in results.get("stages", {}).items()},
        "ensemble": {
            k: results.get("ensemble", {}).get(k) for k in ("method", "members", "combiner")
        },
        "ensemble_seconds": timing.get("ensemble_wall_seconds", 0.0),
        "ensemble_shap_seconds": shap.get("ensemble", 0.0),
    }


def _holdout(results: dict[str, Any], name: str) -> dict[str, Any]:
    if name == "ensemble":
        return results["ensemble"]["holdout"]["at_threshold"]
    if name.endswith("_tuned"):
        return results["tuning"][name.removesuffix("_tuned")]["refit"]["holdout"]["at_threshold"]
    return results["families"][name]["holdout"]["at_threshold"]


def _fmt(pair: list[float]) -> str:
    return f"[{pair[0]:.3f}, {pair[1]:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also run with --ensemble off")
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--quick", action="store_true", help="2 tuning trials: a smoke run")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="measure this finished run instead of starting one (no wall-time figures)",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("run_args", nargs="*", help="further `uctune run` flags (after --)")
    args = parser.parse_args()

    from uctune.cluster import loopback_env

    env = {**os.environ, **loopback_env()}
    os.environ.update(loopback_env())  # _common.machine() imports Ray
    extra = list(args.run_args)
    if args.num_cpus:
        extra += ["--num-cpus", str(args.num_cpus)]
    if args.quick:
        extra += ["--trials", "2"]
    wall_off = None
    if args.run_dir is not None:
        measured = _measure(args.run_dir, args.seed)
        wall = sum(s or 0.0 for s in measured["stages"].values())
    else:
        with tempfile.TemporaryDirectory() as scratch:
            base = args.keep or Path(scratch)
            env["UCTUNE_REGISTRY"] = str(base / "registry")
            wall = _run(base / "with-ensemble", extra, env)
            measured = _measure(base / "with-ensemble", args.seed)
            if args.compare:
                wall_off = _run(base / "without", [*extra, "--ensemble", "off"], env)

    models = measured["models"]
    tuned = {n: m for n, m in models.items() if n.endswith("_tuned")}
    singles = {n: m for n, m in models.items() if n != "ensemble"}
    best_tuned = max(tuned, key=lambda n: tuned[n]["pr_auc"]) if tuned else None
    best_single = max(singles, key=lambda n: singles[n]["pr_auc"])
    cost = measured["ensemble_seconds"] + measured["ensemble_shap_seconds"]

    print(
        f"{'model':22} {'test PR-AUC [95% CI]':>26} {'calib':>9} {'ECE before':>11} "
        f"{'ECE after [95% CI]':>24} {'Brier before':>13} {'after':>7}"
    )
    for name, m in models.items():
        print(
            f"{name:22} {m['pr_auc']:8.3f} {_fmt(m['pr_auc_interval']):>17} {m['calibration']:>9} "
            f"{m['before']['ece']:11.3f} {m['after']['ece']:8.3f} {_fmt(m['after']['ece_interval']):>15} "
            f"{m['before']['brier']:13.4f} {m['after']['brier']:7.4f}"
        )
    summary: dict[str, Any] = {
        "wall_seconds": wall,
        "ensemble_cost_seconds": cost,
        "ensemble_cost_share": cost / wall,
        "best_single": best_single,
        "best_tuned": best_tuned,
    }
    if "ensemble" in models:
        ens = models["ensemble"]["pr_auc"]
        summary["ensemble_minus_best_single"] = ens - models[best_single]["pr_auc"]
        if best_tuned:
            summary["ensemble_minus_best_tuned"] = ens - models[best_tuned]["pr_auc"]
            print(
                f"ensemble PR-AUC {ens:.3f} {_fmt(models['ensemble']['pr_auc_interval'])} vs best "
                f"tuned {best_tuned} {models[best_tuned]['pr_auc']:.3f} "
                f"{_fmt(models[best_tuned]['pr_auc_interval'])}: "
                f"{summary['ensemble_minus_best_tuned']:+.3f}, paired interval "
                f"{_fmt(models[best_tuned]['ensemble_minus_this_pr_auc_interval'])} (target +0.010)"
            )
        print(
            f"ensemble vs best single model {best_single} "
            f"{models[best_single]['pr_auc']:.3f}: {summary['ensemble_minus_best_single']:+.3f}, "
            f"paired interval {_fmt(models[best_single]['ensemble_minus_this_pr_auc_interval'])}"
        )
    worst = max(m["after"]["ece"] for m in models.values())
    summary["worst_ece_after"] = worst
    print(f"largest ECE after calibration: {worst:.3f} (target <= 0.020)")
    print(
        f"run {wall:.1f}s; ensemble stage {measured['ensemble_seconds']:.1f}s + its SHAP in the "
        f"report {measured['ensemble_shap_seconds']:.1f}s = {100 * cost / wall:.1f} % (target < 10 %)"
    )
    if wall_off is not None:
        summary["wall_seconds_without_ensemble"] = wall_off
        summary["added_share"] = (wall - wall_off) / wall_off
        print(
            f"the same run with --ensemble off: {wall_off:.1f}s, so the ensemble added "
            f"{100 * (wall - wall_off) / wall_off:+.1f} % (run-to-run noise included)"
        )
    path = save(
        "ensemble",
        {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "summary": summary,
            **measured,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
