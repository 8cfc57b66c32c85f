"""``uctune registry``: list, show, rank, alias, delete and verify registered models."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from uctune.registry import ModelEntry, ModelRegistry

__all__ = ["command", "root_option", "open_registry"]

F = TypeVar("F", bound=Callable[..., Any])

_SHOWN_METRICS = ("f1", "precision", "recall", "roc_auc", "pr_auc")


def root_option(func: F) -> F:
    return click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Registry directory [default: $UCTUNE_REGISTRY, else data/models/registry].",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def open_registry(root: Path | None) -> ModelRegistry:
    """An existing registry (a missing one is an error, never silently created by a reader)."""
    from uctune.registry import ModelRegistry

    return ModelRegistry(root, create=False)


def _echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2))


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def _when(stamp: str) -> str:
    return stamp.replace("T", " ")[:16]


@click.group("registry")
def command() -> None:
    """The model registry: versioned models with checksums, lineage and aliases.

    Models are referred to by id (12), type@version (xgboost@1.0.3), alias (production) or 'best'
    (highest F1).
    """


@command.command("list")
@click.option("--type", "model_type", default=None, help="Only models of this type.")
@click.option("--min-f1", type=float, default=None, help="Only models with at least this F1.")
@root_option
@json_option
def list_(model_type: str | None, min_f1: float | None, root: Path | None, as_json: bool) -> None:
    """Every registered model, oldest first."""
    from uctune.cli._table import format_table

    registry = open_registry(root)
    entries = registry.entries(model_type=model_type, min_f1=min_f1)
    if as_json:
        _echo_json([e.to_dict() for e in entries])
        return
    if not entries:
        click.echo(f"no models in {registry.root}" + (" match" if model_type or min_f1 else ""))
        return
    rows = [
        [
            e.model_id,
            e.model_type,
            e.version,
            e.model_name,
            *(_num(e.metrics.get(m)) for m in ("f1", "roc_auc", "pr_auc")),
            _when(e.created_at),
            ",".join(e.aliases),
        ]
        for e in entries
    ]
    headers = ["id", "type", "version", "name", "f1", "roc_auc", "pr_auc", "created", "aliases"]
    click.echo(format_table(headers, rows))


def _show(entry: ModelEntry) -> None:
    lineage = entry.lineage
    lines = [
        ("model", f"{entry.model_id}  {entry.ref}  ({entry.model_name})"),
        ("created", _when(entry.created_at) + " UTC"),
        ("description", entry.description or "-"),
        ("aliases", ", ".join(entry.aliases) or "-"),
        ("file", f"{entry.file_path}  ({entry.size_bytes} bytes, sha256 {entry.sha256})"),
        (
            "metrics",
            "  ".join(
                f"{k} {_num(v)}" for k, v in entry.metrics.items() if isinstance(v, int | float)
            ),
        ),
        ("hyperparameters", json.dumps(dict(entry.hyperparameters or {}))),
        ("threshold", _num(lineage.threshold) if lineage.threshold is not None else "-"),
        ("run", lineage.run_id or "-"),
        ("data", lineage.data_fingerprint or "-"),
        ("seed", "-" if lineage.seed is None else str(lineage.seed)),
        (
            "features",
            f"{len(lineage.features)}: {', '.join(lineage.features)}" if lineage.features else "-",
        ),
    ]
    cv_mean = lineage.cv_scores.get("mean")
    if isinstance(cv_mean, dict):
        lines.append(("cv mean", "  ".join(f"{k} {_num(cv_mean.get(k))}" for k in _SHOWN_METRICS)))
    versus = lineage.cv_scores.get("tuned_vs_untuned")
    if isinstance(versus, Mapping) and isinstance(versus.get("untuned"), Mapping):
        # On the holdout only: the tuned params were chosen on the CV folds.
        lines.append(
            (
                "untuned (holdout)",
                "  ".join(f"{k} {_num(versus['untuned'].get(k))}" for k in _SHOWN_METRICS),
            )
        )
    lines.append(
        (
            "libraries",
            ", ".join(f"{k} {v}" for k, v in lineage.library_versions.items() if v) or "-",
        )
    )
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key.ljust(width)}  {value}")


@command.command("show")
@click.argument("ref")
@root_option
@json_option
def show(ref: str, root: Path | None, as_json: bool) -> None:
    """One model's metadata, checksum and lineage (REF: id, type@version, alias or best)."""
    entry = open_registry(root).get(ref)
    if as_json:
        _echo_json(entry.to_dict())
    else:
        _show(entry)


@command.command("best")
@click.option("--metric", default="f1", show_default=True, help="Metric to rank by.")
@click.option("--type", "model_type", default=None, help="Only models of this type.")
@root_option
@json_option
def best(metric: str, model_type: str | None, root: Path | None, as_json: bool) -> None:
    """The model with the best METRIC (highest; lowest for losses)."""
    from uctune.errors import NotFoundError

    registry = open_registry(root)
    entry = registry.best(metric, model_type=model_type)
    if entry is None:
        scope = f" of type {model_type!r}" if model_type else ""
        raise NotFoundError(
            f"no model{scope} in {str(registry.root)!r} has a metric named {metric!r}"
        )
    if as_json:
        _echo_json(entry.to_dict())
    else:
        _show(entry)


