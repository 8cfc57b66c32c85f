"""Which trial a search hands to the refit: the top one only when it beats the defaults by more
than the CV noise.

The highest CV score over a hundred trials is a maximum of noisy estimates: on a forward split it
regularly scores below the family's untouched defaults (the winner's curse). So the defaults are a
trial of every search, run on every fold whatever the scheduler does, and the pick compares the top
trial with them fold by fold: the gain is the difference of their pooled CV scores, the noise the
standard error of their paired per-fold differences. A tuned configuration replaces the defaults
only when ``gain > min_gain_se * noise``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from uctune.tuning._study import TrialRecord

__all__ = ["Selection", "fold_noise", "is_defaults", "select_trial", "top_trial"]


def is_defaults(params: Mapping[str, Any], defaults: Mapping[str, Any] | None) -> bool:
    """Whether ``params`` hold the ``defaults`` (on the defaults' keys; floats to 1e-9)."""
    if not defaults:
        return False
    for name, want in defaults.items():
        if name not in params:
            return False
        got = params[name]
        if isinstance(want, float) or isinstance(got, float):
            if isinstance(want, bool | str) or isinstance(got, bool | str) or want is None:
                return False
            if got is None or not math.isclose(float(got), float(want), rel_tol=1e-9):
                return False
        elif got != want:
            return False
    return True


def fold_noise(scores: Sequence[float | None]) -> float:
    """The standard error of the mean of the finite ``scores`` (NaN with fewer than two)."""
    values = np.asarray([s for s in scores if s is not None and math.isfinite(s)], dtype=float)
    if len(values) < 2:
        return float("nan")
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


@dataclass(frozen=True)
class Selection:
    """The pick of a search: the ``picked`` trial, and why (``to_dict`` is ``results.json``'s
    ``tuning.<family>.selection``)."""

    picked: TrialRecord
    kept: Literal["tuned", "defaults"]
    top: TrialRecord
    defaults: TrialRecord | None
    gain: float | None
    noise: float | None
    min_gain_se: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "picked": self.kept,
            "picked_trial": self.picked.number,
            "top_trial": self.top.number,
            "top_score": self.top.score,
            "defaults_trial": None if self.defaults is None else self.defaults.number,
            "defaults_score": None if self.defaults is None else self.defaults.score,
            "gain": self.gain,
            "noise": self.noise,
            "min_gain_se": self.min_gain_se,
            "cv_noise": fold_noise(self.picked.fold_scores),
            "rule": "a tuned configuration replaces the defaults only when its CV score beats "
            "theirs by more than min_gain_se standard errors of the paired per-fold differences",
            "reason": self.reason,
        }


def top_trial(records: Iterable[TrialRecord]) -> TrialRecord | None:
    """The completed trial with the highest score (the first such, on a tie)."""
    completed = [r for r in records if r.status == "completed" and r.score is not None]
    return max(completed, key=lambda r: (r.score or 0.0, -r.number)) if completed else None


def select_trial(
    records: Sequence[TrialRecord],
    defaults: Mapping[str, Any] | None,
    *,
    min_gain_se: float = 2.0,
) -> Selection | None:
    """The trial to refit among ``records`` (``None`` when none completed): the top completed
    trial, unless the completed trial holding ``defaults`` is within the noise of it."""
    top = top_trial(records)
    if top is None:
        return None
    base = next(
        (r for r in records if r.status == "completed" and is_defaults(r.params, defaults)), None
    )

    def pick(
        chosen: TrialRecord, kept: Literal["tuned", "defaults"], reason: str, **numbers: Any
    ) -> Selection:
        return Selection(chosen, kept, top, base, min_gain_se=min_gain_se, reason=reason, **numbers)

    if base is None:
        why = (
            "the defaults lie outside the searched space"
            if defaults is None
            else "the defaults' trial did not complete"
        )
        return pick(top, "tuned", f"{why}: the top trial is taken", gain=None, noise=None)
    if base.number == top.number:
        return pick(base, "defaults", "the defaults scored best", gain=0.0, noise=None)
    gain = float(top.score or 0.0) - float(base.score or 0.0)
    diffs = [a - b for a, b in zip(top.fold_scores, base.fold_scores, strict=False)]
    noise = fold_noise(diffs)
    if not math.isfinite(noise):
        return pick(
            top,
            "tuned",
            "too few folds to measure the noise: the top trial is taken",
            gain=gain,
            noise=None,
        )
    if gain > min_gain_se * noise:
        reason = (
            f"trial {top.number} beats the defaults by {gain:.4f}, more than "
            f"{min_gain_se:g} x the noise ({noise:.4f})"
        )
        return pick(top, "tuned", reason, gain=gain, noise=noise)
    reason = (
        f"trial {top.number} beats the defaults by {gain:.4f}, within {min_gain_se:g} x the noise "
        f"({noise:.4f}): the defaults are kept"
    )
    return pick(base, "defaults", reason, gain=gain, noise=noise)
