"""Options and steps shared by ``uctune train`` and ``uctune run``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from uctune.config import RunConfig, apply_overrides, load_config

__all__ = [
    "run_options",
    "training_options",
    "ray_options",
    "cluster_options",
    "build_config",
    "execute",
    "print_ensemble",
    "print_summary",
    "print_registered",
]

F = TypeVar("F", bound=Callable[..., Any])


class ResumeTarget(click.ParamType):
    """``--resume``: an interrupted run's directory, or ``auto``."""

    name = "RUN_DIR|auto"

    def convert(self, value: Any, param: Any, ctx: Any) -> Path | Literal["auto"]:
        if value == "auto":
            return "auto"
        path = Path(value)
        if not path.is_dir():
            self.fail(f"run directory {str(path)!r} does not exist", param, ctx)
        return path


RESUME_HELP = (
    "Continue an interrupted run from its directory with its own config; finished stages and "
    "trials are kept. 'auto' (with --out and the run's flags): resume the run in --out if it "
    "holds one of this config, else start it there, so a retried job can run the same command."
)


def run_options(func: F) -> F:
    """Flags that override the run config (each one is optional: the config or default stands)."""
    options = [
        click.option(
            "--data",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Feature table (.csv, .csv.gz, .parquet) [default: the embedded dataset].",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="YAML run config; flags override it.",
        ),
        click.option(
            "--folds", type=int, default=None, help="Cross-validation folds [default: 5]."
        ),
        click.option(
            "--split",
            type=click.Choice(["stratified", "time"]),
            default=None,
            help="Holdout: seeded stratified 80/20, or the latest results dates [default: stratified].",
        ),
        click.option(
            "--test-size", type=float, default=None, help="Holdout fraction [default: 0.2]."
        ),
        click.option(
            "--cv",
            "cv",
            type=click.Choice(["stratified", "walk_forward"]),
            default=None,
            help="Cross-validation folds: seeded stratified k-fold, or walk-forward over the "
            "results dates (each fold trained on earlier dates only) [default: walk_forward with "
            "--split time, else stratified].",
        ),
        click.option(
            "--embargo",
            type=int,
            default=None,
            metavar="N",
            help="Walk-forward CV: sessions (distinct dates) left out between training and "
            "validation dates [default: 0].",
        ),
        click.option(
            "--calibration",
            type=click.Choice(["auto", "isotonic", "sigmoid", "none"]),
            default=None,
            help="How each model's out-of-fold probabilities are calibrated before its threshold "
            "is chosen: isotonic, sigmoid (Platt), auto (the lower cross-validated Brier score) "
            "or none [default: auto].",
        ),
        click.option("--seed", type=int, default=None, help="Random seed [default: 42]."),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Run directory to create [default: runs/<timestamp>-<command>].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def training_options(func: F) -> F:
    """:func:`run_options` and --families, the families the train stage trains."""
    func = click.option(
        "--families",
        default=None,
        metavar="LIST",
        help="Comma-separated families or aliases (lr,rf,xgb,lgbm,nn) [default: all five].",
    )(func)
    return run_options(func)


def ray_options(func: F) -> F:
    """--address and --num-cpus: which Ray the command runs on."""
    options = [
        click.option(
            "--address",
            default=None,
            envvar="RAY_ADDRESS",
            show_envvar=True,
            help="Ray cluster to use ('auto' for one started here with `ray start`) "
            "[default: a new local Ray on all cores].",
        ),
        click.option(
            "--num-cpus", type=int, default=None, help="CPUs of the local Ray [default: all cores]."
        ),
        click.option(
            "--device",
            type=click.Choice(["cpu", "cuda"]),
            default=None,
            help="Fit XGBoost on the cluster's GPUs (cuda) or on CPUs; the other families always "
            "use CPUs [default: cpu].",
        ),
        click.option(
            "--gpus-per-fit",
            type=float,
            default=None,
            help="GPUs each XGBoost fit or trial asks Ray for with --device cuda; a fraction "
            "shares a GPU [default: 1].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def cluster_options(func: F) -> F:
    """:func:`ray_options` and --cpus-per-fit, the CPU share of each training fit."""
    func = click.option(
        "--cpus-per-fit",
        type=int,
        default=None,
        help="CPUs (and threads) each model fit gets [default: 1].",
    )(func)
    return ray_options(func)


def _set_in_file(config: RunConfig, dotted: str) -> bool:
    """Whether the config file gave ``dotted`` (``tune.trials``) a value of its own."""
    node: Any = config
    for key in dotted.split("."):
        if key not in node.model_fields_set:
            return False
        node = getattr(node, key)
    return True


def build_config(
    config_path: Path | None,
    *,
    data: Path | None,
    folds: int | None,
    split: str | None,
    test_size: float | None,
    seed: int | None,
    families: str | None = None,
    cpus_per_fit: int | None = None,
    device: str | None = None,
    gpus_per_fit: float | None = None,
    defaults: dict[str, Any] | None = None,
    cv: str | None = None,
    embargo: int | None = None,
    calibration: str | None = None,
) -> RunConfig:
    """The run config: the file's (or the built-in defaults), then the command's own ``defaults``
    where the file is silent, then the flags."""
    config = load_config(config_path)
    own = {k: v for k, v in (defaults or {}).items() if not _set_in_file(config, k)}
    return apply_overrides(
        config,
        {
            **own,
            "data": data,
            "train.families": families,
            "train.cv_folds": folds,
            "split.method": split,
            "split.test_size": test_size,
            "cv.method": cv,
            "cv.embargo": embargo,
            "calibration": calibration,
            "seed": seed,
            "train.cpus_per_fit": cpus_per_fit,
            "device": device,
            "gpus_per_fit": gpus_per_fit,
        },
    )


def _pct(value: float | None) -> str:
    return "   -" if value is None or value != value else f"{value:.3f}"


def print_summary(payload: dict[str, Any]) -> None:
    """The five families side by side: CV means and holdout scores at 0.5 and at the OOF threshold;
    then the tuning stage's summary, when the run tuned."""
    from uctune.cli._table import format_table

    if payload.get("tuning") or payload.get("tuning_failures"):
        from uctune.cli._tuning import print_tuning_summary

        if payload.get("families"):
            _print_families(payload, format_table, ensemble=False)
            click.echo("")
        print_tuning_summary(payload)
        print_ensemble(payload)
        return
    _print_families(payload, format_table)


def _best_single(payload: dict[str, Any]) -> tuple[str, float] | None:
    """The run's other model with the highest test PR-AUC at its threshold: (name, PR-AUC)."""
    scores = {
        name: fam["holdout"]["at_threshold"]["pr_auc"]
        for name, fam in (payload.get("families") or {}).items()
        if fam.get("holdout")
    }
    scores |= {
        f"{family}_tuned": t["refit"]["holdout"]["at_threshold"]["pr_auc"]
        for family, t in (payload.get("tuning") or {}).items()
        if t.get("refit", {}).get("holdout")
    }
    if not scores:
        return None
    best = max(scores, key=lambda n: scores[n])
    return best, scores[best]


def print_ensemble(payload: dict[str, Any]) -> None:
    """One line for the ensemble stage: what it combined and how it scores against the best
    single model on the test split."""
    section = payload.get("ensemble")
    if not section or not section.get("enabled"):
        return
    if "skipped" in section:
        click.echo(f"ensemble skipped: {section['skipped']}")
        return
    combiner = section["combiner"]
    shares = combiner.get("weights") or combiner.get("coef") or {}
    parts = ", ".join(f"{name} {value:.2f}" for name, value in shares.items() if value)
    holdout = section.get("holdout", {}).get("at_threshold", {})
    line = f"ensemble ({section['method']}: {parts})"
    if holdout:
        line += (
            f": test f1@thr {_pct(holdout['f1'])}, roc_auc {_pct(holdout['roc_auc'])}, "
            f"pr_auc {_pct(holdout['pr_auc'])}"
        )
        best = _best_single(payload)
        if best is not None:
            line += f" (best single model: {best[0]} {_pct(best[1])})"
    calibration = section.get("calibration", {})
    after = calibration.get("holdout", {}).get("calibrated", {})
    line += f"; calibration {calibration.get('method', 'none')}"
    if after:
        line += f", test ECE {after['ece']:.3f}"
    click.echo(f"{line}; {section['seconds']:.1f}s")
    versus = section.get("versus_members")
    if versus and not versus.get("earned"):
        registry = payload.get("registry") or {}
        not_registered = "not registered: " if "ensemble_not_registered" in registry else ""
        click.echo(f"ensemble {not_registered}{versus['verdict']}")


def _print_families(payload: dict[str, Any], format_table: Any, *, ensemble: bool = True) -> None:
    rows = []
    for name, fam in payload.get("families", {}).items():
        cv, at05, tuned = (
            fam["cv"]["mean"],
            fam["holdout"]["at_0.5"],
            fam["holdout"]["at_threshold"],
        )
        rows.append(
            [
                name,
                f"{_pct(cv['f1'])}±{fam['cv']['std']['f1']:.3f}",
                _pct(cv["roc_auc"]),
                _pct(cv["pr_auc"]),
                _pct(at05["f1"]),
                f"{fam['threshold']:.3f}",
                _pct(tuned["f1"]),
                _pct(tuned["precision"]),
                _pct(tuned["recall"]),
                _pct(tuned["roc_auc"]),
                _pct(tuned["pr_auc"]),
                f"{fam['fit_seconds']:.1f}",
            ]
        )
    headers = [
        "family",
        "cv f1",
        "cv roc",
        "cv pr",
        "test f1@0.5",
        "thr",
        "test f1@thr",
        "prec",
        "recall",
        "roc_auc",
        "pr_auc",
        "fit cpu-s",
    ]
    click.echo(format_table(headers, rows))
    for name, why in payload.get("failures", {}).items():
        click.echo(f"{name}: FAILED: {why}", err=True)
    if ensemble:
        print_ensemble(payload)
    report = payload.get("report")
    if report:
        by_model = ", ".join(f"{n} {s:.1f}s" for n, s in report["shap_seconds_by_model"].items())
        click.echo(
            f"SHAP: {report['shap_seconds']:.1f}s ({by_model}); "
            f"report built in {report['seconds']:.1f}s"
        )
    print_registered(payload.get("registry"))


def _model_line(info: dict[str, Any]) -> str:
    return (
        f"model {info['model_id']} {info['model_type']}@{info['version']} "
        f"({info['model_name']}, f1 {_pct(info.get('f1'))})"
    )


def print_registered(section: dict[str, Any] | None) -> None:
    """What the register stage stored, and the best model of the run and of the registry."""
    if not section or not section.get("enabled", True):
        return
    models = section.get("models", {})
    ids = ", ".join(str(m["model_id"]) for m in models.values())
    families = len(models) - ("ensemble" in models)
    what = f"{families} {section.get('source', '')} model(s)".replace("  ", " ")
    if "ensemble" in models:
        what += " and the ensemble"
    click.echo(f"registered {what} in {section.get('path')}: ids {ids or '-'}")
    if section.get("best"):
        click.echo(f"best of this run: {_model_line(section['best'])}")
    overall = section.get("registry_best")
    if overall and overall.get("model_id") != (section.get("best") or {}).get("model_id"):
        click.echo(f"best in the registry: {_model_line(overall)}")


def execute(
    ctx: click.Context,
    *,
    command: str,
    stages: list[str],
    resume: Path | Literal["auto"] | None = None,
    sequential: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    out: Path | None = None,
    config_path: Path | None = None,
    settings: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    ray_verbose: bool = False,
    export: str | None = None,
    **overrides: Any,
) -> Path:
    """Start (or resume) a run, execute its stages on Ray, print the summary; return the run dir.

    ``settings`` are further dotted config overrides (``tune.trials``); ``defaults`` are the
    command's own values where the config file is silent; ``ray_verbose`` shows Ray's own output
    (and Ray Tune's trial table) instead of the progress lines. ``export`` (a URI or a folder)
    receives the finished run and its registry (:func:`uctune.workflow.export_run`); it is
    checked before anything runs.
    """
    from uctune.cli._progress import ProgressLine
    from uctune.errors import ConfigError
    from uctune.workflow import Session, execute_run, open_run

    config = None
    if resume is not None and resume != "auto":
        flags = {k.split(".")[-1]: v for k, v in (settings or {}).items()}
        given = sorted(
            k.replace("_", "-")
            for k, v in {**overrides, **flags, "out": out, "config": config_path}.items()
            if v is not None
        )
        if given:
            raise ConfigError(
                f"--resume re-uses the run's own config; drop {', '.join('--' + g for g in given)}"
            )
    else:
        config = build_config(config_path, defaults=defaults, **overrides)
        if settings:
            config = apply_overrides(config, settings)
    session = Session(
        address=address,
        num_cpus=num_cpus,
        sequential=sequential,
        verbose=bool(ctx.obj and ctx.obj.get("verbose")) or ray_verbose,
        library_output=ray_verbose,
    )
    if export:
        from uctune.workflow import check_export

        check_export(export)  # an unreachable bucket fails now, not after the run
    if config is not None and config.tracking.mlflow_uri:
        from uctune.workflow import check_tracking

        check_tracking(config.tracking.mlflow_uri)  # an MLflow that does not answer, likewise
    run = open_run(
        config,
        command=command,
        stages=stages,
        session=session,
        resume=resume,
        out=out,
    )
    table = run.table
    click.echo(
        f"data: {table.source}: {table.n_rows} rows, {len(table.features)} features, "
        f"{table.n_positive} positives ({table.n_positive / table.n_rows:.1%})",
        err=True,
    )
    run.progress = ProgressLine
    execute_run(
        run,
        stages,
        session=session,
        fresh=not run.resumed,
        announce=lambda line: click.echo(line, err=True),
    )
    print_summary(run.results)
    if "report" in run.results:
        click.echo(f"wrote {run.run_dir / run.results['report']['html']}")
    click.echo(f"wrote {run.run_dir / 'results.json'}")
    tracking = run.config.tracking
    if tracking.mlflow_uri:
        from uctune.workflow import track_run

        tracked = track_run(run, tracking.mlflow_uri, tracking.experiment)
        click.echo(
            f"MLflow: run {tracked.run_id} in experiment {tracked.experiment!r} at "
            f"{tracking.mlflow_uri}"
            + (
                " (logged before)"
                if tracked.already
                else f", {tracked.trials} trials, {tracked.models} model(s) registered"
            )
        )
    if export:
        from uctune.workflow import export_run

        done = export_run(run, export)
        if done.already:
            click.echo(f"already exported to {done.target} ({done.files} files); left as it is")
        else:
            click.echo(
                f"exported {done.files} files ({done.bytes / 1e6:.1f} MB) to {done.target} "
                f"in {done.seconds:.1f}s"
            )
    return run.run_dir
