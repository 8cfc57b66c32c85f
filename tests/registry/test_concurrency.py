"""Several OS processes saving to one registry at once: no duplicate version, no lost row.

Eight separate Python processes (as several drivers sharing a registry would be) wait for one
start signal, then each creates the registry object on a root that does not exist yet and saves 25
models of the same type, as fast as they can.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from packaging.version import Version

from uctune.registry import ModelRegistry

PROCESSES = 8
SAVES = 25

_SAVER = textwrap.dedent(
    """
    import json, os, sys, time
    from uctune.registry import ModelRegistry

    root, go, worker, saves = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    model = {"weights": list(range(200)), "worker": worker}  # any picklable object will do
    open(f"{go}.ready-{worker}", "w").close()
    while not os.path.exists(go):
        time.sleep(0.002)
    registry = ModelRegistry(root)
    ids = []
    for i in range(saves):
        model["i"] = i
        ids.append(registry.save_model(model, f"w{worker}-{i}", "concurrent", {"f1": i / saves}))
    print(json.dumps(ids))
    """
)


def test_eight_processes_saving_the_same_type(tmp_path):
    root = tmp_path / "shared" / "registry"  # created by whichever process gets there first
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(root), str(go), str(w), str(SAVES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.ready-*"))) < PROCESSES:  # every one imported and waiting
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()
    by_worker: list[list[int]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        by_worker.append(json.loads(out))
    returned = [i for ids in by_worker for i in ids]
    # They really ran at once: saves of different processes interleave (one process after
    # another would switch writers only PROCESSES - 1 times).
    writers = [
        worker for _, worker in sorted((i, w) for w, ids in enumerate(by_worker) for i in ids)
    ]
    switches = sum(a != b for a, b in zip(writers, writers[1:], strict=False))
    assert switches > 2 * PROCESSES, writers

    registry = ModelRegistry(root, create=False)
    entries = registry.entries()
    total = PROCESSES * SAVES
    assert len(entries) == total
    assert sorted(returned) == sorted(e.model_id for e in entries)  # every save kept, once
    versions = sorted(Version(e.version) for e in entries)
    assert len(set(versions)) == total
    assert versions == [Version(f"1.0.{i}") for i in range(total)]  # no gap, no duplicate
    assert len({e.model_name for e in entries}) == total
    report = registry.verify()
    assert report.ok, report.problems
    assert report.models_checked == total
    assert len(list(root.glob("*.joblib"))) == total and not list(root.glob(".tmp-*"))
    for entry in entries[::20]:
        loaded = registry.load(entry)
        worker, i = entry.model_name[1:].split("-")
        assert (loaded["worker"], loaded["i"]) == (int(worker), int(i))
