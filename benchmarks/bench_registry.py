"""The model registry: save and load of a typical model, and queries over 10,000 entries.

A "typical model" is what `uctune run` registers: a default XGBoost (and LightGBM) pipeline with
its F1 threshold, fitted on the embedded dataset, saved with lineage and 100 background rows. Save
covers serialisation, sha256, the write transaction and the rename; load covers the sha256 check
and unpickling (the check's share is reported separately). The query figures come from a registry
filled with 10,000 entries of 10 types (small artifacts: they measure the database, not joblib).
Prints a table and writes JSON to benchmarks/results/.

    python benchmarks/bench_registry.py [--entries 10000] [--repeats 20] [--root DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save  # noqa: E402


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median, min and max wall time of ``fn`` in milliseconds over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "repeats": repeats,
    }


def typical_models() -> tuple[dict[str, Any], Any]:
    from sklearn.model_selection import FixedThresholdClassifier

    from uctune.data import load_feature_table
    from uctune.models import get_spec
    from uctune.training import make_split

    table = load_feature_table()
    split = make_split(table, seed=42)
    X, y = table.X.iloc[split.train_index], table.y[split.train_index]
    models = {}
    for family in ("xgboost", "lightgbm"):
        pipeline = get_spec(family).build(n_threads=2).fit(X, y)
        models[family] = FixedThresholdClassifier(pipeline, threshold=0.35).fit(X, y)
    return models, table


def bench_family(
    registry: Any, family: str, model: Any, table: Any, repeats: int
) -> dict[str, Any]:
    import joblib

    from uctune.registry import Lineage

    background = table.X.sample(100, random_state=0)
    lineage = Lineage(
        run_id="bench",
        data_fingerprint=table.fingerprint(),
        features=table.features,
        categorical=table.categorical,
        cv_scores={"mean": {"f1": 0.55}},
        seed=42,
    )
    metrics = {"f1": 0.55, "precision": 0.5, "recall": 0.6, "roc_auc": 0.92, "pr_auc": 0.6}
    ids: list[int] = []

    def save_one() -> None:
        ids.append(
            registry.save_model(
                model,
                f"{family}_bench_{len(ids)}",
                family,
                metrics,
                {},
                "bench",
                lineage=lineage,
                background=background,
            )
        )

    saving = timed(save_one, repeats)
    entry = registry.get(ids[-1])
    raw = (registry.root / entry.file_path).read_bytes()
    return {
        "file_bytes": entry.size_bytes,
        "save": saving,
        "load": timed(lambda: registry.load(entry), repeats),
        "load_sha256_part": timed(lambda: hashlib.sha256(raw).hexdigest(), repeats),
        "load_unpickle_part": timed(lambda: joblib.load(io.BytesIO(raw)), repeats),
    }


def bench_typical(root: Path, repeats: int) -> dict[str, Any]:
    from uctune.registry import ModelRegistry

    models, table = typical_models()
    registry = ModelRegistry(root / "typical")
    return {
        family: bench_family(registry, family, model, table, repeats)
        for family, model in models.items()
    }


def fill(root: Path, entries: int) -> tuple[Any, float]:
    import random

    from uctune.registry import ModelRegistry

    registry = ModelRegistry(root / "many")
    rng = random.Random(0)
    tiny = {"coef": [0.1] * 30}
    started = time.perf_counter()
    for i in range(entries):
        registry.save_model(
            tiny,
            f"model-{i}",
            f"type{i % 10}",
            {"f1": rng.random(), "roc_auc": rng.random(), "pr_auc": rng.random()},
            {"i": i},
        )
    return registry, time.perf_counter() - started


def query_plan(registry: Any, sql: str, params: tuple[Any, ...]) -> str:
    with sqlite3.connect(registry.db_path) as db:
        rows = db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "; ".join(str(r[-1]) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--root", type=Path, default=None, help="where to build the registries")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-registry-") as scratch:
        root = args.root or Path(scratch)
        typical = bench_typical(root, args.repeats)
        registry, fill_seconds = fill(root, args.entries)
        q = max(3, args.repeats // 2)
        queries = {
            "list_models() all": timed(lambda: registry.list_models(), q),
            "list_models(min_f1=0.9)": timed(lambda: registry.list_models(min_f1=0.9), q),
            "list_models(model_type)": timed(lambda: registry.list_models("type3"), q),
            "get_best_model('f1')": timed(lambda: registry.get_best_model("f1"), q * 5),
            "get_best_model('roc_auc', type)": timed(
                lambda: registry.get_best_model("roc_auc", model_type="type7"), q * 5
            ),
            "get(type@version)": timed(
                lambda: registry.get(f"type5@1.0.{args.entries // 20}"), q * 5
            ),
            "save (10,001st entry)": timed(
                lambda: registry.save_model({"x": 1}, "late", "type0", {"f1": 0.1}), q
            ),
        }
        plans = {
            "best": query_plan(
                registry,
                "SELECT model_id FROM model_metrics WHERE name = ? "
                "ORDER BY value DESC, model_id DESC LIMIT 1",
                ("f1",),
            ),
            "next_version": query_plan(
                registry,
                "SELECT major, minor, patch FROM model_versions WHERE model_type = ? "
                "ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
                ("type0",),
            ),
        }

    print(f"typical models (embedded data, {args.repeats} repeats; median ms):")
    print(f"{'model':10} {'file KB':>8} {'save':>8} {'load':>8} {'(sha256':>9} {'unpickle)':>10}")
    for family, r in typical.items():
        print(
            f"{family:10} {r['file_bytes'] / 1024:8.0f} {r['save']['median_ms']:8.1f} "
            f"{r['load']['median_ms']:8.1f} {r['load_sha256_part']['median_ms']:9.2f} "
            f"{r['load_unpickle_part']['median_ms']:10.1f}"
        )
    print(
        f"\nfilled {args.entries} entries in {fill_seconds:.1f} s "
        f"({fill_seconds / args.entries * 1000:.2f} ms per save)"
    )
    print(f"queries over {args.entries} entries (median ms):")
    for name, r in queries.items():
        print(f"  {name:34} {r['median_ms']:9.2f}")
    for name, plan in plans.items():
        print(f"  plan {name}: {plan}")
    path = save(
        "registry",
        {
            "entries": args.entries,
            "typical": typical,
            "fill_seconds": fill_seconds,
            "queries": queries,
            "query_plans": plans,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
