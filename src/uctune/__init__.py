"""uctune: train, tune, evaluate and version upper-circuit classifiers, in parallel on Ray.

The Python API (BaselineTrainer, AdvancedTrainer, HyperparameterTuner, ModelEvaluator, ModelRegistry)
is importable from here (``from uctune import BaselineTrainer``); it is loaded on first use so that
``uctune --help`` and light imports stay fast.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("uctune")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

_API = ("BaselineTrainer", "AdvancedTrainer", "HyperparameterTuner", "ModelEvaluator")

__all__ = [*_API, "ModelRegistry", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "ModelRegistry":
        from uctune.registry import ModelRegistry

        return ModelRegistry
    if name in _API:
        from uctune import api

        return getattr(api, name)
    raise AttributeError(f"module 'uctune' has no attribute {name!r}")
