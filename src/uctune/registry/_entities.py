"""What the registry hands out: frozen copies of its rows, never the rows themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from uctune.runs import to_jsonable

__all__ = ["Lineage", "ModelEntry", "AliasEvent", "AliasEntry", "Problem", "VerifyReport"]


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Lineage:
    """Where a model came from: data, features, threshold, CV scores, seed, run and library versions.

    Every field is optional for models saved through ``ModelRegistry.save_model``; ``uctune run``
    fills them all.
    """

    run_id: str | None = None
    run_started_at: str | None = None
    data_fingerprint: str | None = None
    features: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    threshold: float | None = None
    cv_scores: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    library_versions: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "categorical", tuple(self.categorical))
        object.__setattr__(self, "cv_scores", _frozen(self.cv_scores))
        object.__setattr__(self, "library_versions", _frozen(self.library_versions))

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_started_at": self.run_started_at,
            "data_fingerprint": self.data_fingerprint,
            "features": list(self.features),
            "categorical": list(self.categorical),
            "threshold": self.threshold,
            "cv_scores": to_jsonable(self.cv_scores),
            "seed": self.seed,
            "library_versions": dict(self.library_versions),
        }


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: the ``models`` table's columns, the artifact's checksum, lineage and
    aliases."""

    model_id: int
    model_name: str
    model_type: str
    version: str
    metrics: Mapping[str, Any]
    hyperparameters: Mapping[str, Any] | None
    file_path: str
    created_at: str
    description: str | None
    sha256: str | None
    size_bytes: int | None
    lineage: Lineage
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", _frozen(self.metrics))
        if self.hyperparameters is not None:
            object.__setattr__(self, "hyperparameters", _frozen(self.hyperparameters))

    @property
    def ref(self) -> str:
        """``type@version``, the readable way to name this model."""
        return f"{self.model_type}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """The ``models`` table's columns as a dictionary (JSON decoded) plus checksum, lineage,
        aliases: what ``ModelRegistry.list_models`` returns."""
        return {
            "model_id": self.model_id,
            "model_name": self.model_name,
            "model_type": self.model_type,
            "version": self.version,
            "metrics": to_jsonable(self.metrics),
            "hyperparameters": None
            if self.hyperparameters is None
            else to_jsonable(self.hyperparameters),
            "file_path": self.file_path,
            "created_at": self.created_at,
            "description": self.description,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "lineage": self.lineage.to_dict(),
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True)
class AliasEntry:
    """Where an alias points now."""

    alias: str
    model_id: int
    ref: str
    updated_at: str
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "model_id": self.model_id,
            "ref": self.ref,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias (append-only history). ``None`` means unset before / removed after."""

    event_id: int
    alias: str
    from_model_id: int | None
    to_model_id: int | None
    changed_by: str
    changed_at: str
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "alias": self.alias,
            "from_model_id": self.from_model_id,
            "to_model_id": self.to_model_id,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Problem:
    """One mismatch between the database and the files: missing, corrupted, size, outside, stray."""

    kind: str
    path: str
    model_id: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "model_id": self.model_id,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :meth:`ModelRegistry.verify`."""

    root: str
    models_checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "models_checked": self.models_checked,
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
        }
