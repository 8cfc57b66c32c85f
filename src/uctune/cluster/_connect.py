"""Connecting to Ray: a local instance on all cores by default, a cluster by address.

The address is chosen, in order, by the ``address`` argument (the CLI's ``--address``), the
``RAY_ADDRESS`` environment variable (set by ``ray job submit`` and by KubeRay), and otherwise a fresh
local Ray. ``address="auto"`` joins a cluster started on this machine with ``ray start``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

from uctune.errors import ClusterError, first_line

__all__ = [
    "ray_session",
    "ensure_ray",
    "cluster_cpus",
    "cluster_gpus",
    "cluster_nodes",
    "current_node",
    "require_gpus",
]

logger = logging.getLogger(__name__)


def _init_kwargs(
    address: str | None, num_cpus: int | None, verbose: bool, runtime_env: dict[str, Any] | None
) -> dict[str, Any]:
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    kwargs: dict[str, Any] = {
        "address": target,
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.WARNING,
        "runtime_env": runtime_env,
    }
    if target == "local":
        kwargs.update(num_cpus=num_cpus, include_dashboard=False)
    if not verbose:
        # Ray warns on every start that token authentication is on; that is the intended setup.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
            logging.ERROR
        )
    logger.info("connecting to Ray at %s", target)
    return kwargs


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nobody listens at: Ray itself retries for many minutes."""
    if address in ("local", "auto"):
        return
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(f"Ray address must be host:port, 'auto' or 'local', got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot connect to Ray at {address!r}: {reason.lower()}") from None


def _init(kwargs: dict[str, Any]) -> None:
    _probe(kwargs["address"])
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = first_line(exc)
        hint = ""
        if "auth" in str(exc).lower() and os.environ.get("RAY_AUTH_MODE") != "token":
            hint = " (the cluster uses token authentication: set RAY_AUTH_MODE=token)"
        raise ClusterError(
            f"cannot connect to Ray at {kwargs['address']!r}: {first}{hint}"
        ) from None


def ensure_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Start or join Ray once for this process and leave it running (the Python API's behaviour)."""
    if not ray.is_initialized():
        _init(_init_kwargs(address, num_cpus, False, None))


@contextmanager
def ray_session(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    verbose: bool = False,
    runtime_env: dict[str, Any] | None = None,
) -> Iterator[None]:
    """Use the running Ray if there is one, else connect or start one, and shut down what we started."""
    if ray.is_initialized():
        yield
        return
    _init(_init_kwargs(address, num_cpus, verbose, runtime_env))
    try:
        yield
    finally:
        ray.shutdown()


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster offers (logical, as Ray schedules them)."""
    return int(ray.cluster_resources().get("CPU", 1))


def cluster_gpus() -> float:
    """GPUs the connected Ray cluster offers, all nodes together."""
    return float(ray.cluster_resources().get("GPU", 0))


def require_gpus(gpus_per_fit: float, what: str) -> None:
    """Refuse, in one line, a cluster where no live node has ``gpus_per_fit`` GPUs: Ray would
    otherwise leave such fits waiting forever."""
    per_node = [float(n.get("Resources", {}).get("GPU", 0)) for n in ray.nodes() if n.get("Alive")]
    most = max(per_node, default=0.0)
    if most < gpus_per_fit:
        has = "no GPU" if most == 0 else f"at most {most:g} GPU(s) on a node"
        raise ClusterError(
            f"{what} asks Ray for {gpus_per_fit:g} GPU(s) per fit, but the cluster "
            f"({len(per_node)} node(s)) has {has}; use --device cpu or a cluster with GPUs"
        )


def cluster_nodes() -> list[dict[str, Any]]:
    """The connected cluster's live nodes: ``{"node_id", "cpus", "head"}``, the head first."""
    nodes = [
        {
            "node_id": n["NodeID"],
            "cpus": int(n.get("Resources", {}).get("CPU", 0)),
            "head": "node:__internal_head__" in n.get("Resources", {}),
        }
        for n in ray.nodes()
        if n.get("Alive")
    ]
    return sorted(nodes, key=lambda n: (not n["head"], n["node_id"]))


def current_node() -> str | None:
    """The Ray node id of the process running this code (a task, an actor or a driver); ``None``
    outside Ray."""
    if not ray.is_initialized():
        return None
    return str(ray.get_runtime_context().get_node_id())
