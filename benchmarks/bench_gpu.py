"""XGBoost on CPUs against XGBoost on a GPU, through uctune's own fits.

Two figures, each the median of ``--repeats`` runs on the same synthetic rows:

* one fit of the XGBoost pipeline (``spec.build(device=...)``), on every core vs on the GPU;
* the train stage for XGBoost alone (5-fold CV and the refit) on a local Ray, ``device: cpu``
  (one core per fit, fits in parallel) vs ``device: cuda`` (one GPU per fit).

Needs a GPU that XGBoost can see: without one it says so in one line and exits 2 (XGBoost would
silently fall back to its CPU code, and the comparison would mean nothing).

    python benchmarks/bench_gpu.py --rows 200000 --estimators 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from typing import Any

from _common import save, synthetic_rows

from uctune.cluster import loopback_env


def gpu_visible() -> bool:
    """Whether XGBoost finds a GPU (it warns, then fits on CPUs, when it does not)."""
    import numpy as np
    import xgboost as xgb

    X = np.random.default_rng(0).random((64, 3))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        xgb.XGBClassifier(n_estimators=2, device="cuda").fit(X, X[:, 0] > 0.5)
    return not any("No visible GPU" in str(w.message) for w in seen)


def fit_seconds(table: Any, params: dict[str, Any], device: str, threads: int) -> float:
    from uctune.models import get_spec
    from uctune.training import positive_weight

    model = get_spec("xgboost").build(
        params, n_threads=threads, pos_weight=positive_weight(table.y), device=device
    )
    started = time.perf_counter()
    model.fit(table.X, table.y)
    return time.perf_counter() - started


def stage_seconds(table: Any, params: dict[str, Any], device: str) -> float:
    from uctune.training import FitSettings, make_split, train_families

    split = make_split(table, seed=42)
    started = time.perf_counter()
    train_families(
        table,
        split,
        families=["xgboost"],
        params={"xgboost": params},
        fit=FitSettings(device=device),
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--estimators", type=int, default=500)
    parser.add_argument("--max-depth", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    if not gpu_visible():
        print(
            "bench_gpu: XGBoost sees no GPU on this machine; run it where one is", file=sys.stderr
        )
        return 2
    os.environ.update(loopback_env())
    import ray

    table = synthetic_rows(args.rows, args.data_seed)
    params = {"n_estimators": args.estimators, "max_depth": args.max_depth}
    cores = os.cpu_count() or 1
    figures: dict[str, Any] = {"rows": args.rows, "params": params, "cores": cores}
    for device in ("cpu", "cuda"):
        runs = [fit_seconds(table, params, device, cores) for _ in range(args.repeats)]
        figures[f"fit_{device}_seconds"] = statistics.median(runs)
        print(f"one fit, {device:4}: {figures[f'fit_{device}_seconds']:.2f} s (median of {runs})")
    ray.init(address="local", num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        for device in ("cpu", "cuda"):
            runs = [stage_seconds(table, params, device) for _ in range(args.repeats)]
            figures[f"train_stage_{device}_seconds"] = statistics.median(runs)
            print(f"train stage (5 folds + refit), {device:4}: {statistics.median(runs):.2f} s")
    finally:
        ray.shutdown()
    figures["fit_speedup"] = figures["fit_cpu_seconds"] / figures["fit_cuda_seconds"]
    figures["train_stage_speedup"] = (
        figures["train_stage_cpu_seconds"] / figures["train_stage_cuda_seconds"]
    )
    print(
        f"GPU speed-up: one fit {figures['fit_speedup']:.2f}x, "
        f"train stage {figures['train_stage_speedup']:.2f}x"
    )
    print(f"wrote {save('gpu', figures, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
