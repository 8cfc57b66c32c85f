"""The report's figures: pure functions from numbers to matplotlib figures (Agg, no pyplot state).

Every function returns a :class:`~matplotlib.figure.Figure` built with the object-oriented API, so no
global figure registry fills up and nothing depends on the interactive backend; :func:`to_png`
renders one to PNG bytes.
"""

from __future__ import annotations

from uctune.report._plots._base import PALETTE, Curve, to_png
from uctune.report._plots._curves import (
    alerts_figure,
    calibration_figure,
    confusion_figure,
    intervals_figure,
    pr_figure,
    roc_figure,
    threshold_figure,
)
from uctune.report._plots._shap import shap_bar_figure, shap_beeswarm_figure
from uctune.report._plots._tuning import importance_figure, tuning_history_figure

__all__ = [
    "Curve",
    "PALETTE",
    "alerts_figure",
    "calibration_figure",
    "confusion_figure",
    "importance_figure",
    "intervals_figure",
    "pr_figure",
    "roc_figure",
    "shap_bar_figure",
    "shap_beeswarm_figure",
    "threshold_figure",
    "to_png",
    "tuning_history_figure",
]
