"""Where the registry lives when nobody says: ``data/models/registry`` under the working directory,
unless ``$UCTUNE_REGISTRY`` names another; and whether a place is fit for its SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ALLOW_NETWORK_FS_VAR",
    "DB_NAME",
    "DEFAULT_ROOT",
    "ENV_VAR",
    "default_registry_root",
    "network_mount",
]

DEFAULT_ROOT = Path("data/models/registry")
ENV_VAR = "UCTUNE_REGISTRY"
DB_NAME = "registry.db"


def default_registry_root() -> Path:
    """``$UCTUNE_REGISTRY`` if set, else ``data/models/registry`` under the working directory."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else DEFAULT_ROOT


MOUNT_TABLE = Path("/proc/self/mounts")
"""The mount table read to find the filesystem a registry lives on (Linux; elsewhere absent)."""

ALLOW_NETWORK_FS_VAR = "UCTUNE_REGISTRY_ALLOW_NETWORK_FS"

NETWORK_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "fuse.sshfs", "fuse.glusterfs"}
)
"""Filesystems whose byte-range locks SQLite cannot trust: a registry there can be corrupted by
two writers, and its WAL mode needs shared memory that they do not provide."""


def network_mount(path: Path) -> tuple[str, str] | None:
    """``(mount point, filesystem type)`` when ``path`` lies on a network filesystem, else
    ``None`` (also when no mount table can be read)."""
    try:
        lines = MOUNT_TABLE.read_text().splitlines()
    except OSError:
        return None
    target = path.resolve()
    best: tuple[str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # the table escapes spaces and the like in octal (\040)
        point = fields[1].encode().decode("unicode_escape")
        if target.is_relative_to(point) and (best is None or len(point) > len(best[0])):
            best = (point, fields[2])
    if best is not None and best[1] in NETWORK_FILESYSTEMS:
        return best
    return None
