"""Run configuration: one validated object, from YAML or from defaults, overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from uctune.errors import ConfigError, NotFoundError
from uctune.models import get_spec, resolve_families
from uctune.registry._paths import default_registry_root

__all__ = [
    "SplitConfig",
    "TrainConfig",
    "RegistryConfig",
    "ReportConfig",
    "RunConfig",
    "load_config",
    "apply_overrides",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Strict):
    """How the holdout is drawn: the seed's stratified split, or the latest results dates."""

    method: Literal["stratified", "time"] = "stratified"
    test_size: float = Field(0.2, gt=0.0, lt=1.0)


class TrainConfig(_Strict):
    """The baseline/advanced stage: which families, how many folds, and fixed parameters."""

    families: tuple[str, ...] = ("all",)
    cv_folds: int = Field(5, ge=2, le=20)
    cpus_per_fit: int = Field(1, ge=1)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("families", mode="before")
    @classmethod
    def _families(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = value.split(",")
        try:
            return resolve_families(list(value))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        try:
            for family, params in value.items():
                spec = get_spec(family)
                spec.resolve_params(params)
                out[spec.name] = dict(params)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return out


class RegistryConfig(_Strict):
    """The register stage: where the run's models are versioned (the seed's directory by default;
    ``$UCTUNE_REGISTRY`` overrides the default), and whether to register at all."""

    path: Path = Field(default_factory=default_registry_root)
    enabled: bool = True


class ReportConfig(_Strict):
    """The report stage: SHAP sample sizes, bootstrap resamples, seed, and how the best is ranked."""

    shap_rows: int = Field(200, ge=1, le=100_000)
    background_size: int = Field(100, ge=1, le=100_000)
    bootstrap: int = Field(1000, ge=0, le=100_000)
    seed: int | None = None  # None: the run's seed
    rank_by: Literal["pr_auc", "roc_auc", "f1", "precision", "recall"] = "pr_auc"

    @field_validator("bootstrap")
    @classmethod
    def _bootstrap(cls, value: int) -> int:
        if 0 < value < 20:
            raise ValueError("bootstrap resamples must be 0 (no intervals) or at least 20")
        return value


class RunConfig(_Strict):
    """Everything one ``uctune run`` does. Sections are added as stages are."""

    data: Path | None = None
    output_dir: Path = Path("runs")
    seed: int = 42
    split: SplitConfig = SplitConfig()
    train: TrainConfig = TrainConfig()
    report: ReportConfig = ReportConfig()
    registry: RegistryConfig = Field(default_factory=RegistryConfig)


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
