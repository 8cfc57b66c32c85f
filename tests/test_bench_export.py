"""The export benchmark: its figures for a finished run, and its JSON."""

from __future__ import annotations

import json

from tests.benchmarks import run_benchmark
from uctune.config import RunConfig
from uctune.workflow import execute_stages, start_run


def test_the_export_benchmark_times_a_finished_run(tmp_path, tiny_csv):
    config = RunConfig.model_validate(
        {
            "data": str(tiny_csv),
            "train": {"families": ["lr"], "cv_folds": 3},
            "registry": {"path": str(tmp_path / "registry")},
        }
    )
    ctx = start_run(config, command="run", out=tmp_path / "run", backend="sequential")
    execute_stages(ctx, ["train", "register"], fresh=True)
    before = sorted(p.relative_to(ctx.run_dir) for p in ctx.run_dir.rglob("*"))
    out = tmp_path / "export.json"
    proc = run_benchmark(
        "bench_export", "--run-dir", str(ctx.run_dir), "--no-s3", "--out", str(out), timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (figure,) = json.loads(out.read_text())["targets"]
    files = [p for p in ctx.run_dir.rglob("*") if p.is_file()]
    assert figure["kind"] == "folder" and figure["files"] == len(files) + 2  # + db + one model
    assert figure["export_seconds"] > 0 and figure["megabytes"] > 0
    assert f"{figure['files']:5d} files" in proc.stdout
    assert sorted(p.relative_to(ctx.run_dir) for p in ctx.run_dir.rglob("*")) == before  # read only

    proc = run_benchmark("bench_export", "--run-dir", str(tmp_path / "nowhere"), timeout=60)
    assert proc.returncode == 1 and "is not a run directory (no results.json)" in proc.stderr
