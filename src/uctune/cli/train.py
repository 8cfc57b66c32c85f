"""``uctune train``: the five families (or a subset) trained in parallel on Ray."""

from __future__ import annotations

import click

from uctune.cli._common import cluster_options, execute, training_options

__all__ = ["command"]


@click.command("train")
@training_options
@cluster_options
@click.option(
    "--sequential",
    is_flag=True,
    help="Run every fit one after another in this process, without Ray (for comparison).",
)
@click.pass_context
def command(ctx: click.Context, **kwargs: object) -> None:
    """Train every model family in parallel on Ray: k-fold CV on the training split (stratified,
    or walk-forward with --cv walk_forward), an F1-optimal threshold from the out-of-fold
    predictions, a refit, and holdout metrics. The CV scores are honest: each fold is scored at a
    threshold chosen without it (with walk-forward, on earlier folds only).

    Prints a summary table and writes results.json, the models and the test predictions into the
    run directory.
    """
    execute(ctx, command="train", stages=["train"], **kwargs)  # type: ignore[arg-type]
