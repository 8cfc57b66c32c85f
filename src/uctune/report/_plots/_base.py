"""What every figure of the report shares: the palette, sizes, a new figure, axis style, PNG bytes."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

__all__ = [
    "Curve",
    "MUTED",
    "NEG",
    "PALETTE",
    "POS",
    "SHAP_CMAP",
    "SMALL",
    "WIDE",
    "new_figure",
    "style_axes",
    "to_png",
]

# Colour-blind-safe (Okabe-Ito, then a few more); one colour per model, the same in every figure.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#999999",
    "#882255",
    "#44AA99",
)


POS, NEG, MUTED = "#D55E00", "#0072B2", "#9a9a9a"


SHAP_CMAP = LinearSegmentedColormap.from_list("shap", ["#008bfb", "#8a3ffc", "#ff0051"])


SMALL = (5.6, 4.0)


WIDE = (6.4, 4.4)


@dataclass(frozen=True)
class Curve:
    """One model's test labels and probabilities, as a curve in a plot."""

    label: str
    y_true: np.ndarray
    proba: np.ndarray
    color: str
    threshold: float | None = None


def to_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no timestamp or software metadata, so equal figures give equal bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def new_figure(size: tuple[float, float] = SMALL) -> Figure:
    return Figure(figsize=size, layout="constrained")


def style_axes(ax: Axes, *, grid: bool = True) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    if grid:
        ax.grid(True, color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
