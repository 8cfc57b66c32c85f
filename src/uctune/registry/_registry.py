"""The model registry: a SQLite ``models`` table (the original schema, unchanged) and joblib files,
made safe to share.

:class:`ModelRegistry` is the facade; each concern lives in a module of its own: saving and
deleting (``_save``: versions taken inside the write transaction, files renamed into place),
reading (``_queries``), aliases and their history (``_aliases``), the lineage a model is saved with
(``_lineage``), checked loads and ``verify`` (``_integrity``), and the SQLite sessions underneath
(``_store``: one ``BEGIN IMMEDIATE`` transaction per write, retried when another process holds the
lock, WAL so readers never wait for writers).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uctune.errors import ConfigError, NotFoundError
from uctune.registry import _aliases, _integrity, _queries, _save
from uctune.registry._entities import (
    AliasEntry,
    AliasEvent,
    Lineage,
    ModelEntry,
    VerifyReport,
)
from uctune.registry._paths import (
    ALLOW_NETWORK_FS_VAR,
    DB_NAME,
    default_registry_root,
    network_mount,
)
from uctune.registry._rows import dict_from_row, entry_from_row
from uctune.registry._store import Store

__all__ = ["ModelRegistry"]


class ModelRegistry:
    """Versioned models in one directory: ``registry.db`` (SQLite) and a joblib file per model.

    ``ModelRegistry()`` uses ``data/models/registry`` under the working directory (or
    ``$UCTUNE_REGISTRY``), creating it on first use; ``create=False`` refuses a missing registry
    instead. Several processes may use one registry at once.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        timeout: float = 60.0,
    ) -> None:
        self.root = Path(root) if root is not None else default_registry_root()
        self.db_path = self.root / DB_NAME
        self.timeout = timeout
        _refuse_network_filesystem(self.root)
        if not self.db_path.is_file():
            if not create:
                raise NotFoundError(
                    f"no model registry at {str(self.root)!r} (no {DB_NAME}); "
                    "register models with `uctune run` or ModelRegistry.save_model first"
                )
            if self.root.exists() and not self.root.is_dir():
                raise ConfigError(f"registry root {str(self.root)!r} exists and is not a directory")
            self.root.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.db_path, timeout=timeout)
        self._store.retry(self._store.initialise)

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # -- the original operations: save, load, list, best, delete ---------------------------------
    def save_model(
        self,
        model: Any,
        model_name: str,
        model_type: str,
        metrics: Mapping[str, Any],
        hyperparameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        version: str | None = None,
        bump: str = "patch",
        lineage: Lineage | None = None,
        background: Any = None,
    ) -> int:
        """Store ``model`` and its metadata; return the new ``model_id``.

        The version is the next patch after the highest version ever issued to ``model_type``
        (deleted models count; 1.0.0 for its first model), or the next ``bump="minor"``/``"major"``,
        or exactly ``version`` ("2.0.0") if it was never issued to that type.
        ``lineage`` records where the model came from (the threshold and feature names are read
        from the model when not given); ``background`` is a small sample of training rows kept
        for SHAP explanations. A model name is stored once per run (``lineage.run_id`` and
        ``run_started_at``): saving it again returns the existing id, so a resumed run does not
        register twice.
        """
        return _save.save(
            self._store,
            self.root,
            model,
            model_name,
            model_type,
            metrics,
            hyperparameters,
            description,
            version=version,
            bump=bump,
            lineage=lineage,
            background=background,
        )

    def load_model(
        self,
        model_id: int | None = None,
        version: str | None = None,
        model_type: str | None = None,
    ) -> Any:
        """The stored model, by ``model_id`` or by ``version`` (with ``model_type`` when several
        types share that version). The file's size and sha256 are checked before unpickling."""
        if model_id is not None and version is None:
            entry = self.get(model_id)
        elif version is not None and model_id is None:
            entry = _queries.by_version(self._store, self.root, version, model_type)
        else:
            raise ConfigError(
                "load_model needs exactly one of model_id or version, got "
                f"model_id={model_id!r}, version={version!r}"
            )
        return self.load(entry)

    def list_models(
        self, model_type: str | None = None, min_f1: float | None = None
    ) -> list[dict[str, Any]]:
        """Every model (oldest first) as a dict of the ``models`` table's columns, JSON decoded,
        plus checksum, lineage and aliases; optionally only one type, and only models whose F1 is at
        least ``min_f1``."""
        return [dict_from_row(r) for r in _queries.select(self._store, model_type, min_f1)]

    def get_best_model(
        self, metric: str = "f1", model_type: str | None = None
    ) -> dict[str, Any] | None:
        """The model with the best ``metric`` (highest; lowest for losses and errors) as a dict
        (``model_id``, ``model_name``, ``version``, ``metrics``, ...); ``None`` if no model has it."""
        entry = self.best(metric, model_type=model_type)
        return None if entry is None else entry.to_dict()

    def delete_model(self, model_id: int, *, force: bool = False) -> None:
        """Remove a model's rows and its file. A model that an alias points at is kept unless
        ``force``, which also removes those aliases (recorded in their history). Its version is
        never issued again: the type's next save still counts from it."""
        _save.delete(self._store, self.root, self.get(model_id), force=force)

    # -- lookups --------------------------------------------------------------------------------
    def entries(
        self, *, model_type: str | None = None, min_f1: float | None = None
    ) -> list[ModelEntry]:
        """Every model as a frozen :class:`ModelEntry`, oldest first, optionally filtered."""
        return [entry_from_row(r) for r in _queries.select(self._store, model_type, min_f1)]

    def get(self, ref: int | str) -> ModelEntry:
        """One model by id (``12``), ``type@version``, alias, or ``best`` (highest F1)."""
        return _queries.get(self._store, self.root, ref)

    def best(self, metric: str = "f1", *, model_type: str | None = None) -> ModelEntry | None:
        """The model with the best ``metric`` (ties: the newest), or ``None`` when none has it."""
        return _queries.best(self._store, metric, model_type=model_type)

    def load(self, entry: ModelEntry) -> Any:
        """The model of ``entry``: its path checked to be inside the root, its size and sha256
        checked, then unpickled; warns when the recorded library versions differ from these."""
        return _integrity.load(self.root, entry)

    def background(self, model_id: int) -> list[dict[str, Any]] | None:
        """The training rows saved with a model as SHAP's reference sample (``None`` if none)."""
        return _queries.background(self._store, model_id)

    # -- aliases --------------------------------------------------------------------------------
    def set_alias(
        self, alias: str, ref: int | str, *, by: str | None = None, reason: str | None = None
    ) -> AliasEvent | None:
        """Point ``alias`` (``production``, ``staging``, any name) at a model; the move is added
        to the alias's history. ``None`` when it already pointed there."""
        _aliases.check_alias(alias)
        target = self.get(ref)
        return _aliases.set_alias(self._store, alias, target, by=by, reason=reason)

    def remove_alias(
        self, alias: str, *, by: str | None = None, reason: str | None = None
    ) -> AliasEvent:
        """Unset ``alias`` (recorded in its history)."""
        _aliases.check_alias(alias)
        return _aliases.remove_alias(self._store, self.root, alias, by=by, reason=reason)

    def aliases(self, alias: str | None = None) -> list[AliasEntry]:
        """Every alias (or only ``alias``, if set) and the model it points at."""
        return _aliases.list_aliases(self._store, alias)

    def alias_history(self, alias: str | None = None) -> list[AliasEvent]:
        """Every move of ``alias`` (or of every alias), oldest first."""
        return _aliases.alias_history(self._store, alias)

    # -- integrity ------------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Check every model's file (present, inside the root, size, sha256) and look for files
        no row accounts for. Nothing is unpickled."""
        return _integrity.verify(self._store, self.root)


def _refuse_network_filesystem(root: Path) -> None:
    """Refuse a registry on NFS, CIFS and the like (see :data:`NETWORK_FILESYSTEMS`), unless
    ``$UCTUNE_REGISTRY_ALLOW_NETWORK_FS`` is ``1``: SQLite's locking is not safe there."""
    if os.environ.get(ALLOW_NETWORK_FS_VAR) == "1":
        return
    existing = next((p for p in (root, *root.absolute().parents) if p.exists()), None)
    found = None if existing is None else network_mount(existing)
    if found is not None:
        point, fstype = found
        raise ConfigError(
            f"registry {str(root)!r} is on a network filesystem ({fstype} mounted at {point}), "
            "where SQLite's locks are unreliable; put it on a local or block-storage disk, or set "
            f"{ALLOW_NETWORK_FS_VAR}=1 to open it anyway"
        )
