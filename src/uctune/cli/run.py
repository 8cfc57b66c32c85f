"""``uctune run``: the seed's whole workflow as one resumable job."""

from __future__ import annotations

from pathlib import Path

import click

from uctune.cli._common import cluster_options, execute, training_options

__all__ = ["command"]


@click.command("run")
@training_options
@cluster_options
@click.option(
    "--resume",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Continue an interrupted run from its directory; finished stages are skipped.",
)
@click.pass_context
def command(ctx: click.Context, **kwargs: object) -> None:
    """Run the end-to-end workflow on the embedded dataset or --data, from --config or defaults.

    Stages, in order: train (all five families in parallel on Ray: CV, out-of-fold threshold,
    holdout metrics), report (test-split metrics with bootstrap intervals, plots and SHAP for every
    model, in report/model_comparison.html), register (the run's models into the model registry,
    config section `registry:`). An interrupted run continues with --resume RUN_DIR.
    """
    from uctune.workflow import STAGES

    execute(ctx, command="run", stages=list(STAGES), **kwargs)  # type: ignore[arg-type]
