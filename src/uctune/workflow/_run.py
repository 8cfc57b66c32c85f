"""A run: its directory, its stages, and resuming it after an interruption.

A run directory holds everything one ``uctune run`` (or ``uctune train``) produced::

    runs/<run-id>/
      config.yaml            the resolved configuration (what --resume re-reads)
      results.json           every number, one section per stage; ``stages`` says which are done
      models/<name>.joblib   fitted models (``<family>`` from training, ``<family>_tuned`` from tuning)
      models/checksums.json  each model file's sha256 and size, checked before it is unpickled
      predictions.csv        test rows: ids, label, one probability column per model
      oof.csv                training rows: fold, label, each model's honest out-of-fold probability
      ...                    stage-specific folders (``tune/``, ``report/``)

Stages run in order. Each one reads what earlier stages left (in the :class:`RunContext`, or from disk
after a resume), writes its own files and its section of ``results.json``, and is marked done. A
resumed run skips finished stages. The data are validated before the directory is created, so a bad
input leaves nothing behind; if the first stage fails, the directory is removed again.

A model file is unpickled (``uctune report``, ``--resume``) only after its size and sha256 match what
``models/checksums.json`` recorded when it was saved, as the registry does with its files: a joblib
file is a pickle, and unpickling runs code. A model without a recorded checksum is refused, and so
is every model of a run directory without ``checksums.json`` (written by a uctune from before the
checksums): such a run cannot be resumed or reported on, only run again.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import yaml

from uctune import __version__
from uctune.config import RunConfig, load_config
from uctune.data import FeatureTable, load_feature_table
from uctune.data.schema import DATE_COLUMNS, ID_COLUMNS
from uctune.errors import ConfigError, IntegrityError, NotFoundError, UctuneError
from uctune.registry import read_verified, sha256_of_file
from uctune.runs import atomic_path, new_run_id, write_frame, write_json, write_text
from uctune.splits import CVScheme
from uctune.training import (
    Backend,
    FitSettings,
    OutOfFold,
    Progress,
    SplitInfo,
    cv_rows,
    make_split,
    training_folds,
)

__all__ = [
    "RunContext",
    "Stage",
    "STAGES",
    "start_run",
    "resume_run",
    "execute_stages",
    "removed_if_nothing_done",
]

logger = logging.getLogger(__name__)

ProgressFactory = Callable[[str], Progress | None]

CHECKSUMS = "checksums.json"
"""In ``models/``: ``{"<name>.joblib": {"sha256": ..., "size_bytes": ...}}``, one entry per model."""


_EXACT = "%.17g"
"""Probabilities in predictions.csv and oof.csv round-trip exactly: the report and the ensemble
score these files, and rounding to fewer digits turns the small steps by which a calibration map
keeps the model's order (:mod:`uctune.calibration`) back into ties."""


