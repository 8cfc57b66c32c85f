"""Run configuration: one validated object, from YAML or from defaults, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from uctune.errors import ConfigError, NotFoundError
from uctune.models import get_spec, resolve_families
from uctune.registry import default_registry_root

__all__ = [
    "CVConfig",
    "SplitConfig",
    "TrainConfig",
    "RegistryConfig",
    "ReportConfig",
    "TuningConfig",
    "RunConfig",
    "load_config",
    "apply_overrides",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """How the holdout is drawn: a seeded stratified split (80/20 by default), or the latest results
    dates."""

    method: Literal["stratified", "time"] = Field(
        "stratified",
        description="`stratified`: a seeded stratified split; `time`: the latest results dates are the "
        "test split. Flag `--split`.",
    )
    test_size: float = Field(
        0.2,
        gt=0.0,
        lt=1.0,
        description="Fraction of the rows in the test split. Flag `--test-size`.",
    )


class CVConfig(_Strict):
    """How the cross-validation folds of every stage are drawn.

    ``method``: ``stratified`` (a shuffled, stratified k-fold) or ``walk_forward`` (folds of whole
    dates, each trained on earlier dates only, ``embargo`` sessions between training and
    validation; ``group_by_symbol`` keeps a symbol out of the training rows of a fold that
    validates on it). Unset, it is ``walk_forward`` with a time split, else ``stratified``.
    """

    method: Literal["stratified", "walk_forward"] | None = Field(
        None,
        description="`stratified` (shuffled k-fold) or `walk_forward` (folds of whole dates, each trained"
        " on earlier dates only); unset: `walk_forward` with `split.method: time`, else "
        "`stratified`. Flag `--cv`.",
    )
    embargo: int = Field(
        0,
        ge=0,
        description="Walk-forward CV only: sessions (distinct dates) left out between training and "
        "validation dates. Flag `--embargo`.",
    )
    group_by_symbol: bool = Field(
        False,
        description="Walk-forward CV only: keep a fold's validation symbols out of its training rows.",
    )


class TrainConfig(_Strict):
    """The baseline/advanced stage: which families, how many folds, and fixed parameters."""

    families: tuple[str, ...] = Field(
        ("all",),
        description="Family names or aliases (`lr`, `rf`, `xgb`, `lgbm`, `nn`), as a list or a "
        "comma-separated string; `all` is the five. Flag `--families` (`uctune run`: both "
        "stages).",
    )
    cv_folds: int = Field(
        5,
        ge=2,
        le=20,
        description="Cross-validation folds of every stage. Flag `--folds`.",
    )
    cpus_per_fit: int = Field(
        1,
        ge=1,
        description="CPUs (and model threads) each fit gets. Flag `--cpus-per-fit`.",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Fixed parameters per family, e.g. `{xgboost: {n_estimators: 300}}`; each family's "
        "parameters are checked when the config is read.",
    )

    @field_validator("families", mode="before")
    @classmethod
    def _families(cls, value: Any) -> tuple[str, ...]:
        return _family_names(value)

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _family_params(value)


def _family_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    try:
        return resolve_families(list(value))
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _family_params(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    try:
        for family, params in value.items():
            spec = get_spec(family)
            spec.resolve_params(params)
            out[spec.name] = dict(params)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return out


class TuningConfig(_Strict):
    """The tuning stage: Optuna's TPE over each family's search space, trials run on Ray Tune.

    ``trials`` is per family (``uctune tune`` alone defaults to 100; a whole ``uctune run`` uses
    this smaller default). ``grace_period`` is the folds every trial completes before ASHA may stop
    it (``pruning``); ``reduction_factor`` keeps the best 1/rf at each ASHA milestone. ``fidelity``
    is what ASHA's budget grows: ``folds``, or ``rows`` (first fits on 1/rf**k of the first fold's
    rows with fewer trees or rounds, then the full folds; ``grace_period`` then counts the smallest
    such steps); ``auto`` is ``rows`` from 20,000 training rows in the first fold. ``params`` pins
    parameters (left out of the search). ``storage`` is where Ray Tune keeps its experiment: a
    directory or a pyarrow URI (``s3://bucket/prefix``); default: the run directory.

    ``metric`` is what trials are scored, pruned and picked on: ``pr_auc`` (average precision: a
    ranking score that calibration leaves unchanged and that carries signal with rare positives),
    ``log_loss`` (scored as its negative), ``roc_auc``, or ``f1`` (at honest per-fold thresholds; a
    step function of the ranking, so noisy with few positives). The decision threshold is chosen
    for F1 after the search whatever the metric. The family's defaults are trial 0 and always run
    every fold; a tuned configuration replaces them only when its CV score beats theirs by more
    than ``min_gain_se`` standard errors of the paired per-fold differences (0: any gain). Two,
    not one: the top of a hundred trials is a maximum of noisy scores, and on the NSE sample's
    forward split one standard error let through a tuned XGBoost that lost 0.008 test PR-AUC.
    """

    families: tuple[str, ...] = Field(
        ("xgboost", "lightgbm", "neural_network"),
        description="Families to tune; `[]` tunes none. Flag `--model` (`uctune tune`), `--families` "
        "(`uctune run`).",
    )
    trials: int = Field(
        12,
        ge=1,
        description="Trials per family (`uctune tune` defaults to 100 where the file sets none). Flag "
        "`--trials`.",
    )
    metric: Literal["pr_auc", "log_loss", "roc_auc", "f1"] = Field(
        "pr_auc",
        description="What trials are scored, pruned and picked on (`log_loss` is scored as its negative)."
        " The decision threshold is F1's whatever the metric. Flag `--metric`.",
    )
    pruning: bool = Field(
        True,
        description="Stop unpromising trials at ASHA milestones. Flag `--pruning/--no-pruning`.",
    )
    grace_period: int = Field(
        1,
        ge=1,
        description="Budget every trial spends before ASHA may stop it: folds, or with `fidelity: rows` "
        "the smallest subsample steps. At most `train.cv_folds`. Flag `--grace-period`.",
    )
    reduction_factor: int = Field(
        2,
        ge=2,
        description="ASHA keeps the best 1/rf of the trials at each milestone; with `fidelity: rows` the "
        "subsamples are 1/rf and 1/rf² of a fold's rows.",
    )
    fidelity: Literal["auto", "folds", "rows"] = Field(
        "auto",
        description="What ASHA's budget grows: `folds`, or `rows` (subsamples of the first fold first); "
        "`auto` is `rows` from 20,000 training rows in the first fold. Flag `--fidelity`.",
    )
    min_gain_se: float = Field(
        2.0,
        ge=0.0,
        le=10.0,
        description="The top trial replaces the family's defaults only when it beats them by more than "
        "this many standard errors of their paired per-fold differences (0: any gain).",
    )
    cpus_per_trial: int = Field(
        1,
        ge=1,
        description="CPUs (and model threads) of one trial. Flag `--cpus-per-trial`.",
    )
    max_failures: int = Field(
        2,
        ge=0,
        description="Retries of a trial whose worker died.",
    )
    storage: str | None = Field(
        None,
        description="Where Ray Tune keeps its experiment: a directory or a pyarrow URI "
        "(`s3://bucket/prefix`); unset: the run directory. Flag `--storage`.",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Pinned parameters per family, left out of the search.",
    )

    @field_validator("families", mode="before")
    @classmethod
    def _families(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, list | tuple) and not value:
            return ()
        return _family_names(value)

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return _family_params(value)


class EnsembleConfig(_Strict):
    """The ensemble stage: the run's models combined on their out-of-fold predictions.

    ``method``: Caruana's greedy selection with replacement (``caruana``), a logistic-regression
    stacker (``stacker``), or ``auto`` (the one with the better cross-validated ``metric``).
    ``size`` is the number of greedy steps (each adds one member, repeats allowed). ``registered``:
    ``if_better`` registers the ensemble only when its cross-fitted ``metric`` beats its best
    member's on the same out-of-fold rows (otherwise the run says so, and the registry's best is a
    single model); ``always`` registers it regardless.
    """

    enabled: bool = Field(
        True,
        description="Run the ensemble stage. `uctune run --ensemble off` turns it off.",
    )
    method: Literal["auto", "caruana", "stacker"] = Field(
        "auto",
        description="Caruana's greedy selection, a logistic-regression stacker, or `auto` (the one with "
        "the better cross-fitted `metric`). Flag `--ensemble`.",
    )
    metric: Literal["pr_auc", "roc_auc", "f1"] = Field(
        "pr_auc",
        description="What the combiners are fitted and compared on.",
    )
    size: int = Field(
        25,
        ge=1,
        le=1000,
        description="Greedy steps of Caruana's selection (each adds one member, repeats allowed).",
    )
    registered: Literal["if_better", "always"] = Field(
        "if_better",
        description="`if_better`: register the ensemble only when its cross-fitted score beats its best "
        "member's on the same out-of-fold rows; `always`: regardless.",
    )


class RegistryConfig(_Strict):
    """The register stage: where the run's models are versioned (``data/models/registry`` under the
    working directory by default; ``$UCTUNE_REGISTRY`` overrides the default), and whether to
    register at all."""

    path: Path = Field(
        default_factory=default_registry_root,
        description="The registry directory.",
    )
    enabled: bool = Field(
        True,
        description="Run the register stage.",
    )


class TrackingConfig(_Strict):
    """Experiment tracking: a finished run logged to MLflow (the optional extra ``mlflow``)."""

    mlflow_uri: str | None = Field(
        None,
        description="MLflow tracking server or store to log the finished run to (its models, "
        "each family's search and every trial, the report; the registered models into MLflow's "
        "model registry); none by default. Flag `--mlflow-uri`.",
    )
    experiment: str = Field(
        "uctune",
        min_length=1,
        description="The MLflow experiment the runs go to.",
    )


class ReportConfig(_Strict):
    """The report stage: SHAP sample sizes, bootstrap resamples, seed, and how the best is ranked."""

    shap_rows: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Test rows explained with SHAP per model. Flag `--shap-rows` (`uctune report`).",
    )
    background_size: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Training rows SHAP compares against. Flag `--background-size`.",
    )
    bootstrap: int = Field(
        1000,
        ge=0,
        le=100_000,
        description="Bootstrap resamples for the confidence intervals: 0 (no intervals) or at least 20. "
        "Flag `--bootstrap`.",
    )
    seed: int | None = Field(
        None,
        description="Seed of the bootstrap; unset: the run's `seed`.",
    )
    rank_by: Literal["pr_auc", "roc_auc", "f1", "precision", "recall"] = Field(
        "pr_auc",
        description="Which test score picks the highlighted best model.",
    )

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap(cls, value: int) -> int:
        if 0 < value < 20:
            raise ValueError("bootstrap resamples must be 0 (no intervals) or at least 20")
        return value


class RunConfig(_Strict):
    """Everything one ``uctune run`` does. Sections are added as stages are."""

    data: Path | None = Field(
        None,
        description="Feature table (.csv, .csv.gz, .parquet); unset: the embedded `data/events.csv`. Flag"
        " `--data`.",
    )
    output_dir: Path = Field(
        Path("runs"),
        description="Where run directories are created (`<output_dir>/<timestamp>-<command>`); `--out "
        "DIR` names one directory instead.",
    )
    seed: int = Field(
        42,
        description="The random seed of splits, folds, models, TPE and bootstrap. Flag `--seed`.",
    )
    # Where the families that can fit on a GPU (XGBoost) fit, in the train and tune stages alike;
    # ``gpus_per_fit`` is what one such fit or trial asks Ray for (a fraction shares a GPU).
    device: Literal["cpu", "cuda"] = Field(
        "cpu",
        description="`cuda` fits XGBoost on the cluster's GPUs in the train and tune stages; the other "
        "families always use CPUs. Flag `--device`.",
    )
    gpus_per_fit: float = Field(
        1.0,
        gt=0.0,
        le=64.0,
        description="GPUs each XGBoost fit or trial asks Ray for with `device: cuda`; a fraction shares a"
        " GPU. Flag `--gpus-per-fit`.",
    )
    # How every model's out-of-fold probabilities are calibrated before its threshold is chosen:
    # isotonic, sigmoid (Platt), auto (the lower cross-validated Brier score) or none.
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = Field(
        "auto",
        description="How each model's out-of-fold probabilities are calibrated before its threshold is "
        "chosen: isotonic, sigmoid (Platt), `auto` (the lower cross-validated Brier score) or"
        " `none`. Flag `--calibration`.",
    )
    split: SplitConfig = SplitConfig()
    cv: CVConfig = CVConfig()
    train: TrainConfig = TrainConfig()
    tune: TuningConfig = TuningConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    report: ReportConfig = ReportConfig()
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _grace_within_folds(self) -> RunConfig:
        if self.tune.grace_period > self.train.cv_folds:
            raise ValueError(
                f"tune.grace_period must be at most train.cv_folds ({self.train.cv_folds}), "
                f"got {self.tune.grace_period}"
            )
        if self.cv_method == "stratified" and (self.cv.embargo or self.cv.group_by_symbol):
            what = "cv.embargo" if self.cv.embargo else "cv.group_by_symbol"
            value = self.cv.embargo if self.cv.embargo else self.cv.group_by_symbol
            raise ValueError(
                f"{what} applies to walk_forward CV only (cv.method walk_forward, or a time "
                f"split), got {value!r} with stratified CV"
            )
        return self

    @property
    def cv_method(self) -> Literal["stratified", "walk_forward"]:
        """The CV method in force: the configured one, else walk-forward with a time split."""
        if self.cv.method is not None:
            return self.cv.method
        return "walk_forward" if self.split.method == "time" else "stratified"


def _one_line(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    got = (
        f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
    )
    more = f" [+{len(exc.errors()) - 1} more]" if len(exc.errors()) > 1 else ""
    return f"{source}: {where}: {msg}{got}{more}"


def load_config(path: str | Path | None = None) -> RunConfig:
    """Read a YAML run config; ``None`` gives the defaults."""
    if path is None:
        return RunConfig()
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"config file {str(p)!r} does not exist")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping, got {type(raw).__name__}")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, f"config file {str(p)!r}")) from None


def apply_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """Return ``config`` with dotted keys (``train.cv_folds``) replaced; ``None`` values are skipped."""
    data = config.model_dump()
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, "option")) from None
