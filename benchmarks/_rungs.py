"""The fidelity rungs of a finished search, read from its ``tune/<family>/trials.csv``: each trial's
params as it ran them, a seeded sample of the trials scored at the lowest rung, and Spearman's rank
correlation of each rung's scores with the full CV score (see bench_quality.py, which re-runs the
pruned trials on Ray)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MISSING",
    "cast_param",
    "finite",
    "fold_columns",
    "rank_correlation",
    "rank_plan",
    "reproduction",
    "rung_columns",
    "spearman",
    "trial_params",
]

MISSING = object()
"""A trials.csv cell that records no value."""


def cast_param(name: str, value: Any, dist: Any) -> Any:
    """A trials.csv cell as the value the trial ran with, by its Optuna distribution: ints stay
    ints, categorical choices come back as themselves (``0.25``, not ``'0.25'``), an empty cell or
    ``'None'`` is ``None`` where ``None`` is a choice and :data:`MISSING` otherwise."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    empty = (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and value.strip() in ("", "None", "nan", "NaN"))
    )
    if empty:
        if isinstance(dist, CategoricalDistribution) and None in dist.choices:
            return None
        return MISSING
    if isinstance(dist, IntDistribution):
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"param_{name} must hold an integer, got {value!r}")
        return int(number)
    if isinstance(dist, FloatDistribution):
        return float(value)
    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if choice is None:
                continue
            if isinstance(choice, bool):
                if str(value).strip().lower() == str(choice).lower():
                    return choice
            elif isinstance(choice, int | float):
                try:
                    if float(value) == float(choice):
                        return choice
                except (TypeError, ValueError):
                    continue
            elif str(value) == str(choice):
                return choice
        raise ValueError(f"param_{name} must be one of {list(dist.choices)}, got {value!r}")
    raise TypeError(f"param_{name}: unsupported distribution {type(dist).__name__}")


