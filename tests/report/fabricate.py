"""What a tune stage leaves in a run directory, fabricated by the tuner's file contract:
``tune/<family>/trials.csv``, ``results.json["tuning"][family]``, ``models/<family>_tuned.joblib`` and
a ``<family>_tuned`` column in ``predictions.csv``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import FixedThresholdClassifier

from uctune.models import get_spec
from uctune.training import positive_weight
from uctune.workflow import RunContext

FAST_PARAMS = {
    "random_forest": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "lightgbm": {"n_estimators": 30},
}
REPORT = {"shap_rows": 30, "background_size": 20, "bootstrap": 200}


def fabricate_trials(n: int = 14, seed: int = 0) -> pd.DataFrame:
    """XGBoost trials whose score depends mostly on the learning rate (as a tuner would write)."""
    rng = np.random.default_rng(seed)
    space = get_spec("xgboost").search_space
    rows = []
    for trial in range(n):
        lr = float(np.exp(rng.uniform(math.log(0.01), math.log(0.3))))
        params = {
            "max_depth": int(rng.integers(3, 11)),
            "learning_rate": lr,
            "n_estimators": int(rng.integers(50, 501)),
            "subsample": float(rng.uniform(0.5, 1.0)),
            "colsample_bytree": float(rng.uniform(0.5, 1.0)),
            "min_child_weight": float(np.exp(rng.uniform(math.log(0.5), math.log(20)))),
            "reg_alpha": float(np.exp(rng.uniform(math.log(1e-8), math.log(10)))),
            "reg_lambda": float(np.exp(rng.uniform(math.log(1e-8), math.log(10)))),
            "early_stopping_rounds": 50 if trial % 2 else None,  # no draw: the others stay put
        }
        assert set(params) == set(space)
        score = 0.35 + 0.1 * math.log(lr / 0.01) + rng.normal(0, 0.005)
        status = "completed" if trial < n - 2 else ("pruned" if trial == n - 2 else "failed")
        folds = [score + rng.normal(0, 0.01) for _ in range(3)]
        rows.append(
            {
                "trial": trial,
                "status": status,
                "score": "" if status == "failed" else round(score, 6),
                "folds_done": {"completed": 3, "pruned": 1, "failed": 0}[status],
                "seconds": round(float(rng.uniform(0.5, 2.0)), 3),
                "fold_1": round(folds[0], 6) if status != "failed" else "",
                "fold_2": round(folds[1], 6) if status == "completed" else "",
                "fold_3": round(folds[2], 6) if status == "completed" else "",
                **{f"param_{k}": v for k, v in params.items()},
            }
        )
    return pd.DataFrame(rows)


def fabricate_tuning(ctx: RunContext) -> None:
    """What the tune stage leaves: trials.csv, results.json["tuning"], a tuned model and column."""
    trials = fabricate_trials()
    folder = ctx.run_dir / "tune" / "xgboost"
    folder.mkdir(parents=True)
    trials.to_csv(folder / "trials.csv", index=False)
    done = trials[trials["status"] == "completed"]
    best = done.loc[done["score"].astype(float).idxmax()]
    best_params = {
        c.removeprefix("param_"): best[c] for c in trials.columns if c.startswith("param_")
    }
    X, y = ctx.table.X, ctx.table.y
    train, test = ctx.split.train_index, ctx.split.test_index
    pipeline = get_spec("xgboost").build(
        {"n_estimators": 40, "max_depth": 3, "learning_rate": 0.2},
        pos_weight=positive_weight(y[train]),
    )
    pipeline.fit(X.iloc[train], y[train])
    model = FixedThresholdClassifier(pipeline, threshold=0.41, response_method="predict_proba")
    ctx.save_model("xgboost_tuned", model)
    ctx.add_predictions({"xgboost_tuned": model.predict_proba(X.iloc[test])[:, 1]})
    ctx.results["tuning"] = {
        "xgboost": {
            "metric": "f1",
            "n_trials": len(trials),
            "completed": int((trials["status"] == "completed").sum()),
            "pruned": int((trials["status"] == "pruned").sum()),
            "failed": int((trials["status"] == "failed").sum()),
            "best_score": float(best["score"]),
            "best_trial": int(best["trial"]),
            "best_params": best_params,
            "wall_seconds": 21.5,
            "trials_csv": "tune/xgboost/trials.csv",
            "refit": {"model": "models/xgboost_tuned.joblib", "threshold": 0.41},
        }
    }
    ctx.save_results()
