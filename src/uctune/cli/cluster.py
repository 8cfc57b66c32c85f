"""``uctune cluster up``: a real multi-node Ray cluster on this machine, to try the cluster path."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click

__all__ = ["command"]


@click.group("cluster")
def command() -> None:
    """A Ray cluster of several nodes on this machine (loopback only)."""


def _env_lines(env: dict[str, str]) -> list[str]:
    return [f"export {key}={value}" for key, value in sorted(env.items())]


@command.command("up")
@click.option("--workers", type=int, default=2, show_default=True, help="Worker nodes.")
@click.option(
    "--cpus-per-worker", type=int, default=1, show_default=True, help="CPUs each worker offers."
)
@click.option(
    "--gpus-per-worker",
    type=float,
    default=0,
    show_default=True,
    help="GPUs each worker offers Ray (the head offers none).",
)
@click.option(
    "--head-cpus",
    type=int,
    default=1,
    show_default=True,
    help="CPUs the head offers (0: it schedules no work, as on KubeRay).",
)
@click.option(
    "--dashboard-port",
    type=int,
    default=8265,
    show_default=True,
    help="Port of the dashboard and job server on 127.0.0.1.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the `export` lines a driver needs to this file (for `source`).",
)
def up(
    workers: int,
    cpus_per_worker: int,
    gpus_per_worker: float,
    head_cpus: int,
    dashboard_port: int,
    env_file: Path | None,
) -> None:
    """Start a head and worker nodes as separate raylets on 127.0.0.1, each with its own CPUs and
    object store, with token authentication; print how to use it; stop it on Ctrl-C.

    Drivers (`uctune run --address ...`) and `ray job submit` on this machine need the printed
    environment: the token, and the setting that keeps Ray on loopback.
    """
    from uctune.cluster import LocalCluster, loopback_env
    from uctune.errors import ConfigError
    from uctune.runs import write_text

    os.environ.update(loopback_env())  # before Ray is imported (LocalCluster imports it)
    if env_file is not None and env_file.exists():
        raise ConfigError(f"--env-file {str(env_file)!r} already exists; choose another path")
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    cluster = LocalCluster(
        workers=workers,
        cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker,
        head_cpus=head_cpus,
        dashboard_port=dashboard_port,
    )
    gpus = f", {gpus_per_worker:g} GPU" if gpus_per_worker else ""
    click.echo(
        f"starting a head ({head_cpus} CPU) and {workers} worker node(s) "
        f"({cpus_per_worker} CPU{gpus} each) on 127.0.0.1 ...",
        err=True,
    )
    with cluster:
        # After the start: Ray's node set-up installs a SIGTERM handler of its own.
        signal.signal(signal.SIGTERM, _stop)
        lines = _env_lines(cluster.env)
        if env_file is not None:
            write_text(env_file, "\n".join(lines) + "\n")
            os.chmod(env_file, 0o600)  # it holds the token
        click.echo(f"Ray cluster at {cluster.address} ({len(cluster.nodes)} nodes)")
        click.echo(f"dashboard and job server: {cluster.dashboard_url}")
        click.echo("a driver on this machine needs:")
        for line in lines:
            click.echo(f"  {line}")
        click.echo(
            "then: uctune run   (or: ray job submit --address " + cluster.dashboard_url + ")"
        )
        click.echo("Ctrl-C stops the cluster.", err=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        click.echo("stopping the cluster ...", err=True)
    if env_file is not None:
        env_file.unlink(missing_ok=True)
