"""The train stage: every family's CV, threshold, refit and holdout metrics, written into the run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from uctune.training import train_families

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["train_stage"]


def train_stage(ctx: RunContext) -> None:
    """Train the configured families (Ray must be up unless the backend is sequential)."""
    config = ctx.config
    outcome = train_families(
        ctx.table,
        ctx.split,
        families=config.train.families,
        params=config.train.params,
        fit=ctx.fit,
        backend=ctx.backend,
        progress=ctx.progress("train"),
    )
    for name, result in outcome.results.items():
        ctx.save_model(name, result.model)
    ctx.add_predictions({name: r.test_proba for name, r in outcome.results.items()})
    ctx.add_out_of_fold(
        {name: r.out_of_fold for name, r in outcome.results.items() if r.out_of_fold is not None}
    )
    ctx.results["execution"] = {"backend": ctx.backend, "device": config.device, **ctx.cluster}
    ctx.results["families"] = {name: r.to_dict() for name, r in outcome.results.items()}
    ctx.results["failures"] = outcome.failures
    ctx.results.setdefault("timing", {})["train_wall_seconds"] = outcome.wall_seconds
