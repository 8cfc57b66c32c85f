"""Executing a run: the one entry point behind ``uctune run``, ``uctune train`` and ``uctune tune``.

:func:`open_run` starts a run from a config (its data validated and its tuning storage reached
before anything is written) or re-opens an interrupted one, or (``resume="auto"``) whichever of
the two its output directory calls for, so that the same command line can be run again after
its process died (a retried Kubernetes job); :func:`execute_run` opens the Ray
session (a local Ray, or the cluster at ``address``), records the cluster, refuses a GPU device the
cluster cannot serve, and executes the stages not yet done. Callers say what to show through
``announce`` (one line at a time) and the run's progress factory; nothing here prints.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from uctune.config import RunConfig
from uctune.errors import ConfigError
from uctune.runs import is_staging
from uctune.workflow._run import (
    RunContext,
    execute_stages,
    removed_if_nothing_done,
    resume_run,
    start_run,
)

if TYPE_CHECKING:
    from uctune.training import Backend

__all__ = ["Session", "execute_run", "open_run", "holds_run_to_resume"]


@dataclass(frozen=True)
class Session:
    """Where a run's stages execute: the Ray cluster at ``address`` (``None``: ``RAY_ADDRESS`` if
    set, else a local Ray on ``num_cpus`` cores), or this process alone (``sequential``, the
    train stage only). ``verbose`` keeps Ray's and Optuna's log lines; ``library_output`` has the
    stages show the libraries' own output (Ray Tune's trial table) instead of progress lines."""

    address: str | None = None
    num_cpus: int | None = None
    sequential: bool = False
    verbose: bool = False
    library_output: bool = False

    @property
    def backend(self) -> Backend:
        return "sequential" if self.sequential else "ray"


def open_run(
    config: RunConfig | None,
    *,
    command: str,
    stages: Sequence[str],
    session: Session,
    resume: Path | Literal["auto"] | None = None,
    out: Path | None = None,
) -> RunContext:
    """A new run of ``config`` (into ``out`` if given), or the interrupted run at ``resume`` with
    its own config. Bad data, and tuning storage that cannot be reached, stop a new run before its
    directory is created.

    ``resume="auto"`` needs ``config`` and ``out``: the run in ``out`` is resumed when ``out``
    holds one of the same config and command (finished or not: its done stages are skipped), and
    a new run starts there when it holds none (see :func:`holds_run_to_resume`). The returned
    run's ``resumed`` says which.
    """
    if resume == "auto":
        if config is None or out is None:
            raise ConfigError("--resume auto needs --out: the directory to resume or start in")
        resume = out if holds_run_to_resume(out, config, command=command) else None
    if resume is not None:
        return resume_run(resume, backend=session.backend)
    if config is None:
        raise ValueError("open_run needs a config or a run directory to resume")
    if "tune" in stages and config.tune.storage:
        from uctune.storage import check_storage

        check_storage(config.tune.storage)  # before anything is trained or written
    return start_run(config, command=command, out=out, backend=session.backend)


def execute_run(
    run: RunContext,
    stages: Sequence[str],
    *,
    session: Session,
    fresh: bool,
    announce: Callable[[str], None] = lambda line: None,
) -> RunContext:
    """Execute the stages of ``run`` not yet done, on Ray (or sequentially); return the run.

    ``announce`` receives ``run: <dir>`` once the cluster is reached and the devices checked, then
    (on Ray) ``ray: <cpus> CPUs ... on <n> nodes``. A fresh run whose cluster cannot be reached,
    or that fails before any stage leaves resumable work, leaves no directory behind.
    """
    # Imported here: Ray loads with them, and a run that fails its checks never needs it.
    from uctune.cluster import cluster_cpus, cluster_gpus, cluster_nodes, ray_session

    run.verbose = session.library_output
    if "tune" in stages and not session.verbose:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    ray = (
        contextlib.nullcontext()
        if session.sequential
        else ray_session(session.address, num_cpus=session.num_cpus, verbose=session.verbose)
    )
    with removed_if_nothing_done(run, fresh=fresh), ray:
        if session.sequential:
            run.cluster = {"cpus": 1}
        else:
            run.cluster = {
                "cpus": cluster_cpus(),
                "address": session.address or "local",  # the session reads RAY_ADDRESS too
                "nodes": cluster_nodes(),
                "gpus": cluster_gpus(),
            }
            _check_device(run.config, stages)  # before the run is named or anything is fitted
        announce(f"run: {run.run_dir}" + ("" if fresh else " (resumed)"))
        if not session.sequential:
            nodes = len(run.cluster["nodes"])
            gpus = f", {run.cluster['gpus']:g} GPUs" if run.cluster["gpus"] else ""
            announce(f"ray: {run.cluster['cpus']} CPUs{gpus} on {nodes} node{'s' * (nodes != 1)}")
        execute_stages(run, list(stages), fresh=fresh)
    return run


def _check_device(config: RunConfig, stages: Sequence[str]) -> None:
    """Refuse ``device: cuda`` at once on a cluster without a node of ``gpus_per_fit`` GPUs."""
    from uctune.cluster import require_gpus
    from uctune.models import get_spec

    families = set(config.train.families if "train" in stages else ())
    families |= set(config.tune.families if "tune" in stages else ())
    on_gpu = sorted(f for f in families if get_spec(f).gpus_for(config.device, config.gpus_per_fit))
    if on_gpu:
        require_gpus(config.gpus_per_fit, f"device 'cuda' (for {', '.join(on_gpu)})")


def _differences(
    stored: Mapping[str, Any], given: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """The dotted keys whose values differ between two config documents."""
    keys: list[str] = []
    for key in sorted(set(stored) | set(given)):
        a, b = stored.get(key), given.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            keys += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def _is_written_config(path: Path, config: RunConfig) -> bool:
    """Whether ``path`` holds ``config`` as a new run writes it (``config.yaml``)."""
    import yaml

    try:
        return bool(yaml.safe_load(path.read_text()) == config.model_dump(mode="json"))
    except (OSError, yaml.YAMLError):
        return False


def holds_run_to_resume(out: Path, config: RunConfig, *, command: str) -> bool:
    """Whether ``out`` holds a run of ``config`` made by ``uctune <command>`` (resume it), or
    nothing yet (start one there): ``False`` when ``out`` does not exist, or holds only what a
    start killed before its first record leaves (its config, half-written files), which is removed.

    Anything else in ``out`` is refused with a :class:`ConfigError` that says why: a file, a folder
    that is not a uctune run, a run of another command or of a config that differs (the keys
    named), so that a second job pointed at the same folder never continues the first one's run.
    """
    if not out.exists():
        return False
    if not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file, not a run directory")
    record = out / "results.json"
    if not record.is_file():
        # What a start killed before its first record leaves: this very config, written by it,
        # and half-written files. Anything else is not ours to remove.
        written = out / "config.yaml"
        others = [p for p in out.iterdir() if p != written and not is_staging(p)]
        if others or (written.exists() and not _is_written_config(written, config)):
            raise ConfigError(
                f"output directory {str(out)!r} holds files but no uctune run (no results.json); "
                "choose another --out"
            )
        for leftover in out.iterdir():
            leftover.unlink()
        out.rmdir()
        return False
    try:
        results = json.loads(record.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run record {str(record)!r}: {exc}") from exc
    if results.get("command") != command:
        raise ConfigError(
            f"{str(out)!r} holds a `uctune {results.get('command')}` run, not a "
            f"`uctune {command}` run; choose another --out"
        )
    changed = _differences(results.get("config") or {}, config.model_dump(mode="json"))
    if changed:
        raise ConfigError(
            f"{str(out)!r} holds a run of another config (it differs in {', '.join(changed)}); "
            "choose another --out, or --resume it with its own config"
        )
    return True
