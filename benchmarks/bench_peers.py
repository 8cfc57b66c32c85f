"""AutoGluon-Tabular as a peer: uctune's models against it on a run's own split (issue 19, item 6).

Reads a finished ``uctune run`` (``--run-dir``, made with ``--split time`` or the default
stratified split): its config (the data, the split's method, test size and seed), results.json
(its stages' wall times, the registered best model, the ensemble), predictions.csv (every model's
test-row probabilities) and oof.csv. Then:

- loads the run's table (``--data``, else the one the run recorded) with
  :func:`uctune.data.io.load_feature_table` and rebuilds the run's train/test split with
  :func:`uctune.splits.split_indices`; a predictions.csv whose rows are not that split's test rows
  (their table rows, labels and ids) is refused, and so is a table with rows dated July-August 2026
  (the project's holdout);
- fits AutoGluon-Tabular (``TabularPredictor(label, eval_metric).fit(train, presets, time_limit,
  num_cpus)``, ``--presets best_quality`` and ``--eval-metric average_precision`` or ``f1``) on the
  training rows, with the run's whole wall time (its stages' seconds) as the time limit unless
  ``--time-limit`` says otherwise. AutoGluon runs in another interpreter, ``--peers-python``
  (``.venv-peers``, made by ``make bench-peers``; AutoGluon's pins clash with uctune's, so it is never
  imported here), as ``benchmarks/_autogluon_fit.py``; its log streams to this terminal;
- scores AutoGluon and uctune's registered best model, its best single model by out-of-fold
  PR-AUC and its ensemble on the same test rows: PR-AUC and ROC-AUC, and uctune minus AutoGluon
  with a paired percentile bootstrap 95 % interval (the test rows resampled with ``--seed``).

Prints a table and writes JSON to benchmarks/results/ (or ``--json``); on a failure it prints one
line, exits non-zero and writes nothing.

    make bench-peers ARGS="--run-dir runs/<id>"
    python benchmarks/bench_peers.py --run-dir runs/<id> [--time-limit 600] [--eval-metric f1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    HOLDOUT,
    auc_scores,
    fmt_diff,
    fmt_num,
    holdout_rows,
    json_ready,
    model_columns,
    oof_pr_auc,
    paired_difference,
    save,
    verdict,
)

ROOT = Path(__file__).resolve().parents[1]
FIT_SCRIPT = Path(__file__).resolve().parent / "_autogluon_fit.py"
PEERS_PYTHON = Path(".venv-peers") / "bin" / "python"  # under the checkout, as make makes it
ENSEMBLE = "ensemble"
EVAL_METRICS = ("average_precision", "f1")
# Neither uctune's venv nor a Ray cluster's address may leak into AutoGluon's interpreter.
_CHILD_DROPS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RAY_ADDRESS")


def _refuse(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: bad input 2, a failed fit 1."""
    print(f"bench_peers: {message}", file=sys.stderr)
    raise SystemExit(code)


# -- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What a finished run wrote, as this benchmark reads it."""

    run_dir: Path
    results: Mapping[str, Any]
    config: Any  # uctune.config.RunConfig
    predictions: Any  # pandas.DataFrame
    oof: Any  # pandas.DataFrame | None
    stages: Mapping[str, Any]


def read_run(run_dir: Path) -> Run:
    """The run's results, config, predictions and out-of-fold predictions (one-line refusals)."""
    import pandas as pd

    from uctune.config import load_config
    from uctune.errors import UctuneError

    if not run_dir.is_dir():
        _refuse(f"--run-dir {str(run_dir)!r} does not exist")
    for name in ("results.json", "config.yaml"):
        if not (run_dir / name).is_file():
            _refuse(f"--run-dir {str(run_dir)!r} is not a uctune run directory (no {name})")
    if not (run_dir / "predictions.csv").is_file():
        _refuse(
            f"--run-dir {str(run_dir)!r} has no predictions.csv: its train stage has not "
            f"finished (uctune run --resume {run_dir})"
        )
    try:
        results = json.loads((run_dir / "results.json").read_text())
        config = load_config(run_dir / "config.yaml")
        predictions = pd.read_csv(run_dir / "predictions.csv")
        oof = pd.read_csv(run_dir / "oof.csv") if (run_dir / "oof.csv").is_file() else None
    except (UctuneError, ValueError, OSError) as exc:
        _refuse(f"cannot read the run {str(run_dir)!r}: {str(exc).splitlines()[0]}")
    return Run(run_dir, results, config, predictions, oof, results.get("stages") or {})


