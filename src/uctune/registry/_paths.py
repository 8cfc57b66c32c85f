"""Where the registry lives when nobody says: ``data/models/registry`` under the working directory,
unless ``$UCTUNE_REGISTRY`` names another."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_ROOT", "ENV_VAR", "DB_NAME", "default_registry_root"]

DEFAULT_ROOT = Path("data/models/registry")
ENV_VAR = "UCTUNE_REGISTRY"
DB_NAME = "registry.db"


def default_registry_root() -> Path:
    """``$UCTUNE_REGISTRY`` if set, else ``data/models/registry`` under the working directory."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else DEFAULT_ROOT
