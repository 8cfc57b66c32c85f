"""Scoring at scale: ``uctune predict``'s work (probability, decision, band and SHAP reasons) on
many rows, for a model of each family.

Each family is trained on ``--train-rows`` synthetic events (small models: the point is the cost of
explaining, which grows with the trees' size) and then scores ``--rows`` further synthetic events
with ``--reasons`` reasons each, against 100 training rows as the stored background, exactly as
``uctune predict`` calls :func:`uctune.scoring.score`. Trees and logistic regression are explained
exactly; the network by the bounded sampling estimate (``--samples`` orderings per row). Prints the
wall time per family and writes JSON to benchmarks/results/.

    python benchmarks/bench_predict.py [--rows 200000] [--families rf,xgb,lgbm,lr,nn] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save, synthetic_rows  # noqa: E402

# Small models, stated in the JSON: explaining a tree costs in proportion to its leaves x depth.
SMALL = {
    "random_forest": {"n_estimators": 50, "max_depth": 6},
    "xgboost": {"n_estimators": 100, "max_depth": 5},
    "lightgbm": {"n_estimators": 100, "num_leaves": 31},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows to score per family")
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--reasons", type=int, default=5)
    parser.add_argument("--families", default="rf,xgb,lgbm,lr,nn")
    parser.add_argument("--samples", type=int, default=None, help="sampled SHAP orderings/row")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2,000 rows: a smoke run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from uctune.cluster import loopback_env

    os.environ.update(loopback_env())  # _common.machine() imports Ray

    from uctune.cli._progress import ProgressLine
    from uctune.data import generate
    from uctune.explain import DEFAULT_SAMPLES
    from uctune.models import get_spec
    from uctune.scoring import score

    rows = 2_000 if args.quick else args.rows
    samples = args.samples or DEFAULT_SAMPLES
    train = synthetic_rows(args.train_rows, args.data_seed)
    events = generate(rows, seed=args.data_seed + 1)[0]
    background = train.X.sample(n=100, random_state=42)
    families = [get_spec(name).name for name in args.families.split(",")]
    results: dict[str, Any] = {}
    path: Path | None = args.out
    print(f"scoring {rows} rows with {args.reasons} reasons (train {args.train_rows} rows)")
    for family in families:
        params = SMALL.get(family, {})
        started = time.perf_counter()
        model = get_spec(family).build(params).fit(train.X, train.y)
        fit = time.perf_counter() - started
        started = time.perf_counter()
        scores = score(
            model,
            events,
            features=train.features,
            categorical=train.categorical,
            threshold=0.5,
            reasons=args.reasons,
            background=background,
            samples=samples,
            progress=ProgressLine(f"  {family}"),
        )
        wall = time.perf_counter() - started
        assert len(scores) == rows and scores[f"reason_{args.reasons}"].notna().all()
        results[family] = {
            "params": params,
            "fit_seconds": round(fit, 2),
            "score_seconds": round(wall, 2),
            "rows_per_second": round(rows / wall, 1),
        }
        print(f"{family:20s} score {wall:8.1f}s  ({rows / wall:8.0f} rows/s; fit {fit:.1f}s)")
        # Written after every family, so that a long run's finished figures are kept.
        payload = {
            "rows": rows,
            "train_rows": args.train_rows,
            "reasons": args.reasons,
            "samples": samples,
            "load_average": os.getloadavg(),
            "families": results,
        }
        path = save("predict", payload, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
