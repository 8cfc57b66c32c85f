"""Fit AutoGluon-Tabular on a run's training rows and score its test rows, for bench_peers.py.

Runs in the peers venv's interpreter (``.venv-peers``, made by ``make bench-peers``), never in
uctune's: it imports AutoGluon and nothing of uctune. Reads ``--train`` and ``--test`` (Parquet,
features and label), fits ``TabularPredictor(label, eval_metric, path).fit(train, presets,
time_limit, num_cpus)`` with its log on this process's output, and writes into ``--out``:

- ``proba.parquet``: column ``proba``, the positive class's probability of every test row, in the
  test file's order;
- ``leaderboard.csv``: every model AutoGluon kept, with its validation and test score
  (``eval_metric``), fit and predict times and stack level;
- ``fit.json``: AutoGluon's ``version``, its best model, the fit's and the prediction's wall
  time and the settings it ran with.

A failure writes ``error.txt`` (one line) and exits 1; ``--debug`` prints the traceback too.

    .venv-peers/bin/python benchmarks/_autogluon_fit.py --train T --test S --label upper_circuit \\
        --out DIR --path MODELS --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

POSITIVE = 1  # uctune's labels are 0/1


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the three files")
    parser.add_argument("--path", type=Path, required=True, help="AutoGluon's model folder")
    parser.add_argument("--time-limit", type=float, required=True, help="seconds")
    parser.add_argument("--presets", default="best_quality")
    parser.add_argument("--eval-metric", default="average_precision")
    parser.add_argument("--num-cpus", type=int, default=None, help="[AutoGluon's auto: all]")
    parser.add_argument("--seed", type=int, default=0, help="AutoGluon's model_random_seed [0]")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failure")
    return parser.parse_args(argv)


def _fit(args: argparse.Namespace) -> None:
    import autogluon.tabular
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    train = pd.read_parquet(args.train)
    test = pd.read_parquet(args.test)
    predictor = TabularPredictor(
        label=args.label,
        problem_type="binary",
        eval_metric=args.eval_metric,
        path=str(args.path),
    )
    started = time.perf_counter()
    predictor.fit(
        train,
        presets=args.presets,
        time_limit=args.time_limit,
        num_cpus=args.num_cpus if args.num_cpus else "auto",
        num_gpus=0,  # uctune's runs are scored on CPUs here, and so is the peer
        # Every bagged model's first fold seed (AutoGluon's default is 0).
        ag_args_ensemble={"model_random_seed": args.seed},
    )
    fit_seconds = time.perf_counter() - started

    started = time.perf_counter()
    proba = predictor.predict_proba(test.drop(columns=[args.label]), as_multiclass=True)
    predict_seconds = time.perf_counter() - started
    if POSITIVE not in proba.columns:
        raise ValueError(
            f"AutoGluon's classes are {list(proba.columns)}; the label must hold 0 and 1"
        )
    pd.DataFrame({"proba": proba[POSITIVE].to_numpy(dtype=float)}).to_parquet(
        args.out / "proba.parquet"
    )
    board = predictor.leaderboard(test, silent=True)
    board.to_csv(args.out / "leaderboard.csv", index=False)
    summary: dict[str, Any] = {
        "version": autogluon.tabular.__version__,
        "best_model": predictor.model_best,
        "models": int(len(board)),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "presets": args.presets,
        "eval_metric": args.eval_metric,
        "time_limit": args.time_limit,
        "num_cpus": args.num_cpus,
        "seed": args.seed,
        "train_rows": int(len(train)),
        "test_rows": int(len(test)),
    }
    (args.out / "fit.json").write_text(json.dumps(summary, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        _fit(args)
    except BaseException as exc:  # noqa: BLE001 - told to bench_peers in one line, then re-exit
        if args.debug:
            traceback.print_exc()
        lines = str(exc).strip().splitlines()
        line = type(exc).__name__ + (f": {lines[0]}" if lines else "")
        (args.out / "error.txt").write_text(line + "\n")
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
