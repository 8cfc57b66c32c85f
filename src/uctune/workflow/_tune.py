"""The tune stage: each configured family's hyperparameter search, then its best params refit.

Per family, in the run directory::

    tune/<family>/trials.csv         one row per trial (status, score, per-fold scores, params)
    tune/<family>/best_params.json   the best completed trial
    tune/<family>/study.db           the Optuna study (what a resume reads back)
    tune/ray/                        Ray Tune's experiment, every family's trials (unless
                                     tune.storage puts it elsewhere)
    models/<family>_tuned.joblib     the best params refit by the train stage's code

and ``results.json``'s ``tuning.<family>``. The families' searches run as one experiment on the
whole cluster; a resumed run continues an interrupted search where it stopped and skips families
already refit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from uctune.errors import ConfigError, TrainingError
from uctune.runs import write_frame, write_json
from uctune.storage import check_storage, join_storage
from uctune.training import Progress
from uctune.tuning import (
    STUDY_FILE,
    FamilySearch,
    Phase,
    TuneSettings,
    TuningResult,
    tune_and_refit_families,
)
from uctune.workflow._run import TUNED_SUFFIX

if TYPE_CHECKING:
    from uctune.workflow._run import RunContext

__all__ = ["tune_stage", "TUNE_DIR"]

logger = logging.getLogger(__name__)

TUNE_DIR = "tune"


def _settings(ctx: RunContext) -> TuneSettings:
    config = ctx.config
    tc = config.tune
    return TuneSettings(
        n_trials=tc.trials,
        metric=tc.metric,
        pruning=tc.pruning,
        grace_period=tc.grace_period,
        reduction_factor=tc.reduction_factor,
        fidelity=tc.fidelity,
        min_gain_se=tc.min_gain_se,
        max_failures=tc.max_failures,
        fit=replace(ctx.fit, cpus_per_fit=tc.cpus_per_trial),
    )


def _trials_file(ctx: RunContext, family: str) -> Path:
    return ctx.run_dir / TUNE_DIR / family / "trials.csv"


def _write_tuning(ctx: RunContext, family: str, result: TuningResult) -> None:
    """The search's trials and best params, written before the refit."""
    path = _trials_file(ctx, family)
    write_frame(result.trials_frame(), path)
    write_json(path.parent / "best_params.json", result.best_params_document())


def _progress(ctx: RunContext, families: list[str], phase: Phase) -> Progress | None:
    if phase == "tune" and ctx.verbose:
        return None  # Ray Tune's own trial table instead
    return ctx.progress(f"{phase} {', '.join(families)}")


def tune_stage(ctx: RunContext) -> None:
    """Tune every configured family on the training split, refit the best, store it as ``<f>_tuned``.

    The families' searches are one Ray Tune experiment (``tune/ray/``, or ``<storage>/<run id>/ray``),
    so the next family's trials fill the cores the last trials of the one before leave free; then
    the best params of every family are refit at once.
    """
    if ctx.backend != "ray":
        raise ConfigError(f"the tune stage runs on Ray; backend {ctx.backend!r} cannot run it")
    config = ctx.config
    settings = _settings(ctx)
    section = ctx.results.setdefault("tuning", {})
    failures = ctx.results.setdefault("tuning_failures", {})
    ctx.results.setdefault(
        "execution", {"backend": ctx.backend, "device": config.device, **ctx.cluster}
    )
    storage = config.tune.storage
    if storage:
        check_storage(storage)  # an unreachable bucket fails now, not after the first trials
    started = time.perf_counter()
    # Families already searched and refit stay in the experiment (a restored one may replay their
    # trials), but are not refit again.
    searched = [f for f in config.tune.families if f not in failures]
    todo = [f for f in searched if f not in section]
    for family in config.tune.families:
        if family not in todo:
            logger.info("tuning of %s already finished; skipping", family)
    if todo:
        folders = {f: ctx.run_dir / TUNE_DIR / f for f in searched}
        studies = [folders[f] / STUDY_FILE for f in searched]
        try:
            outcome = tune_and_refit_families(
                [
                    FamilySearch(f, folders[f], fixed_params=config.tune.params.get(f))
                    for f in searched
                ],
                ctx.table,
                ctx.split,
                experiment_root=(
                    join_storage(storage, ctx.run_id)
                    if storage
                    else str((ctx.run_dir / TUNE_DIR).resolve())
                ),
                settings=settings,
                refit_cpus=config.train.cpus_per_fit,
                backend=ctx.backend,
                resume=any(p.exists() for p in studies),
                progress=partial(_progress, ctx, searched),
                verbose=ctx.verbose,
                on_tuned=partial(_write_tuning, ctx),
                refit=todo,
            )
        except BaseException:
            if any(p.exists() for p in studies):
                ctx.mark_started("tune")  # trials exist: keep the run for --resume
            raise
        for family in todo:
            tuned = outcome[family]
            if isinstance(tuned, TrainingError):
                logger.warning("%s", tuned)
                failures[family] = str(tuned)
                continue
            name = f"{family}{TUNED_SUFFIX}"
            refit = tuned.refit
            ctx.save_model(name, refit.model)
            ctx.add_predictions({name: refit.test_proba})
            if refit.out_of_fold is not None:
                ctx.add_out_of_fold({name: refit.out_of_fold})
            section[family] = {
                **tuned.tuning.to_dict(),
                "trials_csv": _trials_file(ctx, family).relative_to(ctx.run_dir).as_posix(),
                "refit": refit.to_dict(),
            }
        ctx.save_results()
    timing = ctx.results.setdefault("timing", {})
    timing["tune_wall_seconds"] = timing.get("tune_wall_seconds", 0.0) + (
        time.perf_counter() - started
    )
    if config.tune.families and not section:
        raise TrainingError("every tuned family failed: " + "; ".join(failures.values()))