def run_wall_seconds(run: Run) -> float | None:
    """The run's whole wall time, its stages' seconds added up; ``None`` unless every stage it
    recorded is done."""
    if not run.stages or any(s.get("status") != "done" for s in run.stages.values()):
        return None
    return float(sum(s["seconds"] for s in run.stages.values()))


def data_path(run: Run, given: Path | None) -> Path:
    """``--data``, else the table the run recorded (its config's ``data``; none: the embedded)."""
    from uctune.data.io import default_dataset_path
    from uctune.errors import UctuneError

    if given is not None:
        path = given
    elif run.config.data is not None:
        path = Path(run.config.data)
    else:
        try:
            path = default_dataset_path()
        except UctuneError as exc:
            _refuse(f"the run used the embedded dataset: {exc}")
    if not path.is_file():
        where = "--data" if given is not None else "the run's data"
        hint = "" if given is not None else " (a relative path is read from here); pass --data"
        _refuse(f"{where} {str(path)!r} is not a file{hint}")
    return path


@dataclass(frozen=True)
class Split:
    train: Any  # np.ndarray of table rows
    test: Any  # np.ndarray of table rows, in predictions.csv's order


def rebuild_split(run: Run, table: Any, source: str) -> Split:
    """The run's train/test split, rebuilt from ``table`` as the run built it, and checked
    against predictions.csv: the same table rows, labels and ids (one-line refusal otherwise)."""
    import numpy as np

    from uctune.errors import UctuneError
    from uctune.splits import split_indices

    config = run.config
    method, test_size, seed = config.split.method, config.split.test_size, config.seed
    how = f"{method} split, test_size {test_size}, seed {seed}"
    try:
        dates = table.dates if method == "time" else None
        train, test = split_indices(method, table.y, dates, test_size=test_size, random_state=seed)
    except UctuneError as exc:
        _refuse(f"cannot rebuild the run's {how} from {source}: {exc}")
    predictions, label = run.predictions, table.label
    name = f"predictions.csv of {str(run.run_dir)!r}"
    for column in ("row", label):
        if column not in predictions.columns:
            _refuse(f"{name} lacks the {column!r} column")
    rows = predictions["row"].to_numpy()
    if len(rows) != len(test):
        _refuse(
            f"{name} holds {len(rows)} rows, the {how} of {source} {len(test)} test rows: "
            "not the data the run was trained on"
        )
    stray = np.setdiff1d(rows, test)
    if len(stray):
        _refuse(
            f"{name} holds {len(stray)} rows outside the {how} of {source}'s test rows "
            f"(table row {int(stray[0])} first): not the data or split the run used"
        )
    frame = table.frame.iloc[rows]
    checks = [(label, table.y[rows], predictions[label].to_numpy())]
    for column in ("symbol", table.date_column):
        if column and column in predictions.columns and column in frame.columns:
            ours = frame[column]
            if column == table.date_column:
                ours = ours.dt.strftime("%Y-%m-%d")
            checks.append((column, ours.astype(str).to_numpy(), predictions[column].astype(str)))
    for column, ours, theirs in checks:
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        differ = np.flatnonzero(ours != theirs)
        if len(differ):
            i = int(differ[0])
            _refuse(
                f"{name}: {column!r} of table row {int(rows[i])} is {theirs[i : i + 1].tolist()[0]!r}"
                f", {source} says {ours[i : i + 1].tolist()[0]!r} ({len(differ)} rows differ): not "
                "the data the run was trained on"
            )
    return Split(train=np.asarray(train), test=rows)


# -- AutoGluon, in its own interpreter ------------------------------------------------------------


def check_peers_python(python: Path) -> None:
    """Refuse an interpreter that is not there or has no AutoGluon, saying how to make one."""
    how = (
        "`make bench-peers` creates .venv-peers with AutoGluon (the peers extra of "
        "pyproject.toml), or pass --peers-python"
    )
    if not python.is_file() or not os.access(python, os.X_OK):
        _refuse(f"--peers-python {str(python)!r} does not exist; {how}")
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('autogluon') is None)"
    proc = subprocess.run([str(python), "-c", probe], env=_child_env(), capture_output=True)
    if proc.returncode != 0:
        _refuse(f"--peers-python {str(python)!r} has no AutoGluon; {how}")


