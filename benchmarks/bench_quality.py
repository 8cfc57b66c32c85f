"""Do tuned models beat their defaults on forward data? Tuning quality over seeds (issue 19).

For each ``--seeds`` seed, runs ``uctune run`` (every family trained untuned, then tuned, then the
ensemble, report and register stages; the registry in a scratch folder) into a fresh directory and
times it; or, with ``--run-dir`` (repeatable), reads finished runs instead. Then, per family, from
what each run wrote (results.json, predictions.csv, oof.csv, tune/<family>/trials.csv):

- test PR-AUC (average precision) and ROC-AUC of the untuned model (column ``<family>``) and of
  the tuned one (``<family>_tuned``), and a paired percentile bootstrap 95 % interval of tuned
  minus untuned (:func:`uctune.evaluation.difference_intervals`, the test rows resampled, seed 0);
- the winner's curse: the search's best CV score (``tuning.<family>.best_score``) minus the tuned
  model's test score in the tuning metric (PR-AUC or ROC-AUC; other metrics are noted, not scored);
- the CV noise: the standard error over folds of the picked trial's fold scores (and the run's own
  ``tuning.<family>.selection``, copied as it is, when the run records one);
- the multi-fidelity rungs' rank correlation: for a seeded sample of up to ``--rank-sample`` trials
  scored at the lowest rung, each trial's full k-fold score (a completed trial's own; a pruned
  one's run again here, unpruned, with the run's own rows, folds, params, metric, seed and
  fidelity schedule: one Ray task per trial, the rows in the object store once), and Spearman's
  rho of each rung (``subsample_j``, ``fold_1``) against it; a pruned trial's re-fit scores it at
  the rungs it never reached, so no rung is its survivors alone. The cheapest completed trial is
  run again too: its scores must come out the same (``reproduction``), or the re-fits do not
  measure what the search measured (a run made by an older uctune may not reproduce);
- the ensemble against the best single model by test PR-AUC and against the best by out-of-fold
  PR-AUC (paired intervals), or why the run skipped it; the run's registered best model.

Prints a table per seed and a summary across seeds; writes everything as JSON to
benchmarks/results/ (or ``--out``). Every metric is on a run's own test split or its training
rows' CV; a run whose table holds rows dated July-August 2026 (the project's holdout) is refused.

    python benchmarks/bench_quality.py                        # embedded data, 5 families x 12 trials
    python benchmarks/bench_quality.py --data /tmp/nse/sample.parquet   # time split, 100 trials
    python benchmarks/bench_quality.py --quick                # LR + XGBoost, 3 trials x 3 folds
    python benchmarks/bench_quality.py --run-dir runs/<id> [--run-dir ...]
    python benchmarks/bench_quality.py --seeds 42,7,1 -- --num-cpus 2 --folds 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    AUC_METRICS,
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
from _rungs import (  # noqa: E402
    finite,
    fold_columns,
    rank_correlation,
    rank_plan,
    reproduction,
    rung_columns,
    trial_params,
)

FAMILIES = ("logistic_regression", "random_forest", "xgboost", "lightgbm", "neural_network")
QUICK_FAMILIES = ("logistic_regression", "xgboost")
TRIALS_WITH_DATA, TRIALS_EMBEDDED, TRIALS_QUICK = 100, 12, 3
QUICK_FOLDS = 3
BOOTSTRAP_SEED = 0
TUNED = "_tuned"
ENSEMBLE = "ensemble"


# -- the runs ------------------------------------------------------------------------------------


def _run_command(args: argparse.Namespace, seed: int, out: Path, config: Path | None) -> list[str]:
    command = [sys.executable, "-m", "uctune", "run", "--out", str(out), "--seed", str(seed)]
    if args.data is not None:
        command += ["--data", str(args.data)]
    if args.split is not None:
        command += ["--split", args.split]
    command += ["--families", ",".join(args.families), "--trials", str(args.trials)]
    if args.num_cpus:
        command += ["--num-cpus", str(args.num_cpus)]
    if args.quick:
        command += ["--folds", str(QUICK_FOLDS)]
    if config is not None:
        command += ["--config", str(config)]
    return command + list(args.run_args)


def _run(command: list[str], env: Mapping[str, str], log: Path) -> float:
    """Run ``uctune run``; its wall time in seconds (exit with its log's tail if it fails)."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        sys.exit(
            f"bench_quality: `{' '.join(command)}` failed with exit {proc.returncode}:\n{tail}"
        )
    return wall


