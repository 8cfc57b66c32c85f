"""``uctune train``: the five families (or a subset) trained in parallel on Ray."""

from __future__ import annotations

from pathlib import Path

import click

from uctune.cli._common import (
    build_config,
    cluster_options,
    print_summary,
    resolve_run_dir,
    training_options,
)

__all__ = ["command", "execute_training"]


def execute_training(
    ctx: click.Context,
    *,
    kind: str,
    config_path: Path | None,
    data: Path | None,
    families: str | None,
    folds: int | None,
    split: str | None,
    test_size: float | None,
    seed: int | None,
    out: Path | None,
    address: str | None,
    num_cpus: int | None,
    cpus_per_fit: int | None,
    sequential: bool = False,
) -> Path:
    from uctune.cli._progress import ProgressLine
    from uctune.cluster import cluster_cpus, ray_session
    from uctune.data import load_feature_table
    from uctune.runs import staged_dir
    from uctune.training import Backend
    from uctune.workflow import run_training, train_payload, write_train_outputs

    config = build_config(
        config_path,
        data=data,
        families=families,
        folds=folds,
        split=split,
        test_size=test_size,
        seed=seed,
        cpus_per_fit=cpus_per_fit,
    )
    run_dir, run_id = resolve_run_dir(config, out, kind)
    table = load_feature_table(config.data, n_folds=config.train.cv_folds)
    click.echo(
        f"data: {table.source}: {table.n_rows} rows, {len(table.features)} features, "
        f"{table.n_positive} positives ({table.n_positive / table.n_rows:.1%})",
        err=True,
    )
    backend: Backend = "sequential" if sequential else "ray"
    progress = ProgressLine("train")
    verbose = bool(ctx.obj and ctx.obj.get("verbose"))
    if sequential:
        outcome = run_training(table, config, backend="sequential", progress=progress)
        cluster: dict[str, object] = {"cpus": 1}
    else:
        with ray_session(address, num_cpus=num_cpus, verbose=verbose):
            cluster = {"cpus": cluster_cpus(), "address": address or "local"}
            click.echo(f"ray: {cluster['cpus']} CPUs", err=True)
            outcome = run_training(table, config, backend="ray", progress=progress)
    payload = train_payload(table, outcome, config, run_id=run_id, backend=backend, cluster=cluster)
    with staged_dir(run_dir) as staging:
        write_train_outputs(staging, table, outcome, payload)
    print_summary(payload)
    click.echo(f"wrote {run_dir / 'results.json'} ({outcome.wall_seconds:.1f}s of training)")
    return run_dir


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
    """Train every model family in parallel on Ray: stratified k-fold CV on the training split,
    an F1-optimal threshold from the out-of-fold predictions, a refit, and holdout metrics.

    Prints a summary table and writes results.json, the models and the test predictions into the
    run directory.
    """
    execute_training(ctx, kind="train", **kwargs)  # type: ignore[arg-type]
