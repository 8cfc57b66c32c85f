"""The configuration reference, docs/configuration.md, generated from the run config's models.

    python -m uctune._configdoc > docs/configuration.md

Keys, types, defaults and constraints are read from :class:`uctune.config.RunConfig` and the
models nested in it, so the page cannot drift from what ``load_config`` accepts;
``tests/test_docs.py`` fails when the committed page differs from this module's output. The
prose (a section's summary, a key's note) is written here, and every note must name a key that
exists.
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from uctune.config import RunConfig

__all__ = ["render_config_reference"]

COMMAND = "python -m uctune._configdoc > docs/configuration.md"

# A run config as a user writes one; render_config_reference() refuses it if RunConfig does.
_EXAMPLE = """\
seed: 42
device: cpu          # cuda: XGBoost fits on the cluster's GPUs (gpus_per_fit: 1 each)
split: {method: stratified, test_size: 0.2}   # or method: time (latest results dates)
train:
  families: [lr, rf, xgb, lgbm, nn]
  cv_folds: 5
  cpus_per_fit: 1
  params:
    xgboost: {n_estimators: 300, max_depth: 4}
tune:
  families: [xgboost, lightgbm, neural_network]
  trials: 12              # per family for `uctune run` (`uctune tune` defaults to 100)
  metric: pr_auc
  params:                 # pinned params, left out of the search
    lightgbm: {n_bags: 4}
report:
  shap_rows: 200        # test rows explained per model
  background_size: 100  # training rows SHAP compares against
  bootstrap: 1000       # resamples for the confidence intervals (0: none)
  rank_by: pr_auc       # which score picks the highlighted best model