# -- re-running trials' CV on Ray -----------------------------------------------------------------


def _full_cv(
    rows: Any,
    family: str,
    params: dict[str, Any],
    metric: str,
    fit: Any,
    fidelity: Any,
) -> dict[str, Any]:
    """A Ray task: one configuration's every step, as the search's trial runs it unpruned (the
    run's fidelity schedule: its subsamples of the first fold, then every full fold). Returns the
    full CV score, each rung's score (``subsample_j``; ``fold_1``: the running score after the
    first full fold, what the scheduler compared) and the fold scores."""
    started = time.perf_counter()
    rungs: dict[str, float] = {}
    last = None
    try:
        from uctune.tuning import cv_steps

        X, y, folds = rows
        for step in cv_steps(
            family,
            params,
            X,
            y,
            folds,
            metric=metric,
            fit=fit,
            fidelity=fidelity,
        ):
            last = step
            if step.error is not None:
                break
            if step.rows < 1.0:
                rungs[f"subsample_{len(rungs) + 1}"] = float(step.score)
            elif step.folds_done == 1:
                rungs["fold_1"] = float(step.score)
    except Exception as exc:  # noqa: BLE001 - a failed re-fit is recorded, not fatal
        return {"score": None, "rungs": rungs, "fold_scores": [], "error": f"{exc!r}"}
    complete = last is not None and last.error is None and last.folds_done == len(folds)
    error = None if complete else (last.error if last is not None else None) or "no fold ran"
    return {
        "score": float(last.score) if complete and last is not None else None,
        "rungs": rungs,
        "fold_scores": [float(s) for s in (last.fold_scores if last is not None else ())],
        "error": error,
        "seconds": time.perf_counter() - started,
    }


# -- one run's figures ---------------------------------------------------------------------------


def _check_holdout(run: Any, run_dir: Path) -> None:
    if run.table.date_column is None:
        return
    inside = holdout_rows(run.table.dates)
    if inside:
        sys.exit(
            f"bench_quality: the table of {run_dir} holds {inside} rows dated "
            f"{HOLDOUT[0]} to {HOLDOUT[1]} (exclusive), the project's holdout; refusing to score it"
        )


def _ensemble(
    results: Mapping[str, Any], predictions: Any, oof: Any, y: Any, label: str, resamples: int
) -> dict[str, Any]:
    section = results.get("ensemble") or {}
    models = model_columns(predictions, label)
    if ENSEMBLE not in models:
        reason = section.get("skipped") or (
            "ensemble stage off" if section.get("enabled") is False else "no ensemble column"
        )
        return {"present": False, "skipped": reason}
    singles = [m for m in models if m != ENSEMBLE and predictions[m].notna().all()]
    ens = predictions[ENSEMBLE].to_numpy(dtype=float)
    out: dict[str, Any] = {
        "present": True,
        "method": section.get("method"),
        "members": section.get("members"),
        **auc_scores(y, ens),
    }
    if not singles:
        return out
    test = {m: auc_scores(y, predictions[m].to_numpy(dtype=float))["pr_auc"] for m in singles}
    by_test = max(singles, key=lambda m: test[m])
    out["best_single_by_test"] = {
        "model": by_test,
        "test_pr_auc": test[by_test],
        "difference": paired_difference(
            y,
            ens,
            predictions[by_test].to_numpy(dtype=float),
            resamples=resamples,
            seed=BOOTSTRAP_SEED,
        ),
    }
    if oof is not None:
        oof_scores = oof_pr_auc(oof, label, singles)
        if oof_scores:
            by_oof = max(oof_scores, key=lambda m: oof_scores[m])
            out["best_single_by_oof"] = {
                "model": by_oof,
                "oof_pr_auc": oof_scores[by_oof],
                "test_pr_auc": test[by_oof],
                "difference": paired_difference(
                    y,
                    ens,
                    predictions[by_oof].to_numpy(dtype=float),
                    resamples=resamples,
                    seed=BOOTSTRAP_SEED,
                ),
            }
    return out


