"""Evaluating and explaining each model: the numbers and SHAP values a report is drawn from."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from uctune.calibration import ECE_BINS
from uctune.errors import ConfigError, DataError, UctuneError
from uctune.evaluation import CalibrationCheck, Evaluation, calibration_check, evaluate
from uctune.explain import Explanation, explain
from uctune.metrics import model_threshold
from uctune.models import CalibratedClassifier
from uctune.report._settings import ReportSettings

__all__ = [
    "ModelInput",
    "ModelReport",
    "assess_model",
    "assess_models",
    "check_inputs",
    "progress_label",
    "stored_threshold",
]

logger = logging.getLogger(__name__)

OOF_THRESHOLD = "stored with the model: F1-optimal on out-of-fold training predictions"
DEFAULT_THRESHOLD = "0.5: the model stores no threshold"


@dataclass(frozen=True)
class ModelInput:
    """One model to report on: its test probabilities and threshold, and the model for SHAP.

    ``model`` may be ``None`` (no SHAP); ``family`` is the uctune family name when known.
    ``raw_proba`` are the test probabilities before the model's calibration map
    (``calibration``: its method; ``None``/``"none"`` for a model without one; found from the model
    and the test rows when not given), ``calibration_record`` what the run recorded about choosing
    the map (the cross-fitted candidates).
    """

    name: str
    proba: np.ndarray = field(repr=False)
    threshold: float
    model: Any = field(default=None, repr=False)
    display_name: str | None = None
    family: str | None = None
    tuned: bool = False
    threshold_source: str = OOF_THRESHOLD
    raw_proba: np.ndarray | None = field(default=None, repr=False)
    calibration: str = "none"
    calibration_record: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @property
    def calibrated(self) -> bool:
        return self.raw_proba is not None and self.calibration != "none"


@dataclass(frozen=True)
class ModelReport:
    """A model's evaluation and SHAP explanation (or the reason there is none); ``before`` is the
    calibration check of its probabilities before calibration (its evaluation's own when the model
    has no calibration map)."""

    input: ModelInput
    evaluation: Evaluation
    explanation: Explanation | None
    shap_note: str | None
    before: CalibrationCheck | None = None

    @property
    def before_calibration(self) -> CalibrationCheck:
        return self.before if self.before is not None else self.evaluation.calibration

    def calibration_dict(self) -> dict[str, Any]:
        """JSON-ready calibration: the method, how it was chosen, and the test split's Brier
        score and ECE before and after the map, with their intervals."""
        record = dict(self.input.calibration_record or {})
        return {
            "method": self.input.calibration if self.input.calibrated else "none",
            "choice": record.get("choice"),
            "chosen_by": record.get("chosen_by"),
            "cross_fitted": record.get("candidates"),
            "test": {
                "before": self.before_calibration.to_dict(),
                "after": self.evaluation.calibration.to_dict(),
                "ece_bins": ECE_BINS,
            },
        }

    @property
    def name(self) -> str:
        return self.input.name

    @property
    def shap_seconds(self) -> float:
        """The time SHAP took (0 when it was not computed)."""
        return self.explanation.seconds if self.explanation is not None else 0.0

    def shap_dict(self) -> dict[str, Any]:
        """JSON-ready SHAP summary: explainer, rows, time, mean |SHAP| per feature."""
        e = self.explanation
        if e is None:
            return {"computed": False, "note": self.shap_note}
        return {
            "computed": True,
            "method": e.method,
            "raw_output": e.raw_output,
            "rows": len(e.data),
            "background_rows": None if e.background is None else len(e.background),
            "seconds": self.shap_seconds,
            "units": "probability",
            "mean_abs": e.mean_abs().to_dict(),
        }


def stored_threshold(model: Any) -> tuple[float, str]:
    """The model's own decision threshold and where it came from (0.5 when it has none)."""
    value = model_threshold(model)
    return (value, OOF_THRESHOLD) if value is not None else (0.5, DEFAULT_THRESHOLD)


def _before_calibration(item: ModelInput, X: pd.DataFrame | None) -> ModelInput:
    """``item`` with its probabilities before calibration, when its model is a thresholded
    :class:`~uctune.models.CalibratedClassifier` (uctune's stored models are) and they were not
    given."""
    inner = getattr(item.model, "estimator", None)
    if item.raw_proba is not None or X is None or not isinstance(inner, CalibratedClassifier):
        return item
    return replace(item, raw_proba=inner.raw_proba(X), calibration=str(inner.method_))


