"""``uctune run``: the end-to-end workflow (train, tune, ensemble, report, register) as one resumable
job."""

from __future__ import annotations

import click

from uctune.cli._common import RESUME_HELP, ResumeTarget, cluster_options, execute, training_options

__all__ = ["command"]


@click.command("run")
@training_options
@cluster_options
@click.option(
    "--trials",
    type=int,
    default=None,
    help="Tuning trials per family [default: the config's tune.trials, 12].",
)
@click.option(
    "--ensemble",
    type=click.Choice(["auto", "caruana", "stacker", "off"]),
    default=None,
    help="The ensemble stage: Caruana's greedy selection, a logistic-regression stacker, the "
    "one with the better cross-validated score (auto), or off [default: the config's "
    "ensemble.method, auto].",
)
@click.option(
    "--resume", type=ResumeTarget(), default=None, metavar="RUN_DIR|auto", help=RESUME_HELP
)
@click.option(
    "--mlflow-uri",
    default=None,
    metavar="URI",
    help="Log the finished run to this MLflow tracking server: the models' metrics, each "
    "family's search and every trial, the report, and the registered models into MLflow's "
    "model registry (needs the extra mlflow) [default: the config's tracking.mlflow_uri].",
)
@click.option(
    "--export",
    default=None,
    metavar="URI|DIR",
    help="When the run is done, upload it and a consistent snapshot of its registry to "
    "URI/<run id>/ (s3://bucket/prefix, gs://..., or a folder) with a manifest of checksums; "
    "`uctune registry pull` brings the registry back.",
)
@click.pass_context
def command(ctx: click.Context, trials: int | None, ensemble: str | None, **kwargs: object) -> None:
    """Run the end-to-end workflow on the embedded dataset or --data, from --config or defaults.

    Stages, in order: train (all five families in parallel on Ray: CV, out-of-fold threshold,
    holdout metrics; every model's probabilities calibrated on out-of-fold predictions before its
    threshold is chosen), tune (Optuna TPE on Ray Tune with ASHA pruning for the config's
    tune.families, by default XGBoost, LightGBM and the neural network; the best params refit and
    saved as <family>_tuned), ensemble (the stored models combined on their out-of-fold
    predictions, calibrated, saved as ensemble), report (test-split metrics with bootstrap
    intervals, plots and SHAP for every model, in report/model_comparison.html), register (the
    tuned models and the ensemble into the model registry, config section `registry:`).
    --families sets the families of both training stages; --cv walk_forward (the default with
    --split time) makes every stage's CV walk forward in time.
    An interrupted run continues with --resume RUN_DIR, without repeating finished stages or
    finished trials; --resume auto --out DIR runs the same command line again and again (a retried
    Kubernetes job): it resumes the run in DIR, or starts it there.
    """
    from uctune.workflow import STAGES

    settings: dict[str, object] = {
        "tune.trials": trials,
        "tune.families": kwargs.get("families"),
        "tracking.mlflow_uri": kwargs.pop("mlflow_uri", None),
    }
    if ensemble == "off":
        settings["ensemble.enabled"] = False
    elif ensemble is not None:
        settings |= {"ensemble.method": ensemble, "ensemble.enabled": True}
    execute(ctx, command="run", stages=list(STAGES), settings=settings, **kwargs)  # type: ignore[arg-type]
