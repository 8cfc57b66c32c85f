"""``uctune tune``: distributed hyperparameter search for one or more families."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from uctune.cli._common import RESUME_HELP, ResumeTarget, execute, ray_options, run_options

__all__ = ["command"]

SEED_TRIALS = 100


@click.command("tune")
@click.option(
    "--model",
    "--models",
    "models",
    default=None,
    metavar="LIST",
    help="Family (or comma-separated families) to tune: xgboost, lightgbm, neural_network, "
    "random_forest, logistic_regression or an alias [default: the config's, else xgboost, lightgbm and "
    "neural_network].",
)
@click.option(
    "--trials",
    type=int,
    default=None,
    help=f"Trials per family [default: {SEED_TRIALS}, or the config's tune.trials].",
)
@click.option(
    "--metric",
    default=None,
    metavar="NAME",
    help="What trials are searched, pruned and picked on: pr_auc (average precision), log_loss, "
    "roc_auc, or f1 (each fold at a threshold chosen on the other folds, or the earlier ones with "
    "walk-forward CV) [default: pr_auc]. The decision threshold is F1's whatever the metric.",
)
@click.option(
    "--pruning/--no-pruning",
    default=None,
    help="Stop unpromising trials after a fold milestone (ASHA) [default: on].",
)
@click.option(
    "--grace-period",
    type=int,
    default=None,
    help="Budget every trial spends before it may be stopped: folds, or with --fidelity rows the "
    "smallest subsample steps [default: 1].",
)
@click.option(
    "--fidelity",
    type=click.Choice(["auto", "folds", "rows"]),
    default=None,
    help="What ASHA's budget grows: folds, or rows (first fits on 1/rf^k of the first fold's "
    "training rows with fewer trees or rounds, then the full folds); auto is rows from 20,000 "
    "training rows [default: auto].",
)
@click.option(
    "--cpus-per-trial",
    type=int,
    default=None,
    help="CPUs (and model threads) of one trial; trials run cluster CPUs / this at a time "
    "[default: 1].",
)
@click.option(
    "--storage",
    default=None,
    metavar="DIR|URI",
    help="Where Ray Tune keeps its experiment: a directory or a pyarrow URI (s3://bucket/prefix) "
    "[default: the run directory].",
)
@run_options
@click.option(
    "--resume", type=ResumeTarget(), default=None, metavar="RUN_DIR|auto", help=RESUME_HELP
)
@ray_options
@click.option(
    "--verbose",
    "ray_verbose",
    is_flag=True,
    help="Show Ray's own output and Ray Tune's trial table instead of the progress line.",
)
@click.pass_context
def command(
    ctx: click.Context,
    models: str | None,
    trials: int | None,
    metric: str | None,
    pruning: bool | None,
    grace_period: int | None,
    fidelity: str | None,
    cpus_per_trial: int | None,
    storage: str | None,
    resume: Path | Literal["auto"] | None,
    ray_verbose: bool,
    config_path: Path | None,
    **common: object,
) -> None:
    """Tune hyperparameters with Optuna's TPE, the trials run in parallel on Ray Tune.

    Each trial is a k-fold CV of one configuration on the training split (stratified, or
    walk-forward with --cv walk_forward: each fold trained on earlier dates only), reporting after
    every fold so that ASHA stops unpromising trials early. Each fold's F1 is taken at a threshold
    chosen without it, so trial scores are not flattered by their own threshold. The best
    configuration is refit like `uctune train` does (out-of-fold threshold, holdout metrics) and
    saved as <family>_tuned. Writes tune/<family>/trials.csv and best_params.json into the run
    directory and prints the best params. An interrupted run (Ctrl-C, a killed process) continues
    with --resume RUN_DIR.
    """
    settings = {
        "tune.families": models,
        "tune.trials": trials,
        "tune.metric": metric,
        "tune.pruning": pruning,
        "tune.grace_period": grace_period,
        "tune.fidelity": fidelity,
        "tune.cpus_per_trial": cpus_per_trial,
        "tune.storage": storage,
    }
    execute(
        ctx,
        command="tune",
        stages=["tune"],
        resume=resume,
        config_path=config_path,
        settings=settings,
        defaults={"tune.trials": SEED_TRIALS},
        ray_verbose=ray_verbose,
        **common,  # type: ignore[arg-type]
    )
