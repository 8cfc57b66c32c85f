"""``uctune run``: the seed's whole workflow as one job (for now: the training stage)."""

from __future__ import annotations

import click

from uctune.cli._common import cluster_options, training_options

__all__ = ["command"]


@click.command("run")
@training_options
@cluster_options
@click.pass_context
def command(ctx: click.Context, **kwargs: object) -> None:
    """Run the end-to-end workflow on the embedded dataset or --data, from --config or defaults.

    Stages: train all five families in parallel on Ray (CV, threshold, holdout metrics).
    """
    from uctune.cli.train import execute_training

    execute_training(ctx, kind="run", **kwargs)  # type: ignore[arg-type]
