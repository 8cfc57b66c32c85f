"""``uctune data``: generate the synthetic dataset, build the real NSE tables, draw a training
sample from them, check a feature table against the schema."""

from __future__ import annotations

from pathlib import Path

import click

from uctune.errors import ConfigError

__all__ = ["command"]


@click.group("data")
def command() -> None:
    """Make and check feature tables."""


def _table_suffix(out: Path) -> str:
    """``--out``'s table suffix (``.csv.gz``, ...); refused in one line when it has none."""
    from uctune.runs import TABLE_SUFFIXES

    for suffix in TABLE_SUFFIXES:
        if out.name.lower().endswith(suffix):
            return out.name[-len(suffix) :]
    raise ConfigError(f"--out must end in .csv, .csv.gz or .parquet, got {str(out)!r}")


def _truth_path(out: Path) -> Path:
    suffix = _table_suffix(out)
    return out.with_name(out.name[: -len(suffix)] + ".truth" + suffix)


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


@command.command("nse")
@click.option(
    "--source",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder laid out as shared/data/real: nse_sec_bhavdata_full/ and nse_price_bands/.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output folder (replaced as a whole at the end of a successful build).",
)
@click.option(
    "--calendar",
    type=click.Path(path_type=Path),
    default=None,
    help="Results calendar: a CSV (symbol or company, results_date) or a Moneycontrol calendar "
    "folder; writes events.parquet.",
)
def nse(source: Path, out: Path, calendar: Path | None) -> None:
    """Build daily.parquet (and events.parquet) from NSE's raw exchange files.

    Features come from each stock's rows strictly before the session; the label is NaN where no
    band applies. Label statistics are printed for sessions before 2026-05-01 only: the July-August
    2026 results season is the final holdout. See data/NSE.md.
    """
    from uctune.data.nse import build

    summary = build(
        source, out, calendar=calendar, progress=lambda line: click.echo(line, err=True)
    )
    for line in summary.lines():
        click.echo(line)
    click.echo(
        f"wrote {out} (daily.parquet{', events.parquet' if calendar else ''}, NSE.md) "
        f"in {summary.seconds:.0f} s"
    )


@command.command("sample")
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A daily table built by `uctune data nse` (daily.parquet).",
)
@click.option("--rows", type=click.IntRange(min=1), required=True, help="Rows to draw.")
@click.option(
    "--before",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-05-01",
    show_default=True,
    help="Draw only sessions strictly before this date (at most 2026-07-01: the July-August 2026 "
    "results season is the final holdout).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file (.csv, .csv.gz or .parquet).",
)
def sample(data: Path, rows: int, before: object, seed: int, out: Path) -> None:
    """Draw labelled rows of a daily NSE table for training (unlabelled rows are left out)."""
    import pandas as pd

    from uctune.data.nse import sample_daily
    from uctune.data.schema import LABEL
    from uctune.runs import write_frame

    _table_suffix(out)  # before the daily table is read
    frame = sample_daily(data, rows=rows, before=pd.Timestamp(before), seed=seed)
    write_frame(frame, out)
    click.echo(
        f"wrote {len(frame):,} labelled rows dated {frame['session_date'].min():%Y-%m-%d} to "
        f"{frame['session_date'].max():%Y-%m-%d} ({int(frame[LABEL].sum()):,} upper-band hits, "
        f"{frame[LABEL].mean():.2%}) to {out}"
    )