"""

# One summary per section (dotted path; "" is the top level).
_SECTIONS: dict[str, str] = {
    "": "Everything one `uctune run` does; `uctune train` and `uctune tune` read the same file.",
    "split": "How the holdout (test split) is drawn. See [training](training.md).",
    "cv": "How the cross-validation folds of every stage are drawn. See [training](training.md).",
    "train": "The train stage: which families, how many folds, and fixed parameters.",
    "tune": "The tune stage: Optuna's TPE over each family's search space, the trials run on Ray "
    "Tune. See [tuning](tuning.md).",
    "ensemble": "The ensemble stage: the run's models combined on their out-of-fold predictions. "
    "See [calibration and the ensemble](calibration-and-ensemble.md).",
    "report": "The report stage. See [the report](report.md).",
    "registry": "The register stage. See [the registry](registry-and-scoring.md).",
}

# One note per key (dotted path): what it does, the flag that overrides it, and the checks
# that involve other keys.
_NOTES: dict[str, str] = {
    "data": "Feature table (.csv, .csv.gz, .parquet); unset: the embedded `data/events.csv`. "
    "Flag `--data`.",
    "output_dir": "Where run directories are created (`<output_dir>/<timestamp>-<command>`); "
    "`--out DIR` names one directory instead.",
    "seed": "The random seed of splits, folds, models, TPE and bootstrap. Flag `--seed`.",
    "device": "`cuda` fits XGBoost on the cluster's GPUs in the train and tune stages; the other "
    "families always use CPUs. Flag `--device`.",
    "gpus_per_fit": "GPUs each XGBoost fit or trial asks Ray for with `device: cuda`; a fraction "
    "shares a GPU. Flag `--gpus-per-fit`.",
    "calibration": "How each model's out-of-fold probabilities are calibrated before its "
    "threshold is chosen: isotonic, sigmoid (Platt), `auto` (the lower cross-validated Brier "
    "score) or `none`. Flag `--calibration`.",
    "split.method": "`stratified`: a seeded stratified split; `time`: the latest results dates "
    "are the test split. Flag `--split`.",
    "split.test_size": "Fraction of the rows in the test split. Flag `--test-size`.",
    "cv.method": "`stratified` (shuffled k-fold) or `walk_forward` (folds of whole dates, each "
    "trained on earlier dates only); unset: `walk_forward` with `split.method: time`, else "
    "`stratified`. Flag `--cv`.",
    "cv.embargo": "Walk-forward CV only: sessions (distinct dates) left out between training and "
    "validation dates. Flag `--embargo`.",
    "cv.group_by_symbol": "Walk-forward CV only: keep a fold's validation symbols out of its "
    "training rows.",
    "train.families": "Family names or aliases (`lr`, `rf`, `xgb`, `lgbm`, `nn`), as a list or a "
    "comma-separated string; `all` is the five. Flag `--families` (`uctune run`: both stages).",
    "train.cv_folds": "Cross-validation folds of every stage. Flag `--folds`.",
    "train.cpus_per_fit": "CPUs (and model threads) each fit gets. Flag `--cpus-per-fit`.",
    "train.params": "Fixed parameters per family, e.g. `{xgboost: {n_estimators: 300}}`; each "
    "family's parameters are checked when the config is read.",
    "tune.families": "Families to tune; `[]` tunes none. Flag `--model` (`uctune tune`), "
    "`--families` (`uctune run`).",
    "tune.trials": "Trials per family (`uctune tune` defaults to 100 where the file sets none). "
    "Flag `--trials`.",
    "tune.metric": "What trials are scored, pruned and picked on (`log_loss` is scored as its "
    "negative). The decision threshold is F1's whatever the metric. Flag `--metric`.",
    "tune.pruning": "Stop unpromising trials at ASHA milestones. Flag `--pruning/--no-pruning`.",
    "tune.grace_period": "Budget every trial spends before ASHA may stop it: folds, or with "
    "`fidelity: rows` the smallest subsample steps. At most `train.cv_folds`. Flag "
    "`--grace-period`.",
    "tune.reduction_factor": "ASHA keeps the best 1/rf of the trials at each milestone; with "
    "`fidelity: rows` the subsamples are 1/rf and 1/rf² of a fold's rows.",
    "tune.fidelity": "What ASHA's budget grows: `folds`, or `rows` (subsamples of the first fold "
    "first); `auto` is `rows` from 20,000 training rows in the first fold. Flag `--fidelity`.",
    "tune.min_gain_se": "The top trial replaces the family's defaults only when it beats them by "
    "more than this many standard errors of their paired per-fold differences (0: any gain).",
    "tune.cpus_per_trial": "CPUs (and model threads) of one trial. Flag `--cpus-per-trial`.",
    "tune.max_failures": "Retries of a trial whose worker died.",
    "tune.storage": "Where Ray Tune keeps its experiment: a directory or a pyarrow URI "
    "(`s3://bucket/prefix`); unset: the run directory. Flag `--storage`.",
    "tune.params": "Pinned parameters per family, left out of the search.",
    "ensemble.enabled": "Run the ensemble stage. `uctune run --ensemble off` turns it off.",
    "ensemble.method": "Caruana's greedy selection, a logistic-regression stacker, or `auto` (the "
    "one with the better cross-fitted `metric`). Flag `--ensemble`.",
    "ensemble.metric": "What the combiners are fitted and compared on.",
    "ensemble.size": "Greedy steps of Caruana's selection (each adds one member, repeats allowed).",
    "ensemble.registered": "`if_better`: register the ensemble only when its cross-fitted score "
    "beats its best member's on the same out-of-fold rows; `always`: regardless.",
    "report.shap_rows": "Test rows explained with SHAP per model. Flag `--shap-rows` (`uctune "
    "report`).",
    "report.background_size": "Training rows SHAP compares against. Flag `--background-size`.",
    "report.bootstrap": "Bootstrap resamples for the confidence intervals: 0 (no intervals) or at "
    "least 20. Flag `--bootstrap`.",
    "report.seed": "Seed of the bootstrap; unset: the run's `seed`.",
    "report.rank_by": "Which test score picks the highlighted best model.",
    "registry.path": "The registry directory.",
    "registry.enabled": "Run the register stage.",
}

_NAMES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Path: "path",
    Any: "any",
}

_BOUNDS = (
    (annotated_types.Ge, "≥", "ge"),
    (annotated_types.Gt, ">", "gt"),
    (annotated_types.Le, "≤", "le"),
    (annotated_types.Lt, "<", "lt"),
)


def render_config_reference() -> str:
    """The Markdown of docs/configuration.md: every key of :class:`~uctune.config.RunConfig`."""
    RunConfig.model_validate(yaml.safe_load(_EXAMPLE))
    sections = list(_sections(RunConfig, ""))
    known = {_join(path, name) for path, model in sections for name in model.model_fields}
    for key in _NOTES:
        if key not in known:
            raise ValueError(f"_NOTES names config key {key!r}, which RunConfig does not have")
    for key in _SECTIONS:
        if key not in {path for path, _ in sections}:
            raise ValueError(
                f"_SECTIONS names config section {key!r}, which RunConfig does not have"
            )

    lines = [
        "# Configuration reference",
        "",
        f"Generated by `{COMMAND}` from the pydantic models in `src/uctune/config.py`; "
        "do not edit (`tests/test_docs.py` fails when this page and the models differ).",
        "",
        "A run config is a YAML file given with `--config`; every key is optional, and a key not "
        "listed here is refused when the file is read, with one line that names it. Command-line "
        "flags override the file. Values are checked against the types and constraints below.",
        "",
        "```yaml",
        *_EXAMPLE.rstrip("\n").splitlines(),
        "```",
        "",
    ]
    for path, model in sections:
        title = f"`{path}`" if path else "Top level"
        lines += [f"## {title}", ""]
        if path in _SECTIONS:
            lines += [_SECTIONS[path], ""]
        lines += [
            "| key | type | default | constraints | notes |",
            "|---|---|---|---|---|",
        ]
        for name, field in model.model_fields.items():
            key = _join(path, name)
            nested = _nested_model(field.annotation)
            if nested is not None:
                row = [f"`{key}`", "section", "", "", f"see [`{key}`](#{_anchor(key)})"]
            else:
                type_, choices = _type(field.annotation)
                limits = [
                    f"{symbol} {getattr(m, attr)}"
                    for m in field.metadata
                    for cls, symbol, attr in _BOUNDS
                    if isinstance(m, cls)
                ]
                row = [
                    f"`{key}`",
                    type_,
                    _default(field),
                    "; ".join([*choices, *limits]),
                    _NOTES.get(key, field.description or ""),
                ]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        lines.append("")
    return "\n".join(lines)


def _sections(model: type[BaseModel], path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    yield path, model
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is not None:
            yield from _sections(nested, _join(path, name))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _anchor(key: str) -> str:
    # GitHub's heading anchor of "## `tune`": lower case, punctuation dropped.
    return "".join(c for c in key.lower() if c.isalnum() or c in "-_")


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _type(annotation: Any) -> tuple[str, list[str]]:
    """The type's name as a YAML writer sees it, and its allowed values if it is a Literal."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        parts = [_type(a) for a in args if a is not type(None)]
        name = " or ".join(p[0] for p in parts)
        choices = [c for p in parts for c in p[1]]
        if type(None) in args:
            name += " or null"
        return name, choices
    if origin is Literal:
        values = ", ".join(f"`{_yaml(a)}`" for a in args)
        kinds = sorted({_type(type(a))[0] for a in args})
        return " or ".join(kinds), [f"one of {values}"]
    if origin in (tuple, list):
        return f"list of {_inner(args[0])}", []
    if origin is dict:
        return f"mapping of {_inner(args[0])} to {_inner(args[1])}", []
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation))), []


def _inner(annotation: Any) -> str:
    name = _type(annotation)[0]
    return f"({name})" if " " in name else name


def _default(field: FieldInfo) -> str:
    factory: Callable[..., Any] | None = field.default_factory
    if factory is None:
        return "" if field.is_required() else f"`{_yaml(field.default)}`"
    if factory in (dict, list, tuple):
        return f"`{_yaml(factory())}`"
    # A computed default (one that reads the environment) is described, not evaluated.
    doc = inspect.getdoc(factory) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("``", "`")


def _yaml(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


if __name__ == "__main__":
    sys.stdout.write(render_config_reference())
