"""Where uctune runs: connecting to Ray (local, ``RAY_ADDRESS``, ``--address``), which nodes did the
work, and a real multi-node cluster on one machine for trying the cluster path and for tests.

Importing this package does not import Ray: a loopback cluster's settings must be in the environment
before Ray is first imported (see :mod:`uctune.cluster._local`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from uctune.cluster._local import LOOPBACK_ENV, LocalCluster, LocalNode, free_port, loopback_env

if TYPE_CHECKING:
    from uctune.cluster._connect import (
        cluster_cpus,
        cluster_gpus,
        cluster_nodes,
        current_node,
        ensure_ray,
        ray_session,
        require_gpus,
    )

__all__ = [
    "LOOPBACK_ENV",
    "LocalCluster",
    "LocalNode",
    "cluster_cpus",
    "cluster_gpus",
    "cluster_nodes",
    "current_node",
    "ensure_ray",
    "free_port",
    "loopback_env",
    "ray_session",
    "require_gpus",
]

_CONNECT = {
    "cluster_cpus",
    "cluster_gpus",
    "cluster_nodes",
    "current_node",
    "ensure_ray",
    "ray_session",
    "require_gpus",
}


def __getattr__(name: str) -> Any:
    if name in _CONNECT:
        return getattr(import_module("uctune.cluster._connect"), name)
    raise AttributeError(f"module 'uctune.cluster' has no attribute {name!r}")
