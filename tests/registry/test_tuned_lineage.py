"""A tuned model's lineage compares it with the untuned one on the holdout only, and names the
optimistic numbers it keeps (issue 12, item 7)."""

from __future__ import annotations

import pytest

from uctune.config import RunConfig
from uctune.metrics import BEST_SCORE_IS, METRICS
from uctune.registry import ModelRegistry
from uctune.training import FitSettings, train_families
from uctune.workflow import execute_stages, start_run


def test_tuned_lineage_compares_with_untuned_on_the_holdout(tmp_path, tiny_csv):
    root = tmp_path / "registry"
    config = RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "split": {"method": "time"},  # walk-forward CV by default
            "train": {"families": ["lr"], "cv_folds": 3},
            "registry": {"path": str(root)},
        }
    )
    ctx = start_run(config, command="run", out=tmp_path / "r", backend="sequential")
    execute_stages(ctx, ["train"], fresh=True)
    # What the tune stage leaves, with a real refit of other params (the tune stage needs Ray).
    refit = train_families(
        ctx.table,
        ctx.split,
        families=["lr"],
        params={"lr": {"C": 0.01}},
        backend="sequential",
        fit=FitSettings(n_folds=3, seed=config.seed, cv=ctx.cv),
    ).results["logistic_regression"]
    ctx.save_model("logistic_regression_tuned", refit.model)
    ctx.results["tuning"] = {
        "logistic_regression": {
            "metric": "f1",
            "best_score": 0.61,
            "best_params": {"C": 0.01},
            "refit": refit.to_dict(),
        }
    }
    execute_stages(ctx, ["register"], fresh=False)
    entry = ModelRegistry(root).get(
        ctx.results["registry"]["models"]["logistic_regression_tuned"]["model_id"]
    )
    scores = entry.lineage.cv_scores
    untuned = ctx.results["families"]["logistic_regression"]["holdout"]["at_threshold"]
    versus = scores["tuned_vs_untuned"]
    assert versus["basis"].startswith("holdout")
    assert dict(versus["untuned"]) == pytest.approx({m: untuned[m] for m in METRICS})
    assert dict(versus["tuned"]) == pytest.approx(
        {m: refit.holdout["at_threshold"][m] for m in METRICS}
    )
    assert versus["not_comparable"]["tuning.best_score"] == BEST_SCORE_IS
    # The walk-forward CV, honest and in-sample, each named for what it is.
    assert scores["threshold_from"] == "earlier_folds"
    assert dict(scores["oof"]) == pytest.approx(refit.oof)
    assert "optimistic" in scores["oof_in_sample_is"]
