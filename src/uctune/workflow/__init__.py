"""The stages of a uctune run, as the CLI drives them."""

from __future__ import annotations

from uctune.workflow._run import (
    STAGES,
    RunContext,
    Stage,
    execute_stages,
    resume_run,
    start_run,
)
from uctune.workflow._train import train_stage
from uctune.workflow._tune import tune_stage

__all__ = [
    "STAGES",
    "RunContext",
    "Stage",
    "execute_stages",
    "resume_run",
    "start_run",
    "train_stage",
    "tune_stage",
]