@dataclass
class RunContext:
    """What the stages share: config, data, split, the run directory and the results document."""

    run_dir: Path
    run_id: str
    config: RunConfig
    table: FeatureTable
    split: SplitInfo
    results: dict[str, Any]
    backend: Backend = "ray"
    progress: ProgressFactory = field(default=lambda title: None)
    verbose: bool = (
        False  # stages show their libraries' own output (Ray Tune's) instead of progress
    )
    cluster: dict[str, Any] = field(default_factory=dict)
    resumed: bool = False  # re-opened from its directory, not started by this process
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cv(self) -> CVScheme:
        """How every stage draws its CV folds (see :func:`cv_scheme`)."""
        return cv_scheme(self.config)

    @property
    def fit(self) -> FitSettings:
        """What every fit of the run shares (see :func:`fit_settings`)."""
        return fit_settings(self.config)

    def cv_rows(self) -> dict[str, Any]:
        """The training rows' dates (and symbols) that the CV scheme needs to draw its folds."""
        return cv_rows(self.table, self.split.train_index, self.cv)

    # -- files --------------------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.run_dir / "models"

    @property
    def predictions_path(self) -> Path:
        return self.run_dir / "predictions.csv"

    @property
    def oof_path(self) -> Path:
        return self.run_dir / "oof.csv"

    def save_results(self) -> None:
        write_json(self.run_dir / "results.json", self.results)

    # -- stage bookkeeping ----------------------------------------------------------------------
    def is_done(self, stage: str) -> bool:
        return self.results.get("stages", {}).get(stage, {}).get("status") == "done"

    def mark_started(self, stage: str) -> None:
        """Record that ``stage`` has begun leaving resumable work behind (tuning trials): if it is
        interrupted, the run directory is kept for ``--resume`` even though no stage is done."""
        self.results.setdefault("stages", {})[stage] = {
            "status": "started",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.save_results()

    @property
    def any_started(self) -> bool:
        """Whether some stage has started or finished: the run has work to resume."""
        return bool(self.results.get("stages"))

    def mark_done(self, stage: str, seconds: float) -> None:
        self.results.setdefault("stages", {})[stage] = {
            "status": "done",
            "seconds": round(seconds, 3),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.save_results()

    # -- models and predictions -----------------------------------------------------------------
    @property
    def checksums_path(self) -> Path:
        return self.models_dir / CHECKSUMS

    def save_model(self, name: str, model: Any) -> Path:
        """Store a fitted model (atomically), record its checksum in ``models/checksums.json``
        (atomically, once the file is in place) and keep the model in memory for later stages."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        path = self.models_dir / f"{name}.joblib"
        with atomic_path(path) as tmp:
            joblib.dump(model, tmp)
            digest, size = sha256_of_file(tmp)
        checksums = self._checksums() or {}
        checksums[path.name] = {"sha256": digest, "size_bytes": size}
        write_json(self.checksums_path, dict(sorted(checksums.items())))
        self._models[name] = model
        return path

    def model(self, name: str) -> Any:
        """A model stored by an earlier stage: from memory, or from disk after a resume, unpickled
        only once its size and sha256 match ``models/checksums.json``
        (:class:`~uctune.errors.IntegrityError` otherwise)."""
        if name not in self._models:
            path = self.models_dir / f"{name}.joblib"
            if not path.is_file():
                raise NotFoundError(f"run {self.run_id!r} has no model {name!r} ({path})")
            shown = f"{self.models_dir.name}/{path.name}"
            checksums = self._checksums()
            if checksums is None:
                raise IntegrityError(
                    f"run {self.run_id!r}: {shown} cannot be checked before unpickling, the run "
                    f"has no {self.models_dir.name}/{CHECKSUMS} (a run directory from a uctune "
                    "without model checksums); start a new run"
                )
            recorded = checksums.get(path.name, {})
            self._models[name] = read_verified(
                path,
                sha256=recorded.get("sha256"),
                size=recorded.get("size_bytes"),
                owner=f"run {self.run_id!r}",
                shown=shown,
            )
        return self._models[name]

    def _checksums(self) -> dict[str, dict[str, Any]] | None:
        """``models/checksums.json`` (``None`` when there is none), checked to be well formed."""
        path = self.checksums_path
        if not path.is_file():
            return None
        shown = f"{self.models_dir.name}/{CHECKSUMS}"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise IntegrityError(
                f"run {self.run_id!r}: {shown} is not valid JSON; its models cannot be checked"
            ) from None
        well_formed = isinstance(document, dict) and all(
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size_bytes"), int)
            for entry in document.values()
        )
        if not well_formed:
            raise IntegrityError(
                f"run {self.run_id!r}: {shown} must map each model file to its sha256 and "
                "size_bytes; its models cannot be checked"
            )
        return document

    def model_names(self) -> list[str]:
        return sorted(p.stem for p in self.models_dir.glob("*.joblib"))

    def add_predictions(self, columns: dict[str, Any]) -> None:
        """Add (or replace) probability columns for the test rows in ``predictions.csv``."""
        frame = self.predictions()
        for name, values in columns.items():
            frame[name] = values
        write_frame(frame, self.predictions_path, float_format=_EXACT)

    def add_out_of_fold(self, columns: dict[str, OutOfFold]) -> None:
        """Add (or replace) models' out-of-fold probabilities of the training rows in ``oof.csv``
        (``row``, ``fold``, label, one column per model; empty where a model's fold failed)."""
        frame = self.out_of_fold()
        for name, oof in columns.items():
            mine = pd.DataFrame({"row": oof.index, "fold": oof.fold, name: oof.proba})
            if frame is None:
                frame = mine
            else:
                frame = frame.drop(columns=[name], errors="ignore").merge(
                    mine, on=["row", "fold"], how="outer"
                )
        if frame is None:
            return
        frame = frame.sort_values("row").reset_index(drop=True)
        label = self.table.label
        frame[label] = self.table.y[frame["row"].to_numpy()]
        ordered = ["row", "fold", label] + [c for c in frame if c not in ("row", "fold", label)]
        write_frame(frame[ordered], self.oof_path, float_format=_EXACT)

    def out_of_fold(self) -> pd.DataFrame | None:
        """``oof.csv`` as written by :meth:`add_out_of_fold` (``None`` before the first model)."""
        return pd.read_csv(self.oof_path) if self.oof_path.is_file() else None

    def predictions(self) -> pd.DataFrame:
        """Test rows (``row``, ids, label) and every model's probability column so far."""
        if self.predictions_path.is_file():
            return pd.read_csv(self.predictions_path)
        test = self.split.test_index
        ids = [c for c in ID_COLUMNS if c in self.table.frame.columns]
        frame = self.table.frame.iloc[test][ids + [self.table.label]].reset_index(drop=True)
        frame.insert(0, "row", test)
        for column in (c for c in DATE_COLUMNS if c in frame):
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
        return frame


Stage = Callable[[RunContext], None]

TUNED_SUFFIX = "_tuned"
"""The tune stage saves family ``f``'s refit best configuration as model ``f + TUNED_SUFFIX``."""


# Each stage's module is imported when the stage runs: a command loads only the libraries of the
# stages it runs (``uctune train`` never imports Ray Tune or Optuna).
def _train_stage(ctx: RunContext) -> None:
    from uctune.workflow._train import train_stage

    train_stage(ctx)


def _tune_stage(ctx: RunContext) -> None:
    from uctune.workflow._tune import tune_stage

    tune_stage(ctx)


def _ensemble_stage(ctx: RunContext) -> None:
    from uctune.workflow._ensemble import ensemble_stage

    ensemble_stage(ctx)


def _report_stage(ctx: RunContext) -> None:
    from uctune.workflow._report import report_stage

    report_stage(ctx)


def _register_stage(ctx: RunContext) -> None:
    from uctune.workflow._register import register_stage

    register_stage(ctx)


STAGES: dict[str, Stage] = {
    "train": _train_stage,
    "tune": _tune_stage,
    "ensemble": _ensemble_stage,
    "report": _report_stage,
    "register": _register_stage,  # keep last: it registers what every earlier stage produced
}
"""Every stage of ``uctune run``, in order. ``uctune train`` runs only ``train``, ``uctune tune`` only
``tune``."""


def _header(ctx: RunContext, command: str) -> dict[str, Any]:
    table = ctx.table
    return {
        "uctune_version": __version__,
        "run_id": ctx.run_id,
        "command": command,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "source": table.source,
            "fingerprint": table.fingerprint(),
            "rows": table.n_rows,
            "positives": table.n_positive,
            "positive_rate": table.n_positive / table.n_rows,
            "features": list(table.features),
            "categorical": list(table.categorical),
        },
        "split": ctx.split.to_dict(table.y),
        "cv": {"n_folds": ctx.config.train.cv_folds, **ctx.cv.to_dict()},
        "config": ctx.config.model_dump(mode="json"),
        "stages": {},
    }


def cv_scheme(config: RunConfig) -> CVScheme:
    """The run config's CV scheme (walk-forward by default with a time split)."""
    return CVScheme(
        method=config.cv_method,
        embargo=config.cv.embargo,
        group_by_symbol=config.cv.group_by_symbol,
    )


def fit_settings(config: RunConfig) -> FitSettings:
    """The run config's settings for every fit: the train stage's, a tuning trial's (with the
    trial's CPUs) and a tuned refit's."""
    return FitSettings(
        seed=config.seed,
        device=config.device,
        cpus_per_fit=config.train.cpus_per_fit,
        gpus_per_fit=config.gpus_per_fit,
        n_folds=config.train.cv_folds,
        cv=cv_scheme(config),
        calibration=config.calibration,
    )


def _load_and_split(config: RunConfig) -> tuple[FeatureTable, SplitInfo]:
    table = load_feature_table(config.data, n_folds=config.train.cv_folds)
    split = make_split(
        table, method=config.split.method, test_size=config.split.test_size, seed=config.seed
    )
    # Folds that cannot be drawn (too few dates for walk-forward CV) stop the run here, before
    # anything is written.
    training_folds(table, split, fit_settings(config))
    return table, split


def start_run(
    config: RunConfig, *, command: str, out: Path | None = None, backend: Backend = "ray"
) -> RunContext:
    """Validate the data, then create the run directory and write its config."""
    if out is not None and out.exists():
        raise ConfigError(f"output directory {str(out)!r} already exists; choose another --out")
    table, split = _load_and_split(config)  # bad data stops here, before anything is written
    run_id = out.name if out is not None else new_run_id(command, config.output_dir)
    run_dir = out if out is not None else config.output_dir / run_id
    run_dir.mkdir(parents=True)
    write_text(
        run_dir / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )
    ctx = RunContext(run_dir, run_id, config, table, split, results={}, backend=backend)
    ctx.results = _header(ctx, command)
    ctx.save_results()
    return ctx


def resume_run(run_dir: Path, *, backend: Backend = "ray") -> RunContext:
    """Re-open an interrupted run: its own config, the same data (checked by fingerprint)."""
    results_path = run_dir / "results.json"
    if not (run_dir / "config.yaml").is_file() or not results_path.is_file():
        raise NotFoundError(f"{str(run_dir)!r} is not a uctune run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    results = json.loads(results_path.read_text())
    table, split = _load_and_split(config)
    recorded = results.get("data", {}).get("fingerprint")
    if recorded != table.fingerprint():
        raise IntegrityError(
            f"the data of run {run_dir.name!r} changed since it started "
            f"(fingerprint {recorded} recorded, {table.fingerprint()} now); start a new run"
        )
    return RunContext(
        run_dir, run_dir.name, config, table, split, results=results, backend=backend, resumed=True
    )


@contextmanager
def removed_if_nothing_done(ctx: RunContext, *, fresh: bool) -> Iterator[None]:
    """Remove a fresh run's directory if it fails before any stage started (nothing to resume)."""
    try:
        yield
    except BaseException:
        if fresh and not ctx.any_started:
            shutil.rmtree(ctx.run_dir, ignore_errors=True)
        raise


def execute_stages(ctx: RunContext, stages: Sequence[str], *, fresh: bool) -> list[str]:
    """Run the stages not yet done, in order; return the names of those that ran.

    If the first stage of a fresh run fails before leaving resumable work behind (see
    :meth:`RunContext.mark_started`), the directory is removed; otherwise it stays, and the error
    says how to resume.
    """
    ran: list[str] = []
    with removed_if_nothing_done(ctx, fresh=fresh):
        for name in stages:
            if ctx.is_done(name):
                logger.info("stage %s already done; skipping", name)
                continue
            started = time.perf_counter()
            try:
                STAGES[name](ctx)
            except BaseException as exc:
                if not ctx.any_started:
                    raise
                command = ctx.results.get("command", "run")
                hint = f"; resume with: uctune {command} --resume {ctx.run_dir}"
                if isinstance(exc, UctuneError):
                    raise type(exc)(f"stage {name!r} failed: {exc}{hint}") from exc
                if isinstance(exc, KeyboardInterrupt):
                    logger.warning("interrupted during stage %s%s", name, hint)
                raise
            ctx.mark_done(name, time.perf_counter() - started)
            ran.append(name)
    return ran
