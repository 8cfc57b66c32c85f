"""A model's lineage as saved (threshold, features, seed, library versions), and the warning when
the library versions differ at load time."""

from __future__ import annotations

import math
import platform
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from uctune.errors import ConfigError
from uctune.metrics import model_threshold
from uctune.registry._entities import Lineage

__all__ = [
    "LIBRARIES",
    "VersionMismatchWarning",
    "complete_lineage",
    "installed_versions",
    "warn_on_mismatch",
]

# What a pickled model depends on: the estimator classes, their libraries, and the arrays inside.
LIBRARIES: tuple[str, ...] = (
    "uctune",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "torch",
    "skorch",
    "numpy",
    "pandas",
    "joblib",
)


class VersionMismatchWarning(UserWarning):
    """A model is loaded with library versions other than those it was saved with."""


@lru_cache(maxsize=1)
def _installed() -> tuple[tuple[str, str | None], ...]:
    found: list[tuple[str, str | None]] = []
    for name in LIBRARIES:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, None))
    found.append(("python", platform.python_version()))
    return tuple(found)


def installed_versions() -> dict[str, str | None]:
    """The versions installed here of every library in :data:`LIBRARIES`, and Python's."""
    return dict(_installed())


def _comparable(name: str, value: str | None) -> str | None:
    # Pickles move freely between Python patch releases; a minor release is worth a warning.
    if name == "python" and value is not None:
        return ".".join(value.split(".")[:2])
    return value


def warn_on_mismatch(model_id: int, ref: str, recorded: Mapping[str, str | None]) -> None:
    """Warn once per load when a recorded library version differs from the installed one."""
    now = installed_versions()
    differ = [
        f"{name} {was} -> {now.get(name) or 'not installed'}"
        for name, was in sorted(recorded.items())
        if was is not None
        and name in now
        and _comparable(name, now[name]) != _comparable(name, was)
    ]
    if differ:
        message = (
            f"model {model_id} ({ref}) was saved with other library versions: {', '.join(differ)}; "
            "its predictions may differ"
        )
        warnings.warn(message, VersionMismatchWarning, stacklevel=3)


def _feature_names(model: Any) -> tuple[str, ...]:
    """``feature_names_in_`` of the model or the estimator inside it (thresholded pipelines)."""
    inner = model
    for _ in range(3):
        names = getattr(inner, "feature_names_in_", None)
        if names is not None:
            return tuple(str(n) for n in names)
        inner = getattr(inner, "estimator_", None) or getattr(inner, "estimator", None)
        if inner is None:
            break
    return ()


def complete_lineage(model: Any, given: Lineage) -> Lineage:
    """``given`` checked, with the threshold and feature names read from ``model`` where not given,
    and the library versions installed here."""
    threshold = given.threshold
    if threshold is None:
        threshold = model_threshold(model)
    if threshold is not None and not (
        isinstance(threshold, int | float) and math.isfinite(threshold)
    ):
        raise ConfigError(f"threshold must be a finite number, got {threshold!r}")
    features = given.features or _feature_names(model)
    unknown = sorted(set(given.categorical) - set(features))
    if unknown:
        raise ConfigError(
            f"categorical features must be among the features, got {', '.join(unknown)}"
        )
    if given.seed is not None and (isinstance(given.seed, bool) or not isinstance(given.seed, int)):
        raise ConfigError(f"seed must be an integer, got {given.seed!r}")
    return Lineage(
        run_id=given.run_id,
        run_started_at=given.run_started_at,
        data_fingerprint=given.data_fingerprint,
        features=features,
        categorical=given.categorical,
        threshold=None if threshold is None else float(threshold),
        cv_scores=given.cv_scores,
        seed=given.seed,
        library_versions=installed_versions(),
    )