def _family(
    family: str,
    results: Mapping[str, Any],
    predictions: Any,
    trials: Any,
    y: Any,
    resamples: int,
) -> dict[str, Any]:
    """Every figure of one family but the rank correlation (which needs the re-fits)."""
    import numpy as np

    out: dict[str, Any] = {}
    untuned = predictions[family].to_numpy(dtype=float) if family in predictions else None
    tuned_name = family + TUNED
    tuned = predictions[tuned_name].to_numpy(dtype=float) if tuned_name in predictions else None
    out["untuned"] = auc_scores(y, untuned) if untuned is not None else None
    out["tuned"] = auc_scores(y, tuned) if tuned is not None else None
    if untuned is not None and tuned is not None:
        out["difference"] = paired_difference(
            y, tuned, untuned, resamples=resamples, seed=BOOTSTRAP_SEED
        )
        out["verdict"] = verdict(out["difference"]["pr_auc"])
    tuning = (results.get("tuning") or {}).get(family)
    if tuning is None:
        why = (results.get("tuning_failures") or {}).get(family, "not tuned in this run")
        out["tuning"] = {"skipped": why}
        return out
    metric, best = tuning.get("metric"), tuning.get("best_score")
    curse: dict[str, Any] = {"metric": metric, "best_cv_score": best}
    if metric in AUC_METRICS and tuned is not None and best is not None:
        curse["test_score"] = out["tuned"][metric]
        curse["gap"] = float(best) - curse["test_score"]
    else:
        curse["note"] = f"tuning metric {metric!r}: no test score in it here (PR-AUC/ROC-AUC only)"
    out["winners_curse"] = curse
    out["selection"] = tuning.get("selection")
    picked = tuning.get("best_trial")
    noise: dict[str, Any] = {"trial": picked}
    if trials is not None and picked is not None:
        row = trials[trials["trial"] == int(picked)]
        if len(row):
            scores = [finite(row.iloc[0][c]) for c in fold_columns(trials)]
            values = np.asarray([s for s in scores if s is not None], dtype=float)
            noise["fold_scores"] = values.tolist()
            if len(values) >= 2:
                std = float(np.std(values, ddof=1))
                noise.update(std=std, standard_error=std / math.sqrt(len(values)))
    out["cv_noise"] = noise
    return out


