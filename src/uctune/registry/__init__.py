"""The model registry: versioned, checksummed models with lineage and aliases, in SQLite + joblib.

>>> from uctune import ModelRegistry
>>> registry = ModelRegistry()                      # data/models/registry/
>>> model_id = registry.save_model(model, "xgboost_tuned", "xgboost", metrics, params, "tuned")
>>> best = registry.get_best_model(metric="f1")
>>> model = registry.load_model(model_id=best["model_id"])
"""

from __future__ import annotations

from uctune.registry._artifacts import read_verified, sha256_of_file
from uctune.registry._entities import (
    AliasEntry,
    AliasEvent,
    Lineage,
    ModelEntry,
    Problem,
    VerifyReport,
)
from uctune.registry._lineage import LIBRARIES, VersionMismatchWarning, installed_versions
from uctune.registry._paths import DB_NAME, DEFAULT_ROOT, ENV_VAR, default_registry_root
from uctune.registry._registry import ModelRegistry
from uctune.registry._schema import SCHEMA_VERSION, SEED_MODELS_DDL
from uctune.registry._transfer import (
    MANIFEST,
    REGISTRY_DIR,
    pull_registry,
    read_manifest,
    snapshot_registry,
)
from uctune.registry._versions import next_version, parse_version

__all__ = [
    "AliasEntry",
    "AliasEvent",
    "DB_NAME",
    "DEFAULT_ROOT",
    "ENV_VAR",
    "LIBRARIES",
    "Lineage",
    "MANIFEST",
    "REGISTRY_DIR",
    "ModelEntry",
    "ModelRegistry",
    "Problem",
    "SCHEMA_VERSION",
    "SEED_MODELS_DDL",
    "VerifyReport",
    "pull_registry",
    "read_manifest",
    "snapshot_registry",
    "VersionMismatchWarning",
    "default_registry_root",
    "installed_versions",
    "next_version",
    "parse_version",
    "read_verified",
    "sha256_of_file",
]
