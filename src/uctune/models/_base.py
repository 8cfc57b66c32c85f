"""The model-family spec: a small frozen description of one classifier family."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from sklearn.pipeline import Pipeline

from uctune.errors import ConfigError
from uctune.models._bagging import BaggedClassifier
from uctune.models._thresholded import ThresholdedClassifier

__all__ = ["Device", "DEVICES", "BuildContext", "ModelSpec"]

Device = Literal["cpu", "cuda"]
DEVICES: tuple[Device, ...] = ("cpu", "cuda")


@dataclass(frozen=True)
class BuildContext:
    """What a builder needs besides the hyperparameters.

    ``n_threads`` is the CPU share of one fit (models must not use more); ``pos_weight`` is the ratio
    of negatives to positives in the training rows, for families that weight classes that way.
    ``device`` is where the fit runs: ``"cuda"`` only reaches families whose spec ``supports_cuda``.
    """

    n_threads: int = 1
    pos_weight: float = 1.0
    random_state: int = 42
    device: Device = "cpu"


@dataclass(frozen=True)
class ModelSpec:
    """One model family: its defaults, its search space and how to build its pipeline.

    ``builder(params, context)`` returns an unfitted scikit-learn :class:`~sklearn.pipeline.Pipeline`
    whose last step is named ``"model"``; ``params`` holds every key of ``defaults``.
    ``threshold_class`` is the family's own subclass of scikit-learn's ``FixedThresholdClassifier``
    (``XGBoostThresholdClassifier``, ...), whose ``family`` is this spec's name.
    ``supports_cuda``: the family fits on a GPU when asked (``device="cuda"``); the others always
    fit on CPUs, whatever the run's device. ``check(params)`` refuses values the family cannot
    take (a :class:`ConfigError`) before anything is fitted; it sees every parameter.
    ``rows_fidelity``: whether fits on subsamples of the rows rank the family's configurations as
    full fits do, so that a multi-fidelity search may stop a trial on a subsample; where they do
    not, the family's search steps over whole folds only.
    """

    name: str
    display_name: str
    defaults: Mapping[str, Any]
    search_space: Mapping[str, BaseDistribution]
    builder: Callable[[dict[str, Any], BuildContext], Pipeline] = field(repr=False)
    tree_explainer: bool
    threshold_class: type[ThresholdedClassifier] = field(repr=False)
    aliases: tuple[str, ...] = ()
    supports_cuda: bool = False
    check: Callable[[Mapping[str, Any]], None] | None = field(default=None, repr=False)
    rows_fidelity: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.search_space) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"{self.name}: search space names parameters without defaults: {unknown}"
            )
        if self.threshold_class.family != self.name:
            raise ValueError(
                f"{self.name}: threshold_class {self.threshold_class.__name__} is for family "
                f"{self.threshold_class.family!r}"
            )

    def resolve_params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with ``params``; an unknown name is an error that lists the known ones."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"{self.name} has no parameter {unknown[0]!r}; known parameters: "
                f"{', '.join(sorted(self.defaults))}"
            )
        resolved = {**self.defaults, **params}
        try:
            if self.check is not None:  # the family's own rules first: their messages say more
                self.check(resolved)
            for name, value in params.items():
                _check_kind(name, value, self._kinds(name))
        except ConfigError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None
        return resolved

    def _kinds(self, name: str) -> set[str]:
        """What values ``name`` takes besides null (which the libraries read as "no limit" or
        "off"): ``"whole"`` or ``"number"`` for an integer or float search range; otherwise the
        kinds of its default and of its choices (``"bool"``, ``"number"``, ``"text"``). Empty:
        anything."""
        space = self.search_space.get(name)
        if isinstance(space, IntDistribution):
            return {"whole"}
        if isinstance(space, FloatDistribution):
            return {"number"}
        values = [self.defaults[name]]
        if isinstance(space, CategoricalDistribution):
            values += list(space.choices)
        kinds = {_kind(v) for v in values} - {"none"}
        return set() if "other" in kinds else kinds

    def build(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        n_threads: int = 1,
        pos_weight: float = 1.0,
        random_state: int = 42,
        device: Device = "cpu",
    ) -> Pipeline:
        """An unfitted pipeline (preprocessing, then the ``model`` step) for these params."""
        context = BuildContext(
            n_threads=n_threads,
            pos_weight=pos_weight,
            random_state=random_state,
            device=self.device_for(device),
        )
        return self.builder(self.resolve_params(params), context)

    def device_for(self, device: Device) -> Device:
        """Where this family's fits run when the run asks for ``device``."""
        if device not in DEVICES:
            raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
        return device if self.supports_cuda else "cpu"

    def portable(self, model: Pipeline) -> Pipeline:
        """``model`` (fitted) set to predict on CPUs, so a model fitted on a GPU scores anywhere."""
        if self.supports_cuda:
            step = model.named_steps["model"]
            bag = isinstance(step, BaggedClassifier)
            for booster in [step.estimator, *step.estimators_] if bag else [step]:
                booster.set_params(device="cpu")
        return model

    def gpus_for(self, device: Device, gpus_per_fit: float) -> float:
        """GPUs one fit of this family asks Ray for: ``gpus_per_fit`` on ``cuda``, else none."""
        return gpus_per_fit if self.device_for(device) == "cuda" else 0.0

    def with_threshold(self, model: Pipeline, threshold: float) -> ThresholdedClassifier:
        """``model`` (fitted) with its decision threshold, as this family's ``threshold_class``:
        ``predict`` cuts ``predict_proba`` at ``threshold``."""
        return self.threshold_class(model, threshold=threshold, response_method="predict_proba")


_KIND_NAMES = {
    "whole": "a whole number",
    "number": "a number",
    "text": "text",
    "bool": "true or false",
}


def _kind(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Real):
        return "number"
    if isinstance(value, str):
        return "text"
    return "other"


def _check_kind(name: str, value: Any, kinds: set[str]) -> None:
    """Refuse a parameter value of the wrong kind (``max_depth: "deep"``) before anything runs."""
    kind = _kind(value)
    if not kinds or kind in ("none", "other") or kind in kinds:  # a mapping, say: not judged
        return
    whole = kind == "number" and (
        isinstance(value, Integral) or (isinstance(value, float) and value.is_integer())
    )
    if "whole" in kinds and whole:
        return
    wanted = " or ".join(_KIND_NAMES[k] for k in sorted(kinds))
    raise ConfigError(f"parameter {name!r} must be {wanted}, got {value!r}")