def _child_env(scratch: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _CHILD_DROPS}
    env["PYTHONUNBUFFERED"] = "1"  # AutoGluon's log reaches the terminal as it happens
    if scratch is not None:
        # AutoGluon's own Ray (parallel folds, DyStack): a new local instance with its files in
        # the scratch folder, never a cluster another process started here.
        env["RAY_ADDRESS"] = "local"
        env["RAY_TMPDIR"] = str(scratch)
    return env


def fit_autogluon(
    table: Any, split: Split, args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """Write the train and test rows to Parquet, fit AutoGluon on them in ``--peers-python``,
    and return its test probabilities, leaderboard and timings."""
    import pandas as pd

    columns = [*table.features, table.label]
    table.frame.iloc[split.train][columns].to_parquet(scratch / "train.parquet", index=False)
    table.frame.iloc[split.test][columns].to_parquet(scratch / "test.parquet", index=False)
    out = scratch / "out"
    command = [str(args.peers_python), str(FIT_SCRIPT)]
    command += ["--train", str(scratch / "train.parquet"), "--test", str(scratch / "test.parquet")]
    command += ["--label", table.label, "--out", str(out), "--path", str(scratch / "models")]
    command += ["--time-limit", f"{args.time_limit:g}", "--presets", args.presets]
    command += ["--eval-metric", args.eval_metric, "--num-cpus", str(args.num_cpus)]
    command += ["--seed", str(args.seed)] + (["--debug"] if args.debug else [])
    print(
        f"fitting AutoGluon-Tabular ({args.presets}, eval_metric {args.eval_metric}, time limit "
        f"{args.time_limit:.0f} s, {args.num_cpus} CPUs) on {len(split.train):,} training rows "
        f"in {args.peers_python}; its log follows",
        flush=True,
    )
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=_child_env(scratch), cwd=scratch)
    try:
        code = proc.wait()
    except BaseException:  # Ctrl-C: the fit stops too, and its Ray with it
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    seconds = time.perf_counter() - started
    if code != 0 or not (out / "fit.json").is_file():
        error = out / "error.txt"
        reason = error.read_text().strip() if error.is_file() else "no reason given"
        hint = "" if args.debug else "; --debug prints its traceback"
        _refuse(f"AutoGluon failed (exit {code}): {reason}{hint}", code=1)
    proba = pd.read_parquet(out / "proba.parquet")["proba"].to_numpy(dtype=float)
    if len(proba) != len(split.test):
        _refuse(
            f"AutoGluon returned {len(proba)} test probabilities for {len(split.test)} rows",
            code=1,
        )
    board = pd.read_csv(out / "leaderboard.csv")
    keep = [
        c
        for c in ("model", "score_val", "score_test", "fit_time", "pred_time_test", "stack_level")
        if c in board.columns
    ]
    return {
        **json.loads((out / "fit.json").read_text()),
        "process_seconds": seconds,
        "proba": proba,
        "leaderboard": board[keep].to_dict(orient="records"),
    }


# -- the comparison ------------------------------------------------------------------------------


def uctune_models(run: Run, label: str) -> dict[str, list[str]]:
    """The run's models to put against AutoGluon, by predictions.csv column, with their roles:
    the registered best, the best single model by out-of-fold PR-AUC (by test PR-AUC, said so,
    where the run kept no out-of-fold predictions) and the ensemble."""
    predictions = run.predictions
    columns = [c for c in model_columns(predictions, label) if predictions[c].notna().all()]
    roles: dict[str, list[str]] = {}
    best = ((run.results.get("registry") or {}).get("best") or {}).get("model_name")
    if best in columns:
        roles.setdefault(best, []).append("registered best")
    singles = [c for c in columns if c != ENSEMBLE]
    scores = oof_pr_auc(run.oof, label, singles) if run.oof is not None else {}
    if scores:
        roles.setdefault(max(scores, key=lambda m: scores[m]), []).append("best single, OOF")
    elif singles:
        y = predictions[label].to_numpy()
        test = {m: auc_scores(y, predictions[m].to_numpy(dtype=float))["pr_auc"] for m in singles}
        roles.setdefault(max(test, key=lambda m: test[m]), []).append("best single, by test")
    if ENSEMBLE in columns:
        roles.setdefault(ENSEMBLE, [])  # its name says what it is
    return roles