def _measure(run_dir: Path, args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    """The figures of one finished run, and its re-fit tasks (still running on Ray)."""
    import pandas as pd
    import ray

    from uctune.errors import UctuneError
    from uctune.training import training_folds
    from uctune.tuning import Fidelity
    from uctune.workflow import resume_run

    results = json.loads((run_dir / "results.json").read_text())
    try:
        run = resume_run(run_dir, backend="sequential")  # its own table, split and CV scheme
    except UctuneError as exc:
        sys.exit(f"bench_quality: cannot read the run {run_dir}: {exc}")
    _check_holdout(run, run_dir)
    label = run.table.label
    predictions = pd.read_csv(run_dir / "predictions.csv")
    oof = pd.read_csv(run_dir / "oof.csv") if (run_dir / "oof.csv").is_file() else None
    y = predictions[label].to_numpy()
    models = model_columns(predictions, label)
    tuned_families = set(results.get("tuning") or {})
    present = [f for f in FAMILIES if f in models or f + TUNED in models or f in tuned_families]
    families = [f for f in present if args.families_given is None or f in args.families_given]
    config = run.config
    seed = int(config.seed)
    figures: dict[str, Any] = {}
    plans: dict[str, tuple[list[int], dict[int, Any], list[str]]] = {}
    tasks: list[tuple[str, int, Any]] = []
    rows_ref, folds = None, []
    for family in families:
        path = run_dir / "tune" / family / "trials.csv"
        trials = pd.read_csv(path) if path.is_file() else None
        figures[family] = _family(family, results, predictions, trials, y, args.bootstrap)
        if trials is None or family not in tuned_families or not args.rank_sample:
            continue
        sample, rows, check = rank_plan(trials, args.rank_sample, seed)
        fixed = config.tune.params.get(family, {})
        unsearched = ((results["tuning"][family].get("refit") or {}).get("params")) or {}
        todo = [n for n in sample if rows[n]["status"] != "completed"]
        if check is not None and check not in todo:
            todo.append(check)
        if todo and rows_ref is None:
            # The search's own rows and folds, as tune_families builds them.
            train = run.split.train_index
            X = run.table.X.iloc[train].reset_index(drop=True)
            folds = training_folds(run.table, run.split, run.fit)
            rows_ref = ray.put((X, run.table.y[train], folds))  # once, for every task of the run
        # The search's fidelity schedule, as results.json records it.
        recorded = results["tuning"][family].get("fidelity") or {}
        fidelity = Fidelity(
            n_folds=len(folds) or int(config.train.cv_folds),
            reduction_factor=int(recorded.get("reduction_factor", config.tune.reduction_factor)),
            row_steps=len(recorded.get("rows") or ()),
        )
        rungs = rung_columns(trials)
        subsamples = sum(c.startswith("subsample_") for c in rungs)
        if subsamples != fidelity.row_steps:
            figures[family]["rank_note"] = (
                f"trials.csv has {subsamples} subsample rungs, results.json's fidelity "
                f"{fidelity.row_steps}"
            )
        # The trial's own threads (a fit's numbers may depend on them), on at most all CPUs.
        threads = int(config.tune.cpus_per_trial)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        task = ray.remote(num_cpus=min(threads, cpus))(_full_cv)
        for number in todo:
            ref = task.remote(
                rows_ref,
                family,
                trial_params(family, rows[number], fixed, unsearched),
                config.tune.metric,
                replace(run.fit, cpus_per_fit=threads),
                fidelity,
            )
            tasks.append((family, number, ref))
        plans[family] = (sample, rows, rungs)
        figures[family]["_check"] = check
    record = {
        "run_dir": str(run_dir),
        "run_id": results.get("run_id"),
        "seed": seed,
        "data": {
            k: results.get("data", {}).get(k)
            for k in ("source", "rows", "positives", "fingerprint")
        },
        "split": results.get("split"),
        "cv": results.get("cv"),
        "tuning_metric": config.tune.metric,
        "trials_per_family": config.tune.trials,
        "device": config.device,
        "test_rows": int(len(y)),
        "test_positives": int(y.sum()),
        "stages": {k: v.get("seconds") for k, v in (results.get("stages") or {}).items()},
        "families": figures,
        "ensemble": _ensemble(results, predictions, oof, y, label, args.bootstrap),
        "registry_best": (results.get("registry") or {}).get("best"),
        "_plans": plans,
    }
    return record, tasks


def _finish(record: dict[str, Any], done: Mapping[tuple[str, int], dict[str, Any]]) -> None:
    """Add each family's rank correlation and reproduction check from the finished re-fits."""
    plans = record.pop("_plans")
    for family, figures in record["families"].items():
        check = figures.pop("_check", None)
        if family not in plans:
            continue
        sample, rows, columns = plans[family]
        refits = {n: r for (f, n), r in done.items() if f == family}
        figures["rank_correlation"] = rank_correlation(
            sample,
            rows,
            {n: r for n, r in refits.items() if n in sample},
            columns,
            record["tuning_metric"],
        )
        notes = [figures.pop("rank_note", None)]
        if record["device"] != "cpu":
            notes.append(f"re-fits on CPU; the run fitted on {record['device']}")
        if record["tuning_metric"] == "f1":
            notes.append("f1: a recorded fold_1 is at a threshold its later folds chose")
        if any(notes):
            figures["rank_correlation"]["notes"] = [n for n in notes if n]
        if check is not None and check in refits:
            figures["reproduction"] = reproduction(
                check, rows[check], refits[check], record["tuning_metric"]
            )


# -- printing ------------------------------------------------------------------------------------


def _rhos(figures: Mapping[str, Any]) -> str:
    rc = figures.get("rank_correlation")
    if not rc:
        return "-"
    parts = []
    for rung, r in rc["rungs"].items():
        short = rung.replace("subsample_", "s").replace("fold_", "f")
        parts.append(f"{short} {fmt_num(r['rho'], 0, 2).strip()}")
    return f"{', '.join(parts)} (n={rc['sampled']}, {rc['refit']} refit)"


def _print_run(record: Mapping[str, Any]) -> None:
    wall = record.get("wall_seconds")
    print(
        f"\nseed {record['seed']}: {record['run_dir']}"
        + (f", {wall:.1f} s" if wall is not None else "")
        + f"; test {record['test_rows']} rows, {record['test_positives']} positive; split "
        f"{(record.get('split') or {}).get('method')}, CV {(record.get('cv') or {}).get('method')}"
        f", {record['trials_per_family']} trials, tuning metric {record['tuning_metric']}"
    )
    print(
        f"{'family':20} {'PR-AUC untuned':>14} {'tuned':>6} {'tuned-untuned [95%]':>25} "
        f"{'ROC-AUC untuned':>15} {'tuned':>6} {'tuned-untuned [95%]':>25} {'curse':>7} "
        f"{'CV SE':>6} {'picked':>8}  rung rho vs full CV"
    )
    for family, f in record["families"].items():
        d = f.get("difference") or {}
        un, tu = f.get("untuned") or {}, f.get("tuned") or {}
        picked = (f.get("selection") or {}).get("picked", "-")
        print(
            f"{family:20} {fmt_num(un.get('pr_auc'), 14)} {fmt_num(tu.get('pr_auc'), 6)} "
            f"{fmt_diff(d.get('pr_auc')):>25} {fmt_num(un.get('roc_auc'), 15)} "
            f"{fmt_num(tu.get('roc_auc'), 6)} {fmt_diff(d.get('roc_auc')):>25} "
            f"{fmt_num((f.get('winners_curse') or {}).get('gap'), 7, sign=True)} "
            f"{fmt_num((f.get('cv_noise') or {}).get('standard_error'), 6, 4)} {picked:>8}  "
            f"{_rhos(f)}"
        )
        rep = f.get("reproduction")
        if rep and (rep["gap"] is None or rep["gap"] > 1e-6 or (rep["rung_max_gap"] or 0) > 1e-6):
            print(
                f"{'':20} ! trial {rep['trial']} re-run scores {rep['refit_score']} where the "
                f"search recorded {rep['recorded_score']}: "
                + (
                    rep.get("error")
                    or "the code changed since the run, or its rows and folds "
                    "were not rebuilt as it built them; the re-fitted scores are suspect"
                )
            )
    ens = record["ensemble"]
    if not ens["present"]:
        print(f"ensemble: skipped ({ens['skipped']})")
    else:
        for key, what in (("best_single_by_test", "test"), ("best_single_by_oof", "out-of-fold")):
            if key in ens:
                b = ens[key]
                print(
                    f"ensemble PR-AUC {ens['pr_auc']:.3f} vs the best single model by {what} "
                    f"PR-AUC, {b['model']} ({b['test_pr_auc']:.3f} test): "
                    f"{fmt_diff(b['difference']['pr_auc'])}"
                )
    best = record.get("registry_best")
    if best:
        print(
            f"registered best: {best.get('model_name')} (model {best.get('model_id')}, "
            f"{best.get('model_type')} {best.get('version')}, f1 {fmt_num(best.get('f1'), 0)})"
        )


def _mean(values: Sequence[Any]) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else None


def _summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    families: dict[str, Any] = {}
    names = dict.fromkeys(f for r in records for f in r["families"])
    for family in names:
        each = [r["families"][family] for r in records if family in r["families"]]
        verdicts = [f.get("verdict") for f in each if f.get("verdict")]
        picked = [(f.get("selection") or {}).get("picked") for f in each]
        rungs = dict.fromkeys(
            rung for f in each for rung in (f.get("rank_correlation") or {}).get("rungs", {})
        )
        families[family] = {
            "seeds": len(each),
            "pr_auc_difference_mean": _mean(
                [((f.get("difference") or {}).get("pr_auc") or {}).get("point") for f in each]
            ),
            "roc_auc_difference_mean": _mean(
                [((f.get("difference") or {}).get("roc_auc") or {}).get("point") for f in each]
            ),
            "better": verdicts.count("better"),
            "tie": verdicts.count("tie"),
            "worse": verdicts.count("worse"),
            "winners_curse_mean": _mean([(f.get("winners_curse") or {}).get("gap") for f in each]),
            "cv_standard_error_mean": _mean(
                [(f.get("cv_noise") or {}).get("standard_error") for f in each]
            ),
            "picked": {p: picked.count(p) for p in dict.fromkeys(picked) if p is not None},
            "rung_rho_mean": {
                rung: _mean(
                    [
                        ((f.get("rank_correlation") or {}).get("rungs", {}).get(rung) or {}).get(
                            "rho"
                        )
                        for f in each
                    ]
                )
                for rung in rungs
            },
        }
    ensemble: dict[str, Any] = {"present": sum(1 for r in records if r["ensemble"]["present"])}
    for key in ("best_single_by_test", "best_single_by_oof"):
        diffs = [
            r["ensemble"][key]["difference"]["pr_auc"] for r in records if key in r["ensemble"]
        ]
        ensemble[key] = {
            "pr_auc_difference_mean": _mean([d["point"] for d in diffs]),
            "better": sum(1 for d in diffs if verdict(d) == "better"),
            "tie": sum(1 for d in diffs if verdict(d) == "tie"),
            "worse": sum(1 for d in diffs if verdict(d) == "worse"),
        }
    return {
        "seeds": [r["seed"] for r in records],
        "wall_seconds": [r.get("wall_seconds") for r in records],
        "families": families,
        "ensemble": ensemble,
    }


def _print_summary(summary: Mapping[str, Any]) -> None:
    print(f"\nsummary over {len(summary['seeds'])} run(s), seeds {summary['seeds']}")
    print(
        f"{'family':20} {'mean dPR-AUC':>12} {'better/tie/worse':>16} {'mean dROC-AUC':>13} "
        f"{'mean curse':>10} {'mean CV SE':>10}  picked / mean rung rho"
    )
    for family, s in summary["families"].items():
        picked = ", ".join(f"{k} {v}" for k, v in s["picked"].items()) or "-"
        rhos = ", ".join(f"{k} {fmt_num(v, 0, 2).strip()}" for k, v in s["rung_rho_mean"].items())
        print(
            f"{family:20} {fmt_num(s['pr_auc_difference_mean'], 12, sign=True)} "
            f"{s['better']:>8}/{s['tie']}/{s['worse']:<5} "
            f"{fmt_num(s['roc_auc_difference_mean'], 13, sign=True)} "
            f"{fmt_num(s['winners_curse_mean'], 10, sign=True)} "
            f"{fmt_num(s['cv_standard_error_mean'], 10, 4)}  {picked}; {rhos or '-'}"
        )
    cells = summary["families"].values()
    better, tie, worse = (sum(s[k] for s in cells) for k in ("better", "tie", "worse"))
    print(
        f"tuned vs untuned test PR-AUC (paired 95 % interval), over family x seed: {better} "
        f"better, {tie} within the noise, {worse} worse"
    )
    for key, what in (("best_single_by_test", "test"), ("best_single_by_oof", "out-of-fold")):
        e = summary["ensemble"][key]
        print(
            f"ensemble - best single by {what} PR-AUC: mean "
            f"{fmt_num(e['pr_auc_difference_mean'], 0, sign=True).strip()}, better/tie/worse "
            f"{e['better']}/{e['tie']}/{e['worse']}"
        )


# -- the command ---------------------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="table (default: embedded data)")
    parser.add_argument("--seeds", default="42,7", help="comma-separated run seeds [42,7]")
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help=f"per family [{TRIALS_WITH_DATA} with --data, else {TRIALS_EMBEDDED}]",
    )
    parser.add_argument("--families", default=None, help="trained and tuned [all five]")
    parser.add_argument(
        "--split",
        choices=("stratified", "time"),
        default=None,
        help="[time with --data, else the config's default]",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        action="append",
        default=None,
        help="a finished run to analyse instead of running (repeatable)",
    )
    parser.add_argument(
        "--rank-sample",
        type=int,
        default=8,
        help="trials per family whose rungs are rank-correlated [8]; 0: no rungs, no re-fits",
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples [1000]")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of each Ray [all]")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: embedded data, {' and '.join(QUICK_FAMILIES)}, {TRIALS_QUICK} trials, "
        f"{QUICK_FOLDS} folds, a small report",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    parser.add_argument("--out", type=Path, default=None, help="JSON path")
    parser.add_argument("run_args", nargs="*", help="further `uctune run` flags (after --)")
    args = parser.parse_args(argv)
    try:
        args.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not args.seeds:
        parser.error("--seeds must name at least one seed")
    if args.quick and args.data is not None:
        parser.error("--quick runs on the embedded data; leave out --data")
    default_families = QUICK_FAMILIES if args.quick else FAMILIES
    args.families_given = None
    if args.families is not None:
        args.families_given = tuple(f.strip() for f in args.families.split(",") if f.strip())
        unknown = [f for f in args.families_given if f not in FAMILIES]
        if unknown or not args.families_given:
            parser.error(
                f"unknown family {unknown[0] if unknown else ''!r}; choose from {', '.join(FAMILIES)}"
            )
    args.families = args.families_given or default_families
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data must be an existing table file, got {str(args.data)!r}")
    if args.trials is None:
        args.trials = (
            TRIALS_QUICK if args.quick else TRIALS_WITH_DATA if args.data else TRIALS_EMBEDDED
        )
    if args.trials < 1:
        parser.error(f"--trials must be at least 1, got {args.trials}")
    if args.split is None and args.data is not None:
        args.split = "time"
    if args.rank_sample < 0:
        parser.error(f"--rank-sample must be at least 0, got {args.rank_sample}")
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error(f"--num-cpus must be at least 1, got {args.num_cpus}")
    for run_dir in args.run_dir or ():
        if not (run_dir / "results.json").is_file():
            parser.error(f"--run-dir must be a finished uctune run, got {str(run_dir)!r}")
    from uctune.evaluation import MIN_RESAMPLES  # the one check that imports (a second)

    if args.bootstrap < MIN_RESAMPLES:
        parser.error(f"--bootstrap must be at least {MIN_RESAMPLES}, got {args.bootstrap}")
    return args


