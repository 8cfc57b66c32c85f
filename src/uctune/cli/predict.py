"""``uctune predict``: score new events with a registered model, with reasons for each row."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from uctune.cli.registry import open_registry, root_option
from uctune.runs import write_frame

__all__ = ["command"]

_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def _check_output(path: Path) -> None:
    from uctune.errors import ConfigError

    if not path.name.lower().endswith(_SUFFIXES):
        raise ConfigError(f"--output must end in .csv, .csv.gz or .parquet, got {str(path)!r}")
    if path.is_dir():
        raise ConfigError(f"--output {str(path)!r} is a directory; give a file name")


@click.command("predict")
@click.option(
    "--model",
    "ref",
    required=True,
    help="Model id, type@version, alias (production) or 'best' (highest F1).",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Events to score (.csv, .csv.gz or .parquet): the model's feature columns, and "
    "optionally symbol, announcement_date or session_date, and upper_circuit (never read).",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the scores (.csv, .csv.gz or .parquet).",
)
@click.option(
    "--reasons",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="SHAP reasons per row (0: none, faster).",
)
@click.option(
    "--shap-samples",
    "samples",
    type=click.IntRange(min=2),
    default=None,
    help="Orderings per row of the sampled SHAP estimate for families without an exact "
    "explainer (the neural network): an even number, default 32; a row costs "
    "samples x (features - 1) + 1 model evaluations. Trees and logistic regression are "
    "explained exactly.",
)
@root_option
def command(
    ref: str,
    input_path: Path,
    output_path: Path,
    reasons: int,
    samples: int | None,
    root: Path | None,
) -> None:
    """Score new events: probability of an upper circuit, the decision at the model's stored
    threshold, the confidence band (high/medium/low/none) and the top SHAP reasons per row.
    """
    import pandas as pd

    from uctune.cli._progress import ProgressLine
    from uctune.data.io import read_table
    from uctune.scoring import decision_threshold, score

    _check_output(output_path)
    registry = open_registry(root)
    entry = registry.get(ref)
    frame = read_table(input_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = registry.load(entry)
    for warning in caught:
        click.echo(f"uctune: warning: {warning.message}", err=True)
    lineage = entry.lineage
    stored = registry.background(entry.model_id)
    label = f"model {entry.model_id} ({entry.ref})"
    # Resolved here, not left to score(), so the summary prints the threshold that was applied.
    threshold = lineage.threshold if lineage.threshold is not None else decision_threshold(model)
    scores = score(
        model,
        frame,
        features=lineage.features,
        categorical=lineage.categorical,
        threshold=threshold,
        reasons=reasons,
        background=pd.DataFrame.from_records(stored) if stored else None,
        source=f"input file {str(input_path)!r}",
        model_label=label,
        **({} if samples is None else {"samples": samples}),
        progress=ProgressLine("predict: SHAP reasons") if reasons else None,
    )
    write_frame(scores, output_path, float_format="%.6g")
    bands = scores["confidence"].value_counts()
    click.echo(
        f"scored {len(scores)} events with {label}: {int(scores['decision'].sum())} predicted "
        f"upper circuits at its threshold {threshold:.3f}; confidence high "
        f"{int(bands.get('high', 0))}, medium {int(bands.get('medium', 0))}, "
        f"low {int(bands.get('low', 0))}; wrote {output_path}"
    )
