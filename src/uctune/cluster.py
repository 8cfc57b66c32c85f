"""Connecting to Ray: a local instance on all cores by default, a cluster by address.

The address is chosen, in order, by the ``address`` argument (the CLI's ``--address``), the
``RAY_ADDRESS`` environment variable (set by ``ray job submit`` and by KubeRay), and otherwise a fresh
local Ray. ``address="auto"`` joins a cluster started on this machine with ``ray start``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray

__all__ = ["ray_session", "ensure_ray", "cluster_cpus"]

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


def ensure_ray(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Start or join Ray once for this process and leave it running (the Python API's behaviour)."""
    if not ray.is_initialized():
        ray.init(**_init_kwargs(address, num_cpus, False, None))


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
    ray.init(**_init_kwargs(address, num_cpus, verbose, runtime_env))
    try:
        yield
    finally:
        ray.shutdown()


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster offers (logical, as Ray schedules them)."""
    return int(ray.cluster_resources().get("CPU", 1))
