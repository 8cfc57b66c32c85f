"""What tuning one family produced: every trial's record, the best configuration, and its summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from uctune.metrics import BEST_SCORE_IS, ObjectiveMetric
from uctune.training import FoldPredictions
from uctune.tuning._fidelity import Fidelity
from uctune.tuning._study import TrialRecord

__all__ = ["TuningResult"]


@dataclass(frozen=True)
class TuningResult:
    """One family's tuning: the trials (by Optuna trial number) and the best completed one.

    ``best_params`` holds every tuned parameter of the best trial plus any fixed ones, ready for
    :meth:`uctune.models.ModelSpec.build` or :func:`uctune.training.train_families`.
    ``wall_seconds`` is the wall time of the session that finished the tuning (a resumed run counts
    its own session only; when families are searched as one experiment, that experiment's);
    ``interrupted`` counts trials cut short by an interruption and run again.
    ``fidelity`` is the trials' schedule (folds alone, or subsamples of the first fold first).
    ``best_trial`` is the trial picked for the refit: the top one, or the defaults when the top one
    beats them only within the CV noise; ``selection`` says which and why
    (:mod:`uctune.tuning._selection`). ``fold_predictions`` are the picked trial's predictions of
    its CV folds, when this session ran it to the end (:mod:`uctune.tuning._kept`).
    """

    family: str
    metric: ObjectiveMetric
    n_folds: int
    trials: tuple[TrialRecord, ...]
    best_trial: int
    best_score: float
    best_params: Mapping[str, Any] = field(hash=False)
    param_names: tuple[str, ...]
    wall_seconds: float
    interrupted: int = 0
    study_path: str = ""
    experiment_path: str = ""
    fidelity: Fidelity | None = None
    selection: Mapping[str, Any] | None = field(default=None, hash=False)
    fold_predictions: FoldPredictions | None = field(
        default=None, hash=False, compare=False, repr=False
    )

    def count(self, status: str) -> int:
        return sum(1 for t in self.trials if t.status == status)

    @property
    def completed(self) -> int:
        return self.count("completed")

    @property
    def pruned(self) -> int:
        return self.count("pruned")

    @property
    def failed(self) -> int:
        return self.count("failed")

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial: ``trial, status, score, folds_done, seconds, node, gpus, attempts,
        budget, fold_1..fold_k``, with a rows fidelity ``rows`` (the share of the rows the last
        step fitted on) and ``subsample_1..`` (the scores of the subsample steps, smallest first),
        then ``param_<name>`` for every search-space parameter (empty cells where nothing was
        recorded). ``node`` is the Ray node that ran the trial's last attempt, ``gpus`` the ids
        of the GPUs Ray gave it (empty on CPUs); ``budget`` is the fidelity budget it reached."""
        steps = self.fidelity.row_steps if self.fidelity else 0
        subsample_columns = [f"subsample_{j + 1}" for j in range(steps)]
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "trial": t.number,
                "status": t.status,
                "score": t.score,
                "folds_done": t.folds_done,
                "seconds": round(t.seconds, 3),
                "node": t.node,
                "gpus": t.gpus,
                "attempts": t.attempts,
                "budget": t.budget,
            }
            if steps:
                row["rows"] = t.rows
                for j, name in enumerate(subsample_columns):
                    scores = t.subsample_scores
                    row[name] = scores[j] if j < len(scores) else None
            for k in range(self.n_folds):
                row[f"fold_{k + 1}"] = t.fold_scores[k] if k < len(t.fold_scores) else None
            for name in self.param_names:
                row[f"param_{name}"] = t.params.get(name, self.best_params.get(name))
            rows.append(row)
        columns = [
            "trial",
            "status",
            "score",
            "folds_done",
            "seconds",
            "node",
            "gpus",
            "attempts",
            "budget",
            *(["rows", *subsample_columns] if steps else []),
            *(f"fold_{k + 1}" for k in range(self.n_folds)),
            *(f"param_{n}" for n in self.param_names),
        ]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.astype(
            {
                "trial": "int64",
                "folds_done": "int64",
                "seconds": "float64",
                "attempts": "int64",
                "budget": "int64",
            }
        )

    def best_params_document(self) -> dict[str, Any]:
        """The ``best_params.json`` document."""
        return {
            "family": self.family,
            "metric": self.metric,
            "best_score": self.best_score,
            "best_trial": self.best_trial,
            "params": dict(self.best_params),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (``results.json``'s ``tuning.<family>``, without the refit)."""
        return {
            "metric": self.metric,
            "n_trials": len(self.trials),
            "completed": self.completed,
            "pruned": self.pruned,
            "failed": self.failed,
            "best_score": self.best_score,
            "best_score_is": BEST_SCORE_IS,
            "best_trial": self.best_trial,
            "best_params": dict(self.best_params),
            "wall_seconds": self.wall_seconds,
            "fit_cpu_seconds": sum(t.fit_cpu_seconds for t in self.trials),
            "interrupted": self.interrupted,
            "retried": sum(1 for t in self.trials if t.attempts > 1),
            "nodes": self.nodes(),
            "fidelity": self.fidelity.to_dict() if self.fidelity else None,
            "selection": dict(self.selection) if self.selection else None,
            "rank_correlation": self.rank_correlation(),
        }

    def rank_correlation(self) -> dict[str, Any]:
        """Spearman's correlation of each fidelity rung's scores with the full CV score, over the
        completed trials (those that reached every rung: survivors of the earlier rungs, so an
        optimistic sample). ``None`` for a rung with fewer than 3 such trials or no spread."""
        done = [t for t in self.trials if t.status == "completed" and t.score is not None]
        rungs: dict[str, list[float]] = {}
        steps = self.fidelity.row_steps if self.fidelity else 0
        for j in range(steps):
            rungs[f"subsample_{j + 1}"] = [
                t.subsample_scores[j] if j < len(t.subsample_scores) else float("nan") for t in done
            ]
        for k in range(self.n_folds - 1):
            # The running score after k + 1 folds is not kept; a fold's own score is.
            rungs[f"fold_{k + 1}"] = [
                t.fold_scores[k] if k < len(t.fold_scores) else float("nan") for t in done
            ]
        full = [float(t.score or 0.0) for t in done]
        return {
            "trials": len(done),
            "basis": "completed trials",
            "rungs": {name: _spearman(scores, full) for name, scores in rungs.items()},
        }

    def nodes(self) -> dict[str, int]:
        """How many trials each Ray node finished (by node id; trials replayed from an older run's
        record count where they ran)."""
        return dict(Counter(t.node for t in self.trials if t.node))


def _spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rho over the pairs whose ``a`` is known; ``None`` with fewer than 3 such pairs or
    no spread on either side."""
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x == x]
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    if len(pairs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(spearmanr(xs, ys).statistic)
