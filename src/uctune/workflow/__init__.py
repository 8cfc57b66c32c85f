"""The stages of a uctune run, as the CLI drives them."""

from __future__ import annotations

from uctune.workflow._train import run_training, train_payload, write_train_outputs

__all__ = ["run_training", "train_payload", "write_train_outputs"]
