"""Several families' searches as one Ray Tune experiment, so that no core waits between them.

Searched one after another, each family's search ends with its last trials running alone while
the other cores idle, and each search starts its trial workers (and their imports) afresh. Here one
experiment holds them all: :class:`JointSearch` asks each family's :class:`StudySearch` in turn
(the first family until its budget is handed out, then the next, so a free core always gets the
next family's trial), and :class:`FamilyScheduler` gives each family its own ASHA, so trials are
only ever compared with trials of their own family. The trial actors serve every family.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from uctune.tuning._search import StudySearch
from uctune.tuning._trainable import FAMILY_KEY, SCORE

__all__ = ["FamilyScheduler", "JointSearch"]


def _save_state(obj: object, path: str) -> None:
    """Ray Tune's snapshot of a searcher or scheduler: its whole state, sub-searchers included."""
    with open(path, "wb") as out:
        pickle.dump(obj.__dict__, out)


def _load_state(obj: object, path: str) -> None:
    with open(path, "rb") as stream:
        obj.__dict__.update(pickle.load(stream))


class JointSearch(Searcher):
    """One Tune searcher over the families' searchers, in the order given.

    A trial's config carries its family under ``FAMILY_KEY``; everything Tune says about the trial
    afterwards goes to that family's searcher.
    """

    def __init__(self, searches: Mapping[str, StudySearch]) -> None:
        super().__init__(metric=SCORE, mode="max")
        self._searches = dict(searches)
        self._family_of: dict[str, str] = {}

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return metric in (None, SCORE) and mode in (None, "max")

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        family = self._family_of.get(trial_id)
        if family is not None:
            return self._searches[family].suggest(trial_id)
        waiting = False
        for family, search in self._searches.items():
            config = search.suggest(trial_id)
            if isinstance(config, dict):
                self._family_of[trial_id] = family
                return {**config, FAMILY_KEY: family}
            waiting = waiting or config is None
        return None if waiting else Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        return  # the study gets a trial's record once, when it ends

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        family = self._family_of.get(trial_id)
        if family is None and result:
            family = (result.get("config") or {}).get(FAMILY_KEY)
        if family in self._searches:
            self._searches[family].on_trial_complete(trial_id, result, error=error)

    def save(self, checkpoint_path: str) -> None:
        _save_state(self, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        _load_state(self, checkpoint_path)
        for search in self._searches.values():
            search.reseed()


class FamilyScheduler(FIFOScheduler):
    """Each family's trials under their own scheduler (ASHA), chosen by the trial's family."""

    def __init__(self, schedulers: Mapping[str, TrialScheduler]) -> None:
        super().__init__()
        self._by_family = dict(schedulers)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return all(s.set_search_properties(metric, mode, **spec) for s in self._by_family.values())

    def _of(self, trial: Any) -> TrialScheduler:
        return self._by_family[trial.config[FAMILY_KEY]]

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self._of(trial).on_trial_error(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        return self._of(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self._of(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "\n".join(f"{f}: {s.debug_string()}" for f, s in self._by_family.items())

    def save(self, checkpoint_path: str) -> None:
        _save_state(self, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        _load_state(self, checkpoint_path)
