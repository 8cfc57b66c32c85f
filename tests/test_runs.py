from __future__ import annotations

import json
import os
import stat

import pandas as pd
import pytest

from uctune.runs import atomic_path, write_frame, write_json


def test_writes_are_atomic_with_the_usual_permissions(tmp_path):
    write_json(tmp_path / "r.json", {"x": float("nan"), "y": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": None, "y": [1, 2]}
    umask = os.umask(0)
    os.umask(umask)
    # like open(): 0666 less the umask (mkstemp alone would give 0600)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz", "a.parquet"])
def test_frames_by_suffix(tmp_path, name):
    frame = pd.DataFrame({"a": [1.5, 2.25], "b": ["x", "y"]})
    write_frame(frame, tmp_path / name)
    read = (
        pd.read_parquet(tmp_path / name)
        if name.endswith("parquet")
        else pd.read_csv(tmp_path / name)
    )
    pd.testing.assert_frame_equal(read, frame, check_dtype=False)
