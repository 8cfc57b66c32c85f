"""The loopback multi-node cluster itself: what it starts, what it refuses, and `uctune cluster up`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.invoke import uctune
from uctune.cluster import LOOPBACK_ENV, LocalCluster, free_port
from uctune.errors import ClusterError

pytestmark = [pytest.mark.ray]


def test_the_fixture_cluster_has_three_nodes_each_its_own_raylet(multinode):
    nodes = multinode.nodes
    assert [n.head for n in nodes] == [True, False, False]
    assert len({n.node_id for n in nodes}) == len({n.raylet_pid for n in nodes}) == 3
    assert all(n.cpus == 1 for n in nodes)
    assert multinode.address.startswith("127.0.0.1:")
    assert multinode.dashboard_url.startswith("http://127.0.0.1:")
    assert multinode.env["RAY_ADDRESS"] == multinode.address
    assert multinode.env["RAY_AUTH_MODE"] == "token" and multinode.env["RAY_AUTH_TOKEN"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": -1}, "workers must be at least 0, got -1"),
        ({"cpus_per_worker": 0}, "cpus_per_worker must be at least 1, got 0"),
        ({"head_cpus": -2}, "head_cpus must be at least 0, got -2"),
        ({"workers": 0, "head_cpus": 0}, "a cluster needs at least one CPU"),
        ({"object_store_mb": 10}, "object_store_mb must be at least 80"),
    ],
)
def test_impossible_sizes_are_refused(kwargs, message):
    with pytest.raises(ClusterError, match=message):
        LocalCluster(**kwargs)


def test_a_taken_dashboard_port_is_refused_before_anything_starts(multinode):
    port = int(multinode.dashboard_url.rsplit(":", 1)[1])
    with pytest.raises(ClusterError, match=f"the dashboard port {port} on 127.0.0.1 is already"):
        LocalCluster(workers=0, dashboard_port=port).start()


def test_ray_imported_before_the_loopback_settings_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in LOOPBACK_ENV and "RAY_AUTH" not in k}
    code = "import ray\nfrom uctune.cluster import LocalCluster\nLocalCluster(workers=0).start()"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "before ray is imported; export uctune.cluster.loopback_env() first" in proc.stderr


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_cluster_up_serves_a_driver_and_stops_on_sigterm(tmp_path):
    port, env_file = free_port(), tmp_path / "cluster.env"
    up = subprocess.Popen(
        [*uctune(), "cluster", "up", "--workers", "1", "--dashboard-port", str(port)]
        + ["--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert env_file.exists(), up.communicate(timeout=30)[0] if up.poll() is not None else ""
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"  # it holds the token
        exported = dict(
            line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
        )
        assert exported["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
        probe = "import ray; ray.init(logging_level='ERROR'); print(len(ray.nodes()))"
        driver = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, **exported},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert driver.stdout.strip() == "2", driver.stderr
        assert _listening(port)
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    assert up.returncode == 0, output
    assert f"dashboard and job server: http://127.0.0.1:{port}" in output
    assert "stopping the cluster" in output
    assert not env_file.exists()
    assert not _listening(port)


@pytest.mark.slow
def test_jobs_run_on_their_own_cluster_while_other_rays_run_here(ray_cluster, multinode):
    """Other Rays on this machine (the session's local one, and one started after the cluster)
    take Ray's default agent port and name themselves the machine's latest cluster; the cluster's
    job server must still accept jobs, and their drivers must join this cluster."""
    from tests.cluster.conftest import job_client, wait_for_job

    probe = "import ray; ray.init(); print('nodes', len(ray.nodes()))"
    with LocalCluster(workers=0):
        client = job_client(multinode)
        job = client.submit_job(entrypoint=f'python -c "{probe}"')
        status = wait_for_job(client, job, timeout=120)
    logs = client.get_job_logs(job)
    assert str(status) == "SUCCEEDED", logs
    assert "nodes 3" in logs
