"""A finished run in MLflow, as Ray Tune and Optuna users expect to find their runs.

One MLflow run per uctune run (its config and data as params, every model's test metrics, the
report and ``results.json`` as artifacts); under it, one run per tuned family (the search settings,
the best params and score); under that, one run per trial (its params, its status, pruned or not,
its fidelity budget, and its score after every fold as a metric stepped by fold). The models the
run registered are mirrored into MLflow's model registry (``uctune-<name>``), with the aliases
uctune's registry gives them. Everything is read from the run directory after the run, by the
driver: trials never talk to MLflow, so tracking adds nothing to the search and a tracking server
that is down costs no trial. A run is logged once (``results.json`` keeps its MLflow run id).

Needs the optional extra ``mlflow`` (``pip install 'uctune[mlflow]'``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from uctune import __version__
from uctune._environ import environment
from uctune.errors import ConfigError, first_line

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["Tracked", "check_tracking", "track_run"]

TRACKING = "tracking"


@dataclass(frozen=True)
class Tracked:
    run_id: str  # MLflow's
    experiment: str
    trials: int
    models: int
    already: bool = False


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            "MLflow tracking needs the mlflow package: pip install 'uctune[mlflow]'"
        ) from None
    return mlflow


_IMPATIENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
"""MLflow's HTTP client without its retries (minutes of backoff against a server that is down),
for a quick reachability check."""


def check_tracking(uri: str) -> None:
    """Fail at once, in one line, when MLflow is not installed or ``uri`` does not answer: before
    the run, not after hours of it."""
    mlflow = _mlflow()
    try:
        with environment(_IMPATIENT):
            mlflow.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds for a server that is down
        raise ConfigError(f"MLflow at {uri!r} cannot be reached: {first_line(exc)}") from None


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = "" if value is None else str(value)[:500]
    return out


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _model_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Every model's test metrics at its threshold, as ``<model>.<metric>``."""
    models: dict[str, dict[str, Any]] = {}
    for name, family in (results.get("families") or {}).items():
        models[name] = family.get("holdout", {}).get("at_threshold", {})
    for name, tuned in (results.get("tuning") or {}).items():
        refit = tuned.get("refit") or {}
        models[f"{name}_tuned"] = refit.get("holdout", {}).get("at_threshold", {})
    ensemble = results.get("ensemble") or {}
    if "holdout" in ensemble:
        models["ensemble"] = ensemble["holdout"].get("at_threshold", {})
    metrics: dict[str, float] = {}
    for name, values in models.items():
        for metric in ("f1", "precision", "recall", "roc_auc", "pr_auc"):
            number = _number(values.get(metric))
            if number is not None:
                metrics[f"{name}.{metric}"] = number
    return metrics


def _log(
    client: Any,
    run_id: str,
    params: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    steps: Sequence[tuple[str, Any, int]] = (),
) -> None:
    """Params, (finite) metrics and stepped metrics in one request per 100 of each, as MLflow's
    batch API takes them: a search of hundreds of trials costs a few requests per trial."""
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    values = [(k, _number(v), 0) for k, v in (metrics or {}).items()] + [
        (k, _number(v), step) for k, v, step in steps
    ]
    metric_list = [Metric(k, v, now, step) for k, v, step in values if v is not None]
    param_list = [Param(k, str(v)) for k, v in (params or {}).items()]
    for start in range(0, max(len(metric_list), len(param_list), 1), 100):
        client.log_batch(
            run_id,
            metrics=metric_list[start : start + 100],
            params=param_list[start : start + 100],
        )