@command.command("alias")
@click.argument("name", required=False)
@click.argument("ref", required=False)
@click.option("--drop", is_flag=True, help="Unset the alias NAME.")
@click.option("--by", default=None, help="Who moves it [default: your login name].")
@click.option("--reason", default=None, help="Why, kept in the alias's history.")
@root_option
@json_option
def alias(
    name: str | None,
    ref: str | None,
    drop: bool,
    by: str | None,
    reason: str | None,
    root: Path | None,
    as_json: bool,
) -> None:
    """Point alias NAME at model REF, or show aliases and their history.

    \b
      uctune registry alias                        every alias
      uctune registry alias production             where it points, and its history
      uctune registry alias production 12          move it to model 12
      uctune registry alias production --drop      unset it
    """
    from uctune.cli._table import format_table
    from uctune.errors import ConfigError

    registry = open_registry(root)
    if name is None:
        entries = registry.aliases()
        if as_json:
            _echo_json([a.to_dict() for a in entries])
        elif not entries:
            click.echo(f"no aliases in {registry.root}")
        else:
            rows = [
                [a.alias, a.model_id, a.ref, _when(a.updated_at), a.updated_by] for a in entries
            ]
            click.echo(format_table(["alias", "id", "model", "since", "by"], rows))
        return
    if drop and ref is not None:
        raise ConfigError(f"--drop unsets an alias; give no model, got {ref!r}")
    if drop:
        event = registry.remove_alias(name, by=by, reason=reason)
        click.echo(f"{name}: unset (was model {event.from_model_id})")
        return
    if ref is not None:
        moved = registry.set_alias(name, ref, by=by, reason=reason)
        target = registry.get(name)
        if moved is None:
            click.echo(f"{name} already points at model {target.model_id} ({target.ref})")
        else:
            was = "unset" if moved.from_model_id is None else f"model {moved.from_model_id}"
            click.echo(f"{name} -> model {target.model_id} ({target.ref}); was {was}")
        return
    history = registry.alias_history(name)
    if not history:
        from uctune.errors import NotFoundError

        raise NotFoundError(f"alias {name!r} has never been set in {str(registry.root)!r}")
    current = next(iter(registry.aliases(name)), None)
    if as_json:
        _echo_json(
            {
                "alias": name,
                "current": None if current is None else current.to_dict(),
                "history": [e.to_dict() for e in history],
            }
        )
        return
    click.echo(
        f"{name} -> model {current.model_id} ({current.ref})" if current else f"{name}: unset"
    )
    rows = [
        [
            _when(e.changed_at),
            "-" if e.from_model_id is None else e.from_model_id,
            "-" if e.to_model_id is None else e.to_model_id,
            e.changed_by,
            e.reason or "",
        ]
        for e in history
    ]
    click.echo(format_table(["when", "from", "to", "by", "reason"], rows))


@command.command("delete")
@click.argument("ref")
@click.option("--force", is_flag=True, help="Also unset aliases that point at the model.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@root_option
def delete(ref: str, force: bool, yes: bool, root: Path | None) -> None:
    """Delete model REF: its rows and its file."""
    import sys

    from uctune.errors import ConfigError

    registry = open_registry(root)
    entry = registry.get(ref)
    if not yes and not sys.stdin.isatty():
        raise ConfigError(
            f"deleting model {entry.model_id} ({entry.ref}) needs a confirmation; pass --yes"
        )
    if not yes:
        click.confirm(
            f"delete model {entry.model_id} ({entry.ref}, {entry.model_name})?", abort=True
        )
    registry.delete_model(entry.model_id, force=force)
    click.echo(f"deleted model {entry.model_id} ({entry.ref})")


@command.command("verify")
@root_option
@json_option
def verify(root: Path | None, as_json: bool) -> None:
    """Check every model file against its recorded size and sha256, and look for stray files.

    Exits with status 2 when anything is wrong.
    """
    from uctune.cli._table import format_table
    from uctune.errors import IntegrityError

    report = open_registry(root).verify()
    if as_json:
        _echo_json(report.to_dict())
    elif report.problems:
        rows = [
            [p.kind, "-" if p.model_id is None else p.model_id, p.path, p.detail]
            for p in report.problems
        ]
        click.echo(format_table(["problem", "id", "file", "detail"], rows))
    if not report.ok:
        kinds = sorted({p.kind for p in report.problems})
        raise IntegrityError(
            f"registry {report.root!r}: {len(report.problems)} problem(s) "
            f"({', '.join(kinds)}) among {report.models_checked} model(s)"
        )
    if not as_json:
        click.echo(f"{report.root}: {report.models_checked} model(s), every file verified")


@command.command("pull")
@click.argument("source", metavar="EXPORT")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new (or empty) folder to hold the pulled registry.",
)
def pull(source: str, root: Path) -> None:
    """Bring back the registry of an exported run (`uctune run --export URI`): EXPORT is
    URI/<run id>, e.g. s3://bucket/uctune/20261208-101500-run. Every file is checked against the
    export's manifest and the registry's own checksums before it is kept; then `uctune registry
    list --root DIR` and `uctune predict --root DIR` use it.
    """
    from uctune.registry import ModelRegistry, pull_registry

    manifest = pull_registry(source, root)
    models = ModelRegistry(root, create=False).entries()
    click.echo(
        f"pulled {len(models)} model(s) of run {manifest.get('run_id')} into {root}, "
        "every file verified"
    )
