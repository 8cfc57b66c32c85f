"""A uctune run: its stages, and :func:`execute_run`, the entry point the CLI calls.

The stage modules (training, tuning, the report) load their libraries when first used, so that a
command pays only for the stages it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uctune.workflow._execute import Session, execute_run, open_run
from uctune.workflow._export import Exported, check_export, export_run
from uctune.workflow._run import (
    STAGES,
    RunContext,
    Stage,
    execute_stages,
    removed_if_nothing_done,
    resume_run,
    start_run,
)
from uctune.workflow._tracking import Tracked, check_tracking, track_run

if TYPE_CHECKING:
    from uctune.workflow._report import (
        RunReport,
        build_run_report,
        report_settings,
        report_stage,
    )
    from uctune.workflow._train import train_stage
    from uctune.workflow._tune import tune_stage

__all__ = [
    "STAGES",
    "Exported",
    "RunContext",
    "Session",
    "RunReport",
    "Stage",
    "Tracked",
    "build_run_report",
    "check_export",
    "check_tracking",
    "execute_run",
    "execute_stages",
    "export_run",
    "open_run",
    "removed_if_nothing_done",
    "report_settings",
    "report_stage",
    "resume_run",
    "start_run",
    "track_run",
    "train_stage",
    "tune_stage",
]


def __getattr__(name: str) -> Any:
    # The stage modules load their libraries (Ray Tune, SHAP, matplotlib) on first use.
    if name in ("RunReport", "build_run_report", "report_settings", "report_stage"):
        from uctune.workflow import _report

        return getattr(_report, name)
    if name == "train_stage":
        from uctune.workflow._train import train_stage

        return train_stage
    if name == "tune_stage":
        from uctune.workflow._tune import tune_stage

        return tune_stage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
