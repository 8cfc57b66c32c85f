"""A real multi-node Ray cluster on one machine: a head and worker nodes as separate raylets, each
with its own CPUs and object store, all on loopback.

It is what ``uctune cluster up`` starts for people who want to try the cluster path on a laptop, what
the tests run folds and trials on, and what the cluster benchmark compares against a one-node Ray.
It is built on Ray's own ``ray.cluster_utils.Cluster``, which starts each node's processes the way
``ray start`` does.

Three environment variables make it work, and every process that joins it needs them (the nodes the
cluster starts inherit them; :attr:`LocalCluster.env` gives them to drivers started by hand):

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: without it, Ray replaces a ``127.0.0.1`` address by the
  machine's outward-facing IP, which a loopback cluster does not listen on;
- ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN``: Ray 2.60's token authentication, with a fresh token
  unless one is set already;
- ``RAY_USAGE_STATS_ENABLED=0``: a test cluster reports nothing anywhere.

The loopback setting must be in the environment before ``ray`` is first imported (Ray reads it once);
``uctune cluster up`` and the test suite set it at start-up.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from uctune.errors import ClusterError, first_line

__all__ = ["LOOPBACK_ENV", "LocalCluster", "LocalNode", "free_port", "loopback_env"]

logger = logging.getLogger(__name__)

LOOPBACK_ENV: Mapping[str, str] = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}
"""What keeps a one-machine Ray cluster on loopback and quiet (see the module's docstring)."""

_HOST = "127.0.0.1"


def loopback_env(token: str | None = None) -> dict[str, str]:
    """The variables a process needs to start or join a loopback cluster with token authentication
    (the token: ``token``, else ``$RAY_AUTH_TOKEN``, else a new random one)."""
    token = token or os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(16)
    return {**LOOPBACK_ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


@contextmanager
def _this_python_first_on_path() -> Iterator[None]:
    """Nodes started in this block find this installation's ``uctune`` and ``python`` first on
    their PATH, as in a cluster image: a job's entrypoint ``uctune run`` runs the same uctune."""
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


@dataclass(frozen=True)
class LocalNode:
    """One node of a :class:`LocalCluster`: its Ray node id, its raylet's pid and its CPUs."""

    node_id: str
    raylet_pid: int
    cpus: int
    head: bool


class LocalCluster:
    """A head plus ``workers`` worker nodes on this machine, on loopback, with token authentication.

    ``head_cpus`` and ``cpus_per_worker`` are the logical CPUs each node offers Ray (a head with 0
    CPUs schedules no work, as on KubeRay). ``gpus_per_worker`` is the GPUs each worker offers (the
    head offers none): on one machine every raylet would otherwise claim all its GPUs. They are
    Ray's logical resources, so a machine without GPUs can rehearse a GPU cluster's scheduling
    (XGBoost then falls back to its CPU code). The head runs the dashboard and Ray's job server on
    ``127.0.0.1:dashboard_port`` (a free port by default), so ``ray job submit`` works against it.
    ``system_config`` goes to the head (e.g. shorter health checks, so that a killed node is noticed
    sooner). Use it as a context manager, or call :meth:`start` and :meth:`shutdown`.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        cpus_per_worker: int = 1,
        head_cpus: int = 1,
        gpus_per_worker: float = 0,
        dashboard_port: int | None = None,
        object_store_mb: int = 512,
        system_config: Mapping[str, Any] | None = None,
    ) -> None:
        if workers < 0:
            raise ClusterError(f"workers must be at least 0, got {workers}")
        if cpus_per_worker < 1:
            raise ClusterError(f"cpus_per_worker must be at least 1, got {cpus_per_worker}")
        if head_cpus < 0:
            raise ClusterError(f"head_cpus must be at least 0, got {head_cpus}")
        if gpus_per_worker < 0:
            raise ClusterError(f"gpus_per_worker must be at least 0, got {gpus_per_worker}")
        if head_cpus + workers * cpus_per_worker < 1:
            raise ClusterError("a cluster needs at least one CPU: give the head or a worker one")
        if object_store_mb < 80:
            raise ClusterError(
                f"object_store_mb must be at least 80 (Ray's minimum), got {object_store_mb}"
            )
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.head_cpus = head_cpus
        self.gpus_per_worker = gpus_per_worker
        self.dashboard_port = dashboard_port or free_port()
        self.object_store_bytes = object_store_mb * 1024 * 1024
        self.system_config = dict(system_config or {})
        self._cluster: Any = None
        self._temp_dir: str | None = None
        self._nodes: list[Any] = []
        self._killed: set[int] = set()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> LocalCluster:
        """Start the head and the workers and wait until every node has registered."""
        if self._cluster is not None:
            raise ClusterError("this local cluster is already started")
        wanted = loopback_env()  # its token is $RAY_AUTH_TOKEN when set: only a new one differs
        missing = [k for k, v in wanted.items() if os.environ.get(k) != v]
        if missing and "ray" in sys.modules:
            # Ray reads these once, on import: set after it, they reach the nodes but not this process.
            raise ClusterError(
                f"a local cluster needs {', '.join(missing)} in the environment before ray is "
                "imported; export uctune.cluster.loopback_env() first, or use `uctune cluster up`"
            )
        if not _port_free(self.dashboard_port):
            raise ClusterError(
                f"the dashboard port {self.dashboard_port} on {_HOST} is already in use; "
                "choose another (uctune cluster up --dashboard-port)"
            )
        os.environ.update(wanted)
        from ray._private.utils import write_ray_address
        from ray.cluster_utils import Cluster

        # A temp dir of its own: a job's driver finds its cluster through the head's temp dir
        # ("auto"), and the default one names whichever Ray on this machine started last.
        self._temp_dir = tempfile.mkdtemp(prefix="uctune-ray-")
        head_args: dict[str, Any] = {
            "temp_dir": self._temp_dir,
            "num_cpus": self.head_cpus,
            "num_gpus": 0,  # each raylet would otherwise claim every GPU of this machine
            "node_ip_address": _HOST,
            "include_dashboard": True,
            "dashboard_host": _HOST,
            "dashboard_port": self.dashboard_port,
            # Ray's fixed default (52365) is taken by any other Ray on this machine, and a head
            # whose agent cannot listen accepts no jobs ("No available agent to submit job").
            "dashboard_agent_listen_port": free_port(),
            "object_store_memory": self.object_store_bytes,
        }
        if self.system_config:
            head_args["_system_config"] = self.system_config
        try:
            with _this_python_first_on_path():
                self._cluster = Cluster(
                    initialize_head=True, connect=False, head_node_args=head_args
                )
                self._nodes = [self._cluster.head_node]
                write_ray_address(self._cluster.gcs_address, self._temp_dir)
                for _ in range(self.workers):
                    self._nodes.append(self._add(self.cpus_per_worker))
            self._cluster.wait_for_nodes()
        except Exception as exc:
            self.shutdown()
            raise ClusterError(f"cannot start a local Ray cluster: {first_line(exc)}") from exc
        logger.info(
            "local Ray cluster at %s: head + %d worker(s), dashboard %s",
            self.address,
            self.workers,
            self.dashboard_url,
        )
        return self

    def _add(self, cpus: int) -> Any:
        return self._cluster.add_node(
            num_cpus=cpus,
            num_gpus=self.gpus_per_worker,
            node_ip_address=_HOST,
            object_store_memory=self.object_store_bytes,
            temp_dir=self._temp_dir,
        )

    def add_worker(self, cpus: int | None = None) -> LocalNode:
        """Start one more worker node and wait until it has registered."""
        with _this_python_first_on_path():
            node = self._add(cpus or self.cpus_per_worker)
        self._nodes.append(node)
        self._started().wait_for_nodes()
        return self._describe(node)

    def shutdown(self) -> None:
        """Stop every process this cluster started (Ray's own shutdown of each node)."""
        try:
            if self._cluster is not None:
                self._cluster.shutdown()
        finally:
            self._cluster = None
            self._nodes = []
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- what drivers need ----------------------------------------------------------------------
    def _started(self) -> Any:
        if self._cluster is None:
            raise ClusterError("the local cluster is not running; start() it first")
        return self._cluster

    @property
    def address(self) -> str:
        """The head's GCS address, ``127.0.0.1:<port>``: ``--address`` / ``RAY_ADDRESS``."""
        return str(self._started().address)

    @property
    def dashboard_url(self) -> str:
        """Where the dashboard and the job server listen: ``ray job submit --address`` takes it."""
        return f"http://{_HOST}:{self.dashboard_port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment a driver or ``ray job submit`` on this machine needs to join the cluster."""
        return {**loopback_env(), "RAY_ADDRESS": self.address}

    # -- nodes --------------------------------------------------------------------------------
    def _describe(self, node: Any) -> LocalNode:
        raylet = node.all_processes["raylet"][0].process
        return LocalNode(
            node_id=node.node_id,
            raylet_pid=int(raylet.pid),
            cpus=int(node._ray_params.num_cpus or 0),
            head=node is self._started().head_node,
        )

    @property
    def nodes(self) -> list[LocalNode]:
        """Every node started and not killed, the head first."""
        described = [self._describe(n) for n in self._nodes]
        return [n for n in described if n.raylet_pid not in self._killed]

    @property
    def worker_nodes(self) -> list[LocalNode]:
        return [n for n in self.nodes if not n.head]

    def kill_raylet(self, node: LocalNode) -> None:
        """SIGKILL one worker node's raylet, by its pid: a node dying as a machine would."""
        if node.head:
            raise ClusterError("kill_raylet takes a worker node; killing the head ends the cluster")
        os.kill(node.raylet_pid, signal.SIGKILL)
        self._killed.add(node.raylet_pid)