def compare(
    y: Any,
    peer: Any,
    models: Mapping[str, Any],
    roles: Mapping[str, Sequence[str]],
    *,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """AutoGluon's test scores, and each uctune model's with uctune minus AutoGluon (paired
    bootstrap intervals on the same rows; verdict ``better`` where uctune wins beyond them)."""
    out: dict[str, Any] = {"autogluon": auc_scores(y, peer), "uctune": {}}
    for name, p in models.items():
        difference = paired_difference(y, p, peer, resamples=resamples, seed=seed)
        out["uctune"][name] = {
            "roles": list(roles.get(name, ())),
            **auc_scores(y, p),
            "minus_autogluon": difference,
            "verdict": verdict(difference["pr_auc"]),
        }
    return out


# -- printing ------------------------------------------------------------------------------------


def _print(record: Mapping[str, Any]) -> None:
    split, ag, wall = record["split"], record["autogluon"], record["uctune_wall_seconds"]
    print(
        f"\n{record['run_dir']}: {split['method']} split (test_size {split['test_size']}, seed "
        f"{split['seed']}), {split['train_rows']:,} training rows, {split['test_rows']:,} test "
        f"rows ({split['test_positives']} positive)"
    )
    uctune = f"{wall:.1f} s" if wall is not None else "unknown (unfinished)"
    print(
        f"wall time: uctune's run {uctune}; AutoGluon {ag['version']} fit "
        f"{ag['fit_seconds']:.1f} s of its {ag['time_limit']:g} s limit ({ag['time_limit_from']}), "
        f"{ag['process_seconds']:.1f} s with start-up and prediction, {ag['models']} models"
    )
    scores = record["scores"]
    print(
        f"{'model':36} {'PR-AUC':>7} {'ROC-AUC':>7}  {'uctune-AutoGluon PR-AUC [95%]':>30}  "
        f"{'ROC-AUC [95%]':>24}  uctune is"
    )
    peer, what = scores["autogluon"], f"AutoGluon ({ag['best_model']})"
    print(f"{what:36} {fmt_num(peer['pr_auc'], 7)} {fmt_num(peer['roc_auc'], 7)}")
    for name, m in scores["uctune"].items():
        d = m["minus_autogluon"]
        what = name + (f" ({', '.join(m['roles'])})" if m["roles"] else "")
        print(
            f"{what:36} {fmt_num(m['pr_auc'], 7)} "
            f"{fmt_num(m['roc_auc'], 7)}  {fmt_diff(d['pr_auc']):>30}  {fmt_diff(d['roc_auc']):>24}"
            f"  {m['verdict']}"
        )
    resamples = next(iter(scores["uctune"].values()))["minus_autogluon"]["pr_auc"]["resamples"]
    print(
        f"paired bootstrap 95 % intervals over the test rows ({resamples} resamples); uctune is "
        "better or worse where the PR-AUC interval excludes 0, else tie"
    )
    if not record["data"]["fingerprint_matches"]:
        print(
            f"note: {record['data']['path']} is not byte for byte the table the run recorded "
            "(another fingerprint), though its test rows, labels and ids are the run's"
        )


# -- the command ---------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a finished uctune run")
    parser.add_argument("--data", type=Path, default=None, help="[the run's own table]")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="AutoGluon's, in seconds [the run's whole wall time: its stages' seconds]",
    )
    parser.add_argument("--presets", default="best_quality", help="[best_quality]")
    parser.add_argument("--eval-metric", choices=EVAL_METRICS, default="average_precision")
    parser.add_argument(
        "--peers-python",
        type=Path,
        default=ROOT / PEERS_PYTHON,
        help=f"the interpreter with AutoGluon [{PEERS_PYTHON}, made by `make bench-peers`]",
    )
    parser.add_argument(
        "--num-cpus", type=int, default=None, help="AutoGluon's [the run's, at most all cores]"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap and AutoGluon seed [0]")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples [1000]")
    parser.add_argument("--json", type=Path, default=None, help="[benchmarks/results/peers-*.json]")
    parser.add_argument("--debug", action="store_true", help="AutoGluon's traceback on a failure")
    args = parser.parse_args(argv)
    # Absolute, not resolved: a venv's python is a symlink that must stay one, and the fit runs
    # in a scratch folder, where a relative path (make's .venv-peers/bin/python) would not be.
    args.peers_python = args.peers_python.absolute()
    if args.time_limit is not None and not args.time_limit > 0:
        _refuse(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
    if args.num_cpus is not None and args.num_cpus < 1:
        _refuse(f"--num-cpus must be at least 1, got {args.num_cpus}")
    from uctune.evaluation import MIN_RESAMPLES

    if args.bootstrap < MIN_RESAMPLES:
        _refuse(f"--bootstrap must be at least {MIN_RESAMPLES}, got {args.bootstrap}")
    return args


def load_table(run: Run, given: Path | None) -> tuple[Any, Path]:
    """The run's table (``--data``, else its own) validated as the run validated it; a table with
    holdout rows is refused."""
    from uctune.data.io import load_feature_table
    from uctune.errors import UctuneError

    path = data_path(run, given)
    try:
        table = load_feature_table(path, n_folds=run.config.train.cv_folds)
    except UctuneError as exc:
        _refuse(str(exc))
    if table.date_column is not None and (inside := holdout_rows(table.dates)):
        _refuse(
            f"{path} holds {inside} rows dated {HOLDOUT[0]} to {HOLDOUT[1]} (exclusive), the "
            "project's holdout; refusing to score it"
        )
    return table, path


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    run = read_run(args.run_dir)
    wall = run_wall_seconds(run)
    time_limit_from = "--time-limit" if args.time_limit is not None else "the run's wall time"
    if args.time_limit is None:
        if wall is None:
            stages = ", ".join(f"{n} {s.get('status')}" for n, s in run.stages.items())
            _refuse(
                f"run {str(run.run_dir)!r} did not finish (stages: {stages or 'none'}), so its "
                "wall time is unknown; pass --time-limit SECONDS"
            )
        args.time_limit = wall
    cores = os.cpu_count() or 1
    if args.num_cpus is None:
        args.num_cpus = min(int((run.results.get("execution") or {}).get("cpus") or cores), cores)
    check_peers_python(args.peers_python)
    table, path = load_table(run, args.data)
    split = rebuild_split(run, table, str(path))
    label = table.label
    roles = uctune_models(run, label)
    if not roles:
        _refuse(f"predictions.csv of {str(run.run_dir)!r} holds no model's test probabilities")

    # AutoGluon's Ray may still be closing its files in there as the folder goes.
    with tempfile.TemporaryDirectory(prefix="uctune-peers-", ignore_cleanup_errors=True) as scratch:
        peer = fit_autogluon(table, split, args, Path(scratch))

    y = run.predictions[label].to_numpy()
    models = {name: run.predictions[name].to_numpy(dtype=float) for name in roles}
    scores = compare(y, peer.pop("proba"), models, roles, resamples=args.bootstrap, seed=args.seed)
    fingerprint = table.fingerprint()
    record = {
        "run_dir": str(run.run_dir),
        "run_id": run.results.get("run_id"),
        "data": {
            "path": str(path),
            "rows": table.n_rows,
            "fingerprint": fingerprint,
            "fingerprint_matches": fingerprint
            == (run.results.get("data") or {}).get("fingerprint"),
        },
        "split": {
            "method": run.config.split.method,
            "test_size": run.config.split.test_size,
            "seed": run.config.seed,
            "train_rows": int(len(split.train)),
            "test_rows": int(len(split.test)),
            "test_positives": int(y.sum()),
        },
        "uctune_wall_seconds": wall,
        "uctune_stages": {k: v.get("seconds") for k, v in run.stages.items()},
        "uctune_cpus": (run.results.get("execution") or {}).get("cpus"),
        "autogluon": {**peer, "time_limit_from": time_limit_from},
        "scores": scores,
    }
    _print(record)
    args_record = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out = save("peers", json_ready({"args": args_record, **record}), args.json)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