def _analyse(
    runs: Sequence[tuple[Path, float | None]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Every run's figures; the re-fits of all runs' trials on one local Ray (none without
    them: ``--rank-sample 0``)."""
    import ray

    from uctune.cluster import ray_session

    records: list[dict[str, Any]] = []
    with ray_session("local", num_cpus=args.num_cpus) if args.rank_sample else nullcontext():
        for run_dir, wall in runs:
            record, tasks = _measure(run_dir, args)
            results = ray.get([ref for _, _, ref in tasks]) if tasks else []
            done = {(f, n): r for (f, n, _), r in zip(tasks, results, strict=True)}
            _finish(record, done)
            records.append({"wall_seconds": wall, **record})
    return records


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)

    from uctune.cluster import loopback_env

    env = {**os.environ, **loopback_env()}
    os.environ.update(loopback_env())  # before Ray is first imported, here and in _common
    with tempfile.TemporaryDirectory() as scratch:
        base = args.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        runs: list[tuple[Path, float | None]] = []
        if args.run_dir:
            runs = [(Path(d), None) for d in args.run_dir]
        else:
            env["UCTUNE_REGISTRY"] = str(base / "registry")
            config = None
            if args.quick:  # a small report: SHAP on 40 rows, 200 bootstrap resamples
                config = base / "quick.yaml"
                config.write_text(
                    "report:\n  shap_rows: 40\n  background_size: 40\n  bootstrap: 200\n"
                )
            for seed in args.seeds:
                out = base / f"seed-{seed}"
                command = _run_command(args, seed, out, config)
                print(f"running {' '.join(command[1:])}", flush=True)
                runs.append((out, _run(command, env, base / f"seed-{seed}.log")))
        records = _analyse(runs, args)

    for record in records:
        _print_run(record)
    summary = _summary(records)
    _print_summary(summary)
    args_record = {
        k: [str(p) for p in v] if k == "run_dir" and v else str(v) if isinstance(v, Path) else v
        for k, v in vars(args).items()
    }
    path = save(
        "quality", json_ready({"args": args_record, "runs": records, "summary": summary}), args.out
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