def trial_params(
    family: str,
    row: Mapping[str, Any],
    fixed: Mapping[str, Any] | None = None,
    unsearched: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The params a trials.csv row ran with: its ``param_<name>`` cells cast by the family's
    search space, over ``unsearched`` (the values the run's refit recorded for the parameters no
    trial searches, so that a default changed since the run does not change the trial), under the
    run's fixed params (``tune.params``), as the trial had them."""
    from uctune.models import get_spec

    spec = get_spec(family)
    params = {
        k: v
        for k, v in (unsearched or {}).items()
        if k in spec.defaults and k not in spec.search_space
    }
    for name, dist in spec.search_space.items():
        column = f"param_{name}"
        if column in row:
            value = cast_param(name, row[column], dist)
            if value is not MISSING:
                params[name] = value
    return {**params, **dict(fixed or {})}


def finite(value: Any) -> float | None:
    """``value`` as a float, or ``None`` when it is no finite number (an empty cell, NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def rung_columns(trials: Any) -> list[str]:
    """The rungs whose scores are compared with the full CV score: each subsample (smallest
    first), then the first full fold."""
    subs = sorted(
        (c for c in trials.columns if c.startswith("subsample_")),
        key=lambda c: int(c.split("_")[1]),
    )
    return [*subs, *(["fold_1"] if "fold_1" in trials.columns else [])]


def fold_columns(trials: Any) -> list[str]:
    """``fold_1..fold_k``, in order."""
    folds = [c for c in trials.columns if c.startswith("fold_") and c[5:].isdigit()]
    return sorted(folds, key=lambda c: int(c[5:]))


def rank_plan(
    trials: Any, k: int, seed: int
) -> tuple[list[int], dict[int, dict[str, Any]], int | None]:
    """(the sampled trial numbers, their trials.csv rows, the cheapest completed trial: the
    reproduction check)."""
    import numpy as np

    rungs = rung_columns(trials)
    if not rungs:
        return [], {}, None
    usable = trials[
        trials["status"].isin(["completed", "pruned"]) & trials[rungs[0]].notna()
    ].sort_values("trial")
    numbers = usable["trial"].astype(int).tolist()
    rng = np.random.default_rng(seed)
    sample = sorted(int(n) for n in rng.choice(numbers, size=min(k, len(numbers)), replace=False))
    rows = {int(r["trial"]): r for r in trials.to_dict("records")}
    completed = trials[(trials["status"] == "completed") & trials["score"].notna()]
    check = (
        int(completed.sort_values(["seconds", "trial"]).iloc[0]["trial"])
        if len(completed)
        else None
    )
    return sample, rows, check


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rho, or ``None`` with fewer than 3 pairs or no spread on either side."""
    from scipy.stats import spearmanr

    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return float(spearmanr(a, b).statistic)


def rank_correlation(
    sample: list[int],
    rows: Mapping[int, Mapping[str, Any]],
    refits: Mapping[int, dict[str, Any]],
    columns: list[str],
    metric: str,
) -> dict[str, Any]:
    """Spearman's rho of each rung's scores against the full CV scores of the sampled trials.

    A rung's score is the search's record where it has one (a completed trial has them all), else
    the re-fit's: a trial pruned at a low rung is scored at every rung, so the higher rungs are
    not the survivors' alone. Where both exist they must agree (``rung_max_gap``), but for
    ``fold_1`` with F1, whose recorded fold score is at a threshold the later folds chose."""
    full: dict[int, float] = {}
    scored: dict[int, dict[str, float]] = {}
    trials_out = []
    gaps: list[float] = []
    for number in sample:
        row, refit = rows[number], refits.get(number)
        if row["status"] == "completed" and finite(row["score"]) is not None:
            score, source = finite(row["score"]), "search"
        else:
            score, source = (refit or {}).get("score"), "refit"
        if score is not None:
            full[number] = score
        mine: dict[str, float] = {}
        for column in columns:
            recorded = finite(row.get(column))
            again = finite((refit or {}).get("rungs", {}).get(column))
            if (
                recorded is not None
                and again is not None
                and not (column == "fold_1" and metric == "f1")
            ):
                gaps.append(abs(recorded - again))
            value = recorded if recorded is not None else again
            if value is not None:
                mine[column] = value
        scored[number] = mine
        trials_out.append(
            {
                "trial": number,
                "status": row["status"],
                "full_score": score,
                "full_score_from": source,
                **({"refit_error": refit["error"]} if refit and refit.get("error") else {}),
                **{c: mine.get(c) for c in columns},
            }
        )
    rungs: dict[str, Any] = {}
    for column in columns:
        pairs = [(scored[n][column], full[n]) for n in sample if n in full and column in scored[n]]
        rungs[column] = {
            "rho": spearman([a for a, _ in pairs], [b for _, b in pairs]),
            "trials": len(pairs),
        }
    return {
        "sampled": len(sample),
        "refit": sum(1 for t in trials_out if t["full_score_from"] == "refit"),
        "rungs": rungs,
        "trials": trials_out,
        "rung_max_gap": max(gaps) if gaps else None,
    }


def reproduction(
    number: int, row: Mapping[str, Any], refit: Mapping[str, Any], metric: str
) -> dict[str, Any]:
    """A completed trial run again against the search's record of it: its full score and every
    rung's (but ``fold_1`` with F1, recorded at a threshold its later folds chose)."""
    recorded, again = finite(row["score"]), refit["score"]
    rungs = [
        abs(value - finite(row.get(column)))
        for column, value in refit["rungs"].items()
        if finite(row.get(column)) is not None and not (column == "fold_1" and metric == "f1")
    ]
    return {
        "trial": number,
        "recorded_score": recorded,
        "refit_score": again,
        "gap": None if again is None or recorded is None else abs(again - recorded),
        "rung_max_gap": max(rungs) if rungs else None,
        "error": refit.get("error"),
    }
