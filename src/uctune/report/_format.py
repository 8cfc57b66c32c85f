"""Formatting shared by the report's sections: numbers, intervals, anchors and embedded figures."""

from __future__ import annotations

import base64
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from uctune.evaluation import (
    Interval,
)
from uctune.report import _plots as plots

__all__ = [
    "METRIC_LABELS",
    "Image",
    "fmt",
    "image",
    "interval_text",
    "is_finite",
    "pct",
    "slug",
]

METRIC_LABELS = {
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
}


@dataclass(frozen=True)
class Image:
    caption: str
    alt: str
    data: str
    width: int
    height: int
    wide: bool = False


def image(fig: Figure, caption: str, alt: str, *, wide: bool = False) -> Image:
    png = plots.to_png(fig)
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR chunk
    return Image(caption, alt, base64.b64encode(png).decode("ascii"), width, height, wide)


def is_finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: Any, digits: int = 1) -> str:
    return "–" if not is_finite(value) else f"{value * 100:.{digits}f}%"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x"


def interval_text(interval: Interval | None) -> str:
    if interval is None or not math.isfinite(interval.low):
        return ""
    return f"{interval.low:.3f}–{interval.high:.3f}"
