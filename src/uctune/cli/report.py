"""``uctune report``: (re)build the evaluation report of a run from its directory."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["command"]


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for model_comparison.html and results.json [default: RUN_DIR/report].",
)
@click.option(
    "--shap-rows",
    type=int,
    default=None,
    help="Test rows explained with SHAP per model [default: the run's config, 200].",
)
@click.option(
    "--background-size",
    type=int,
    default=None,
    help="Training rows SHAP compares against [default: the run's config, 100].",
)
@click.option(
    "--bootstrap",
    type=int,
    default=None,
    help="Bootstrap resamples for the intervals, 0 for none [default: the run's config, 1000].",
)
def command(
    run_dir: Path,
    out: Path | None,
    shap_rows: int | None,
    background_size: int | None,
    bootstrap: int | None,
) -> None:
    """Evaluate every model of RUN_DIR on its test split and write one self-contained HTML report.

    Reads the run's models, predictions.csv and results.json (and tune/ when the run was tuned);
    writes model_comparison.html (plots embedded, no network needed) and results.json with the
    same numbers. The run's own results.json is not changed.
    """
    from uctune.cli._progress import ProgressLine
    from uctune.config import apply_overrides
    from uctune.workflow import build_run_report, report_settings, resume_run

    run = resume_run(run_dir, backend="sequential")
    config = apply_overrides(
        run.config,
        {
            "report.shap_rows": shap_rows,
            "report.background_size": background_size,
            "report.bootstrap": bootstrap,
        },
    )
    run.progress = ProgressLine
    outcome = build_run_report(run, out=out, settings=report_settings(config))
    click.echo(_shap_line(outcome.shap_seconds), err=True)
    click.echo(
        f"report built in {outcome.seconds:.1f}s; best model: {outcome.best_model}", err=True
    )
    click.echo(f"wrote {outcome.html}")
    click.echo(f"wrote {outcome.json}")


def _shap_line(seconds: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {s:.1f}s" for name, s in seconds.items())
    return f"SHAP: {sum(seconds.values()):.1f}s ({parts})" if seconds else "SHAP: not computed"
