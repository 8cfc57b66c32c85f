"""The register stage: every tuned model of the run (else every trained one) into the registry.

Each model is saved with its holdout metrics at its stored threshold (``f1``, ``precision``,
``recall``, ``roc_auc``, ``pr_auc`` and the confusion counts, at top level so that ``min_f1`` and
``get_best_model(metric="f1")`` apply), its hyperparameters, and its lineage: the run, the data
fingerprint, the feature order, the threshold, the CV scores, the seed, and a small sample of
training rows that ``uctune predict`` explains against.

The CV scores are honest (each fold at a threshold chosen without it); the optimistic numbers
(``cv.oof_in_sample``, and the tuning's best CV score, a maximum over trials) are stored with a note
saying so, and a tuned model is compared with its untuned counterpart only on the holdout
(``tuned_vs_untuned``). A resumed run does not register a model twice (the registry keys saves
by run and model name).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from uctune.metrics import BEST_SCORE_IS, METRICS
from uctune.models import get_spec
from uctune.registry import Lineage, ModelRegistry
from uctune.workflow._ensemble import ENSEMBLE
from uctune.workflow._run import TUNED_SUFFIX

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["register_stage", "tuned_vs_untuned", "BACKGROUND_ROWS"]

logger = logging.getLogger(__name__)

BACKGROUND_ROWS = 100
_COUNTS = ("tp", "fp", "tn", "fn")


class _Candidate(NamedTuple):
    name: str
    family: str
    summary: dict[str, Any]  # FamilyResult.to_dict()
    description: str
    tuning: dict[str, Any] | None  # the tuning metric and best CV score, for tuned models


def _candidates(ctx: RunContext) -> tuple[str, list[_Candidate]]:
    """``(source, candidates)``: the tuned models, else the trained ones; and the ensemble."""
    source, found = _members(ctx)
    ensemble = ctx.results.get(ENSEMBLE) or {}
    unearned = ensemble.get("earned") is False and ctx.config.ensemble.registered == "if_better"
    if ENSEMBLE in ctx.model_names() and "threshold" in ensemble and not unearned:
        how = f"{ensemble['method']} of {', '.join(ensemble['members'])}"
        found.append(_Candidate(ENSEMBLE, ENSEMBLE, ensemble, how, None))
    return source, found


def _members(ctx: RunContext) -> tuple[str, list[_Candidate]]:
    tuning = ctx.results.get("tuning") or {}
    tuned = []
    for name in ctx.model_names():
        if not name.endswith(TUNED_SUFFIX):
            continue
        family = name.removesuffix(TUNED_SUFFIX)
        info = tuning.get(family)
        if not isinstance(info, dict) or not isinstance(info.get("refit"), dict):
            logger.warning("model %s has no tuning results in results.json; not registered", name)
            continue
        metric, best = info.get("metric"), info.get("best_score")
        detail = f"best CV {metric} {best:.4f}" if isinstance(best, int | float) else "tuned"
        tuning_scores = {k: info[k] for k in ("metric", "best_score") if k in info}
        tuned.append(_Candidate(name, family, info["refit"], f"tuned ({detail})", tuning_scores))
    if tuned:
        return "tuned", tuned
    families = ctx.results.get("families") or {}
    trained = [
        _Candidate(family, family, summary, "trained with fixed parameters", None)
        for family, summary in families.items()
        if family in ctx.model_names()
    ]
    return "trained", trained


def _display(family: str) -> str:
    return "Ensemble" if family == ENSEMBLE else get_spec(family).display_name


def _metrics(summary: dict[str, Any]) -> dict[str, Any]:
    holdout = (summary.get("holdout") or {}).get("at_threshold")
    if holdout:
        return {k: holdout[k] for k in (*METRICS, *_COUNTS) if k in holdout}
    # No holdout rows: the out-of-fold scores at the threshold are the honest substitute.
    oof = summary.get("cv", {}).get("oof") or {}
    return {k: oof[k] for k in (*METRICS, *_COUNTS) if k in oof}


def tuned_vs_untuned(
    tuned: dict[str, Any], untuned: dict[str, Any] | None
) -> dict[str, Any] | None:
    """A tuned model against the same family trained with fixed params, on unbiased numbers only:
    the holdout at each model's own (out-of-fold) threshold. ``None`` without an untuned model or
    a holdout. The CV scores are left out on purpose: the tuned params were chosen on those folds."""
    mine = (tuned.get("holdout") or {}).get("at_threshold")
    theirs = ((untuned or {}).get("holdout") or {}).get("at_threshold")
    if not mine or not theirs:
        return None
    return {
        "basis": "holdout, each model at its own out-of-fold threshold",
        "tuned": {k: mine[k] for k in METRICS if k in mine},
        "untuned": {k: theirs[k] for k in METRICS if k in theirs},
        "not_comparable": {"tuning.best_score": BEST_SCORE_IS},
    }


def register_stage(ctx: RunContext) -> None:
    """Register the run's models; record their ids in ``results["registry"]``."""
    settings = ctx.config.registry
    if not settings.enabled:
        ctx.results["registry"] = {"enabled": False}
        return
    registry = ModelRegistry(settings.path)
    source, candidates = _candidates(ctx)
    train_rows = ctx.table.X.iloc[ctx.split.train_index]
    background = train_rows.sample(
        n=min(BACKGROUND_ROWS, len(train_rows)), random_state=ctx.config.seed
    )
    registered: dict[str, dict[str, Any]] = {}
    for name, family, summary, how, tuning in candidates:
        model = ctx.model(name)
        cv_scores = dict(summary.get("cv") or {})
        if tuning is not None:
            cv_scores["tuning"] = tuning
            comparison = tuned_vs_untuned(summary, (ctx.results.get("families") or {}).get(family))
            if comparison is not None:
                cv_scores["tuned_vs_untuned"] = comparison
        lineage = Lineage(
            run_id=ctx.run_id,
            run_started_at=ctx.results.get("created_at"),
            data_fingerprint=ctx.results["data"]["fingerprint"],  # the run header records it
            features=ctx.table.features,
            categorical=ctx.table.categorical,
            threshold=summary.get("threshold"),
            cv_scores=cv_scores,
            seed=ctx.config.seed,
        )
        model_id = registry.save_model(
            model,
            model_name=name,
            model_type=family,
            metrics=_metrics(summary),
            hyperparameters=summary.get("params") or {},
            description=f"{_display(family)}, {how}; uctune run {ctx.run_id}",
            lineage=lineage,
            background=background,
        )
        entry = registry.get(model_id)
        registered[name] = {
            "model_id": model_id,
            "model_type": entry.model_type,
            "version": entry.version,
            "f1": entry.metrics.get("f1"),
        }
        logger.info("registered %s as model %d (%s)", name, model_id, entry.ref)
    section: dict[str, Any] = {
        "enabled": True,
        "path": str(settings.path),
        "source": source,
        "models": registered,
    }
    ensemble = ctx.results.get(ENSEMBLE) or {}
    if ensemble.get("earned") is False and ENSEMBLE not in registered:
        verdict = (ensemble.get("versus_members") or {}).get("verdict", "")
        section["ensemble_not_registered"] = f"{verdict}: the single models are registered"
        logger.info("ensemble not registered: %s", section["ensemble_not_registered"])
    scored = [(v["f1"], k) for k, v in registered.items() if isinstance(v["f1"], int | float)]
    if scored:
        best_name = max(scored)[1]
        section["best"] = {"model_name": best_name, **registered[best_name]}
    overall = registry.best("f1")
    if overall is not None:
        section["registry_best"] = {
            "model_id": overall.model_id,
            "model_name": overall.model_name,
            "model_type": overall.model_type,
            "version": overall.version,
            "f1": overall.metrics.get("f1"),
        }
    ctx.results["registry"] = section
