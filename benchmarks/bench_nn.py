"""The neural network: the PyTorch/skorch net at its defaults versus the scikit-learn MLP it replaced.

Both fit the same training rows of a synthetic table (200,000 rows by default; 80/20 stratified
split) with the same preprocessing (median imputation with missing-value indicators, standard
scaling, one-hot sectors), one thread each, and are scored on the same holdout rows. Fit time is
reported as wall-clock and as the process's CPU seconds (what a busy machine does not inflate). The old
model is scikit-learn's ``MLPClassifier`` with the settings uctune used before (128-64-32 ReLU,
alpha 1e-4, learning rate 1e-3, batch 256, early stopping on 10 % of the rows after 10 epochs without
improvement, at most 200 epochs, balanced sample weights). Prints a table and writes JSON to
benchmarks/results/.

    python benchmarks/bench_nn.py [--rows N] [--repeats R] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save, synthetic_rows  # noqa: E402


def _old_mlp(seed: int) -> Any:
    """The scikit-learn MLP with the settings of uctune's former ``BalancedMLPClassifier``."""
    from sklearn.base import clone
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    from uctune.models import get_spec

    mlp = MLPClassifier(
        hidden_layer_sizes=(128, 64, 32),
        activation="relu",
        alpha=1e-4,
        learning_rate_init=1e-3,
        batch_size=256,
        max_iter=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=seed,
    )
    # The same preprocessing as the new network's pipeline.
    return Pipeline([("pre", clone(get_spec("neural_network").build()["pre"])), ("model", mlp)])


def _fit(
    name: str, X: Any, y: Any, Xh: Any, yh: Any, seed: int, params: dict[str, Any]
) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.utils.class_weight import compute_sample_weight
    from threadpoolctl import threadpool_limits

    from uctune.models import get_spec

    with threadpool_limits(limits=1):
        if name == "torch":
            model = get_spec("neural_network").build(params, n_threads=1, random_state=seed)
            started, cpu = time.perf_counter(), time.process_time()
            model.fit(X, y)
        else:
            model = _old_mlp(seed)
            weights = compute_sample_weight("balanced", y)
            started, cpu = time.perf_counter(), time.process_time()
            model.fit(X, y, model__sample_weight=weights)
        fit_seconds = time.perf_counter() - started
        fit_cpu_seconds = time.process_time() - cpu
        started = time.perf_counter()
        proba = model.predict_proba(Xh)[:, 1]
        predict_seconds = time.perf_counter() - started
    return {
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "epochs": int(model[-1].n_iter_),
        "cpu_seconds_per_epoch": fit_cpu_seconds / int(model[-1].n_iter_),
        "predict_seconds": predict_seconds,
        "holdout_pr_auc": float(average_precision_score(yh, proba)),
        "holdout_roc_auc": float(roc_auc_score(yh, proba)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=1, help="fits of each model (median)")
    parser.add_argument("--seed", type=int, default=42, help="split and model seed")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20,000 rows: a smoke run")
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="the new network's params over its defaults, as JSON: '{\"batch_size\": 256}'",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = 20_000 if args.quick else args.rows

    import torch

    from uctune.models import get_spec
    from uctune.training import make_split

    table = synthetic_rows(rows, args.data_seed)
    split = make_split(table, seed=args.seed)
    X, y = table.X.iloc[split.train_index], table.y[split.train_index]
    Xh, yh = table.X.iloc[split.test_index], table.y[split.test_index]

    runs: dict[str, list[dict[str, Any]]] = {"sklearn_mlp": [], "torch": []}
    for _ in range(args.repeats):
        for name in runs:
            runs[name].append(_fit(name, X, y, Xh, yh, args.seed, args.params))

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    labels = {"sklearn_mlp": "scikit-learn MLP (old)", "torch": "PyTorch/skorch net (new)"}
    print(
        f"data: {table.source}; train {len(y)} rows, holdout {len(yh)} rows, "
        f"{yh.mean():.1%} positives; 1 thread each; median of {args.repeats}"
    )
    print(
        f"{'model':<28}{'fit s':>8}{'fit CPU s':>10}{'epochs':>8}{'CPU s/epoch':>12}"
        f"{'PR-AUC':>8}{'ROC-AUC':>9}"
    )
    for name in runs:
        print(
            f"{labels[name]:<28}{median(name, 'fit_seconds'):>8.1f}"
            f"{median(name, 'fit_cpu_seconds'):>10.1f}{median(name, 'epochs'):>8.0f}"
            f"{median(name, 'cpu_seconds_per_epoch'):>12.2f}{median(name, 'holdout_pr_auc'):>8.4f}"
            f"{median(name, 'holdout_roc_auc'):>9.4f}"
        )
    ratio = median("torch", "fit_seconds") / median("sklearn_mlp", "fit_seconds")
    cpu_ratio = median("torch", "fit_cpu_seconds") / median("sklearn_mlp", "fit_cpu_seconds")
    # On a shared machine the wall clock counts time spent waiting for a core; CPU seconds do not.
    print(f"new / old fit time: wall {ratio:.2f}, CPU {cpu_ratio:.2f}")
    path = save(
        "nn",
        {
            "rows": rows,
            "train_rows": int(len(y)),
            "holdout_rows": int(len(yh)),
            "repeats": args.repeats,
            "threads": 1,
            "network_params": get_spec("neural_network").resolve_params(args.params),
            "torch": torch.__version__,
            "fit_ratio_new_over_old": ratio,
            "fit_cpu_ratio_new_over_old": cpu_ratio,
            "runs": runs,
        },
        args.out,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
