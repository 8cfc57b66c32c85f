"""``uctune data``: generate the synthetic dataset, check a feature table against the schema."""

from __future__ import annotations

from pathlib import Path

import click

from uctune.errors import ConfigError

__all__ = ["command"]


@click.group("data")
def command() -> None:
    """Make and check feature tables."""


def _truth_path(out: Path) -> Path:
    from uctune.runs import TABLE_SUFFIXES

    name = out.name
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            return out.with_name(name[: -len(suffix)] + ".truth" + suffix)
    raise ConfigError(f"--out must end in .csv, .csv.gz or .parquet, got {str(out)!r}")


@command.command("synth")
@click.option("--rows", type=int, default=10_000, show_default=True, help="Events to generate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file (.csv, .csv.gz or .parquet).",
)
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write each row's true probability [default: beside --out, as NAME.truth.EXT].",
)
def synth(rows: int, seed: int, out: Path, truth: Path | None) -> None:
    """Generate a synthetic earnings-event table modelled on NSE results days.

    Also writes each row's true label probability to a side file (never a feature): the ceiling a
    model can reach.
    """
    from uctune.data import generate
    from uctune.data.schema import LABEL
    from uctune.runs import write_frame

    beside = _truth_path(out)  # also checks --out's suffix before any work
    truth = truth or beside
    events, probabilities = generate(rows, seed)
    for frame, path in ((events, out), (probabilities, truth)):
        write_frame(frame, path)
    click.echo(
        f"wrote {len(events)} events ({int(events[LABEL].sum())} upper circuits, "
        f"{events[LABEL].mean():.1%}) to {out}; true probabilities to {truth}"
    )


@command.command("validate")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option(
    "--folds", type=int, default=5, show_default=True, help="CV folds the data must support."
)
def validate(path: Path | None, folds: int) -> None:
    """Check a feature table (default: the embedded dataset) and summarise it."""
    from uctune.data import load_feature_table

    table = load_feature_table(path, n_folds=folds)
    click.echo(
        f"{table.source}: {table.n_rows} rows, {len(table.features)} features "
        f"({len(table.categorical)} categorical), {table.n_positive} positives "
        f"({table.n_positive / table.n_rows:.1%}); fingerprint {table.fingerprint()[:19]}"
    )
