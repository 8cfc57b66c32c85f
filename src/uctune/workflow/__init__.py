"""The stages of a uctune run, as the CLI drives them."""

from __future__ import annotations

from uctune.workflow._report import RunReport, build_run_report, report_settings, report_stage
from uctune.workflow._run import (
    STAGES,
    RunContext,
    Stage,
    execute_stages,
    removed_if_nothing_done,
    resume_run,
    start_run,
)
from uctune.workflow._train import train_stage
from uctune.workflow._tune import tune_stage

__all__ = [
    "STAGES",
    "RunContext",
    "RunReport",
    "Stage",
    "build_run_report",
    "execute_stages",
    "removed_if_nothing_done",
    "report_settings",
    "report_stage",
    "resume_run",
    "start_run",
    "train_stage",
    "tune_stage",
]