def _explain(
    item: ModelInput,
    X: pd.DataFrame | None,
    background: pd.DataFrame | None,
    s: ReportSettings,
    done: Mapping[str, Explanation],
) -> tuple[Explanation | None, str | None]:
    if item.model is None or X is None:
        return None, "SHAP not computed: no model or no feature rows were given"
    try:
        # SHAP calls the model on thousands of small batches; BLAS threads cost more than they
        # save there (the network's permutation explainer runs ~4x faster on one thread).
        with threadpool_limits(limits=1):
            explanation = explain(
                item.model,
                X,
                background=background,
                max_rows=s.shap_rows,
                background_size=s.background_size,
                random_state=s.seed,
                members=done,  # an ensemble's members explained above are not explained again
            )
    except UctuneError as exc:
        return None, f"SHAP skipped: {exc}"
    except Exception as exc:  # noqa: BLE001 - a model SHAP cannot handle is reported, not fatal
        logger.warning("SHAP failed for %s: %s", item.name, exc)
        return None, f"SHAP failed: {type(exc).__name__}: {exc}"
    return explanation, None


def check_inputs(
    models: Sequence[ModelInput], y_true: np.ndarray, X: pd.DataFrame | None
) -> np.ndarray:
    """The test labels as a flat array, once the models and rows are checked: at least one model,
    unique names, as many rows as labels."""
    if not models:
        raise ConfigError("a report needs at least one model, got none")
    names = [m.name for m in models]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"model names must be unique, got {', '.join(duplicated)} twice")
    y = np.asarray(y_true).ravel()
    if X is not None and len(X) != len(y):
        raise DataError(f"X_test has {len(X)} rows but y_test has {len(y)}")
    return y


def assess_model(
    given: ModelInput,
    y: np.ndarray,
    *,
    X: pd.DataFrame | None,
    background: pd.DataFrame | None,
    settings: ReportSettings,
    members: Mapping[str, Explanation] | None = None,
) -> ModelReport:
    """One model of :func:`assess_models`: pure, so it may run anywhere. ``members`` are
    explanations (by model name) that an ensemble's members may reuse."""
    s = settings
    item = _before_calibration(given, X)
    evaluation = evaluate(
        y,
        item.proba,
        threshold=item.threshold,
        n_resamples=s.bootstrap,
        level=s.level,
        random_state=s.seed,
    )
    before = None
    if item.calibrated and item.raw_proba is not None:
        before = calibration_check(
            y, item.raw_proba, n_resamples=s.bootstrap, level=s.level, random_state=s.seed
        )
    explanation, note = _explain(item, X, background, s, members or {})
    if explanation is not None:
        logger.info(
            "SHAP %s: %s explainer, %.2fs", item.name, explanation.method, explanation.seconds
        )
    return ModelReport(item, evaluation, explanation, note, before)


def progress_label(report: ModelReport) -> str:
    """How progress names an assessed model: its name and what its SHAP values cost."""
    e = report.explanation
    return f"{report.name} ({f'SHAP {e.seconds:.1f}s' if e is not None else 'no SHAP'})"


def assess_models(
    models: Sequence[ModelInput],
    y_true: np.ndarray,
    *,
    X: pd.DataFrame | None = None,
    background: pd.DataFrame | None = None,
    settings: ReportSettings | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    assessed: Mapping[str, ModelReport] | None = None,
) -> list[ModelReport]:
    """Evaluate every model on the test labels and explain it on (a sample of) the test rows ``X``.

    A calibrated model's calibration is checked before and after its map (its probabilities before
    the map are the model's on ``X`` unless given).

    SHAP values are computed against ``background`` (the training rows; default: ``X``). A model
    SHAP cannot explain gets a note instead of values; an ensemble reuses the explanations of its
    members listed before it or ``assessed``: reports made already (elsewhere, by
    :func:`assess_model`), by model name, which are taken as they are. ``progress(done, total,
    what)`` is called after each model assessed here, counting on from the ``assessed`` ones.
    """
    s = settings or ReportSettings()
    y = check_inputs(models, y_true, X)
    given_reports = dict(assessed or {})
    explained: dict[str, Explanation] = {
        name: r.explanation for name, r in given_reports.items() if r.explanation is not None
    }
    out: list[ModelReport] = []
    done = len(given_reports)
    for given in models:
        report = given_reports.get(given.name)
        if report is None:
            report = assess_model(
                given, y, X=X, background=background, settings=s, members=explained
            )
            done += 1
            if progress is not None:
                progress(done, len(models), progress_label(report))
        if report.explanation is not None:
            explained[report.name] = report.explanation
        out.append(report)
    return out
