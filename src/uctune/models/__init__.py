"""The model zoo: a registry of small frozen specs, one per family."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uctune.errors import ConfigError
from uctune.models._bagging import BaggedClassifier
from uctune.models._base import DEVICES, BuildContext, Device, ModelSpec
from uctune.models._calibrated import CalibratedClassifier
from uctune.models._ensemble import EnsembleClassifier
from uctune.models._estimators import CategoryEncoder
from uctune.models._thresholded import (
    EnsembleThresholdClassifier,
    LightGBMThresholdClassifier,
    LogisticRegressionThresholdClassifier,
    NeuralNetworkThresholdClassifier,
    RandomForestThresholdClassifier,
    ThresholdedClassifier,
    XGBoostThresholdClassifier,
)
from uctune.models._zoo import LIGHTGBM, LOGISTIC_REGRESSION, NEURAL_NETWORK, RANDOM_FOREST, XGBOOST

if TYPE_CHECKING:
    from uctune.models._network import NeuralNetworkClassifier

__all__ = [
    "DEVICES",
    "SPECS",
    "BaggedClassifier",
    "BuildContext",
    "CalibratedClassifier",
    "CategoryEncoder",
    "Device",
    "EnsembleClassifier",
    "EnsembleThresholdClassifier",
    "LightGBMThresholdClassifier",
    "LogisticRegressionThresholdClassifier",
    "ModelSpec",
    "NeuralNetworkClassifier",
    "NeuralNetworkThresholdClassifier",
    "RandomForestThresholdClassifier",
    "ThresholdedClassifier",
    "XGBoostThresholdClassifier",
    "family_names",
    "get_spec",
    "resolve_families",
]

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (LOGISTIC_REGRESSION, RANDOM_FOREST, XGBOOST, LIGHTGBM, NEURAL_NETWORK)
}
_ALIASES = {alias: spec.name for spec in SPECS.values() for alias in spec.aliases}


def __getattr__(name: str) -> Any:
    # The network (and PyTorch with it) is imported on first use only; see _zoo._neural_network.
    if name == "NeuralNetworkClassifier":
        from uctune.models._network import NeuralNetworkClassifier

        return NeuralNetworkClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def family_names() -> tuple[str, ...]:
    return tuple(SPECS)


def get_spec(name: str) -> ModelSpec:
    """The spec for a family name or alias (``xgboost``, ``xgb``, ...), case-insensitive."""
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in SPECS:
        raise ConfigError(f"unknown model family {name!r}; choose from {', '.join(SPECS)}")
    return SPECS[key]


def resolve_families(names: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Canonical family names from a list or a comma-separated string; ``None`` or ``all``: every one."""
    if names is None:
        return family_names()
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    if not names or [n.strip().lower() for n in names] == ["all"]:
        return family_names()
    out: list[str] = []
    for n in names:
        canonical = get_spec(n).name
        if canonical not in out:
            out.append(canonical)
    return tuple(out)
