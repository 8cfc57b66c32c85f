"""The stages of a uctune run, as the CLI drives them.

The stage modules (training, tuning, the report) load their libraries when first used, so that a
command pays only for the stages it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from uctune.workflow._run import (
    STAGES,
    RunContext,
    Stage,
    execute_stages,
    removed_if_nothing_done,
    resume_run,
    start_run,
)

if TYPE_CHECKING:
    from uctune.workflow._report import (
        RunReport,
        build_run_report,
        report_settings,
        report_stage,
    )
    from uctune.workflow._train import train_stage
    from uctune.workflow._tune import tune_stage

_LAZY = {
    "RunReport": "_report",
    "build_run_report": "_report",
    "report_settings": "_report",
    "report_stage": "_report",
    "train_stage": "_train",
    "tune_stage": "_tune",
}

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