def _log_trials(
    client: Any,
    experiment_id: str,
    parent: str,
    run: RunContext,
    family: str,
    tuning: dict[str, Any],
) -> int:
    """One MLflow run for the family's search and one under it per trial; returns the trials."""
    tags = {"mlflow.parentRunId": parent, "uctune.family": family}
    search = client.create_run(experiment_id, tags=tags, run_name=f"tune {family}")
    settings = {k: tuning.get(k) for k in ("metric", "n_trials", "completed", "pruned", "failed")}
    params = {**_flat("search", settings, {}), **_flat("best", tuning.get("best_params"), {})}
    metrics = {k: tuning.get(k) for k in ("best_score", "wall_seconds", "best_trial")}
    _log(client, search.info.run_id, params, metrics)
    path = run.run_dir / "tune" / family / "trials.csv"
    trials = pd.read_csv(path) if path.is_file() else pd.DataFrame()
    folds = sorted((c for c in trials.columns if c.startswith("fold_")), key=lambda c: int(c[5:]))
    for row in trials.to_dict("records"):
        trial = client.create_run(
            experiment_id,
            tags={
                "mlflow.parentRunId": search.info.run_id,
                "uctune.family": family,
                "uctune.trial": str(row["trial"]),
                "uctune.status": str(row["status"]),
                "uctune.pruned": str(row["status"] == "pruned").lower(),
            },
            run_name=f"{family} trial {row['trial']}",
        )
        _log(
            client,
            trial.info.run_id,
            {c.removeprefix("param_"): v for c, v in row.items() if c.startswith("param_")},
            {k: row.get(k) for k in ("score", "seconds", "budget", "folds_done")},
            [("fold_score", row.get(c), step) for step, c in enumerate(folds, start=1)],
        )
        status = "FAILED" if row["status"] == "failed" else "FINISHED"
        client.set_terminated(trial.info.run_id, status=status)
    client.set_terminated(search.info.run_id)
    return len(trials)


def _mirror_models(mlflow: Any, client: Any, parent: str, run: RunContext) -> int:
    """Each model the run registered, logged under the run and registered as ``uctune-<name>``,
    with the aliases uctune's registry gives it."""
    from uctune.registry import ModelRegistry

    section = run.results.get("registry") or {}
    if not section.get("models"):
        return 0
    registry = ModelRegistry(Path(section["path"]), create=False)
    aliases: dict[int, list[str]] = {}
    for entry in registry.aliases():
        aliases.setdefault(entry.model_id, []).append(entry.alias)
    for name, info in section["models"].items():
        model = registry.load_model(model_id=int(info["model_id"]))
        with mlflow.start_run(run_id=parent):
            logged = mlflow.sklearn.log_model(
                model,
                name=name,
                registered_model_name=f"uctune-{name}",
                pip_requirements=[f"uctune=={__version__}"],
                serialization_format="cloudpickle",
            )
        version = str(logged.registered_model_version)
        for alias in aliases.get(int(info["model_id"]), []):
            client.set_registered_model_alias(f"uctune-{name}", alias, version)
        client.set_model_version_tag(
            f"uctune-{name}", version, "uctune.ref", f"{info['model_type']}@{info['version']}"
        )
    return len(section["models"])


def track_run(run: RunContext, uri: str, experiment: str = "uctune") -> Tracked:
    """Log the finished ``run`` to the MLflow tracking server (or store) at ``uri``."""
    done = run.results.get(TRACKING) or {}
    if done.get("mlflow_run_id"):
        return Tracked(done["mlflow_run_id"], done.get("experiment", experiment), 0, 0, True)
    mlflow = _mlflow()
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    try:
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(experiment)
        )
        results = run.results
        parent = client.create_run(
            experiment_id,
            tags={"uctune.run_id": run.run_id, "uctune.command": str(results.get("command"))},
            run_name=run.run_id,
        ).info.run_id
        params = _flat(
            "",
            {
                "config": results.get("config"),
                "data": {
                    k: results.get("data", {}).get(k) for k in ("source", "fingerprint", "rows")
                },
            },
            {},
        )
        _log(client, parent, params, _model_metrics(results))
        client.log_artifact(parent, str(run.run_dir / "results.json"))
        report = run.run_dir / "report"
        if report.is_dir():
            client.log_artifacts(parent, str(report), artifact_path="report")
        trials = sum(
            _log_trials(client, experiment_id, parent, run, family, tuning)
            for family, tuning in (results.get("tuning") or {}).items()
        )
        models = _mirror_models(mlflow, client, parent, run)
        client.set_terminated(parent)
    except (OSError, mlflow.exceptions.MlflowException) as exc:
        raise ConfigError(f"MLflow at {uri!r}: {first_line(exc)}") from None
    run.results[TRACKING] = {"mlflow_uri": uri, "experiment": experiment, "mlflow_run_id": parent}
    run.save_results()
    return Tracked(parent, experiment, trials, models)
