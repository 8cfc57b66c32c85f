"""Ray Tune's ``OptunaSearch`` over a persisted study, told what the scheduler did.

``OptunaSearch`` tells Optuna every finished trial as COMPLETE with its last reported value, so a
trial that ASHA stopped after two folds would enter TPE's history as if its two-fold score were a
five-fold one. This searcher tells such a trial PRUNED, with its last score as the intermediate value
at the budget it reached (TPE ranks pruned trials below completed ones, a trial stopped later above
one stopped sooner, then by that value), a trial whose fold failed FAIL, and stores each trial's CV
record in the study.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from uctune.tuning._study import CV_ATTR, interrupted
from uctune.tuning._trainable import BUDGET, SCORE, TRIAL_KEY

__all__ = ["StudySearch"]

logger = logging.getLogger(__name__)


class StudySearch(OptunaSearch):
    """``OptunaSearch`` on a named study in ``storage`` that records pruned and failed trials as such.

    Configs carry their Optuna trial number under ``TRIAL_KEY``. No new trial is suggested once the
    study holds ``max_trials`` finished or running trials. A trial the study has already finished
    (reported again by a restored experiment) is left as it is. ``known_trials`` is how many trials
    the study holds already; it goes into TPE's seed (see :meth:`_new_sampler`).
    """

    def __init__(
        self,
        space: Mapping[str, BaseDistribution],
        *,
        n_folds: int,
        max_trials: int,
        storage: optuna.storages.BaseStorage,
        study_name: str,
        seed: int,
        known_trials: int,
        n_startup_trials: int = 10,
        points_to_evaluate: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        # An own name: OptunaSearch's __init__ sets (and resets) _seed.
        self._base_seed = seed
        self._n_startup = n_startup_trials
        super().__init__(
            space=dict(space),
            metric=SCORE,
            mode="max",
            sampler=self._new_sampler(known_trials),
            study_name=study_name,
            storage=storage,
            points_to_evaluate=[dict(p) for p in points_to_evaluate] or None,
        )
        self._n_folds = n_folds
        self._max_trials = max_trials

    def _new_sampler(self, known_trials: int) -> optuna.samplers.TPESampler:
        """TPE, seeded by the seed and the number of trials the study already holds.

        A search that restarts from a study (a resume) must not replay the random draws of its
        first start: its startup phase would propose the very configurations already tried.
        """
        # The constant liar makes concurrent trials see each other as pending (worst) results, so
        # that TPE does not send every free worker to the same region.
        return optuna.samplers.TPESampler(
            seed=self._base_seed + known_trials,
            constant_liar=True,
            n_startup_trials=self._n_startup,
        )

    def restore(self, checkpoint_path: str) -> None:
        """Ray Tune's restore of the searcher, with a sampler reseeded for the study as it is now
        (Tune's snapshot may predate trials whose draws the old random state would repeat)."""
        super().restore(checkpoint_path)
        self.reseed()

    def reseed(self) -> None:
        """A sampler seeded for the study as it is now (see :meth:`_new_sampler`)."""
        study, _ = self._study()
        study.sampler = self._sampler = self._new_sampler(len(study.get_trials(deepcopy=False)))

    def _study(self) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
        if self._ot_study is None or self._storage is None:  # set up in __init__ (space given)
            raise RuntimeError("StudySearch has no study")
        return self._ot_study, self._storage

    def _budget_spent(self) -> bool:
        """Whether the study's finished and running trials already make ``max_trials``.

        The study, not Tune's trial count, is the budget: after a restore, Tune's snapshot may not
        know the last trials the study finished.
        """
        study, _ = self._study()
        states = Counter(t.state for t in study.get_trials(deepcopy=False))
        finished = states[TrialState.COMPLETE] + states[TrialState.PRUNED] + states[TrialState.FAIL]
        taken = finished - len(interrupted(study)) + states[TrialState.RUNNING]
        return taken >= self._max_trials

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        if trial_id not in self._ot_trials and self._budget_spent():
            return Searcher.FINISHED
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            config[TRIAL_KEY] = self._ot_trials[trial_id].number
        return config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        # Nothing per fold: the study gets a trial's whole record once, when it ends (the base class
        # would write every fold's value to the database, on the driver's critical path).
        return

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id in self._completed_trials:
            return
        self._completed_trials.add(trial_id)
        study, storage = self._study()
        if result and "trial" in result:
            number = int(result["trial"])
        elif trial_id in self._ot_trials:
            number = self._ot_trials[trial_id].number
        else:
            logger.warning("trial %s finished but is unknown to the study; not recorded", trial_id)
            return
        study_id = storage.get_study_id_from_name(self._study_name)
        ot_trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        if storage.get_trial(ot_trial_id).state.is_finished():
            return  # recorded before an interruption; a restored experiment replayed it

        result = result or {}
        folds_done = int(result.get("folds_done", 0))
        budget = int(result.get(BUDGET, folds_done))
        score = result.get(SCORE)
        failure = result.get("fold_error") or ("the trial's worker failed" if error else "")
        record = {
            "score": score,
            "folds_done": folds_done,
            "budget": budget,
            "rows": float(result.get("rows", 1.0)),
            "fold_scores": list(result.get("fold_scores", [])),
            "subsample_scores": list(result.get("subsample_scores", [])),
            "seconds": result.get("seconds"),
            "fit_cpu_seconds": result.get("fit_cpu_seconds", 0.0),
            "error": failure or None,
            "node": result.get("node") or None,
            "gpus": result.get("gpus") or "",
        }
        storage.set_trial_user_attr(ot_trial_id, CV_ATTR, record)
        if failure or score is None or score != score:
            study.tell(number, state=TrialState.FAIL)
        elif folds_done < self._n_folds:
            storage.set_trial_intermediate_value(ot_trial_id, budget, float(score))
            study.tell(number, state=TrialState.PRUNED)
        else:
            study.tell(number, float(score))
