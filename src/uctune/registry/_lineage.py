"""Library versions recorded with each model, and the warning when they differ at load time."""

from __future__ import annotations

import platform
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["LIBRARIES", "VersionMismatchWarning", "installed_versions", "warn_on_mismatch"]

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
