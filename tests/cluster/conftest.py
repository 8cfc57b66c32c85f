"""A real multi-node Ray for the cluster tests: a head and two worker nodes, each a raylet of its own
with one CPU, on loopback; and helpers to submit jobs to it through Ray's Jobs API."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from uctune._environ import environment
from uctune.cluster import LocalCluster

REPO = Path(__file__).resolve().parents[2]
RUNTIME_ENV = REPO / "cluster" / "runtime-env.yaml"
FORBIDDEN = "workers-must-not-write-here"

# A killed node is noticed in about a second instead of Ray's default fifteen.
FAST_HEALTH_CHECKS = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}


def node_env(forbidden_registry: Path) -> dict[str, str]:
    """The environment the nodes start with: a default registry that no test's driver uses, so a
    process on a node that wrote a registry would show."""
    return {"UCTUNE_REGISTRY": str(forbidden_registry)}


@contextmanager
def started_cluster(tmp: Path, **kwargs: Any) -> Iterator[LocalCluster]:
    """A LocalCluster whose nodes run with :func:`node_env`; stopped (every process it started)
    when the block ends, failed or not."""
    cluster = LocalCluster(system_config=FAST_HEALTH_CHECKS, **kwargs)
    with environment(node_env(tmp / FORBIDDEN)):
        cluster.start()
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="session")
def multinode_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("multinode")


@pytest.fixture(scope="session")
def multinode(multinode_root) -> Iterator[LocalCluster]:
    """Head (1 CPU) + two workers (1 CPU each): three nodes, three raylets."""
    with started_cluster(multinode_root, workers=2) as cluster:
        yield cluster


@pytest.fixture()
def workers_registry(multinode_root) -> Path:
    """The default registry of every process on the nodes (never a driver's): must stay absent."""
    return multinode_root / FORBIDDEN


def driver_env(cluster: LocalCluster, **extra: str) -> dict[str, str]:
    """The environment of a driver started on this machine against ``cluster``."""
    return {**os.environ, **cluster.env, **extra}


def nodes_running_trials(cluster: LocalCluster) -> set[str]:
    """The ids of the nodes on which a Ray Tune trial is running now, from Ray's state API: a
    trial runs as its actor's ``train`` task (``cv_trial.train``)."""
    from ray.util.state import list_tasks

    with environment(cluster.env):
        tasks = list_tasks(
            address=cluster.address,
            filters=[("state", "=", "RUNNING")],
            limit=1000,
            raise_on_missing_output=False,
        )
    return {t.node_id for t in tasks if t.name.endswith(".train") and t.node_id}


def job_client(cluster: LocalCluster) -> Any:
    from ray.job_submission import JobSubmissionClient

    with environment(cluster.env):
        return JobSubmissionClient(cluster.dashboard_url)


def wait_for_job(client: Any, job_id: str, timeout: float = 420.0) -> Any:
    """Poll a job until it ends; return its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get_job_status(job_id)
        if status.is_terminal():
            return status
        time.sleep(0.5)
    client.stop_job(job_id)
    raise AssertionError(
        f"job {job_id} did not finish in {timeout:.0f}s:\n{client.get_job_logs(job_id)}"
    )


def runtime_env(**env_vars: str) -> dict[str, Any]:
    """cluster/runtime-env.yaml as a user submits it, with some variables set for the test."""
    import yaml

    env = yaml.safe_load(RUNTIME_ENV.read_text())
    env["env_vars"] = {**env.get("env_vars", {}), **env_vars}
    return env


@dataclass(frozen=True)
class S3:
    endpoint: str  # host:port
    bucket: str
    credentials: Mapping[str, str]

    def uri(self, prefix: str) -> str:
        """``s3://bucket/prefix`` with the settings pyarrow needs for this server."""
        return f"s3://{self.bucket}/{prefix}?endpoint_override={self.endpoint}&scheme=http&region=us-east-1"

    def keys(self, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            region_name="us-east-1",
            **{
                "aws_access_key_id": self.credentials["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": self.credentials["AWS_SECRET_ACCESS_KEY"],
            },
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3]:
    """A real S3-compatible server (moto's standalone server) on loopback, with one bucket."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from uctune.cluster import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    credentials = {"AWS_ACCESS_KEY_ID": "uctune-test", "AWS_SECRET_ACCESS_KEY": "uctune-test"}
    try:
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket="uctune")
        yield S3(endpoint=f"127.0.0.1:{port}", bucket="uctune", credentials=credentials)
    finally:
        server.stop()
