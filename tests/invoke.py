"""Running the ``uctune`` CLI from a test as a user would type it: in-process (:func:`run`), or
as the installed console script in a fresh process (:func:`uctune`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from uctune.cli.main import main


def run(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """``uctune <argv>``: its exit code, stdout and stderr (``argv`` items are turned into text)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def uctune() -> list[str]:
    """The command line that starts the installed ``uctune`` console script."""
    exe = Path(sys.executable).with_name("uctune")
    return [str(exe)] if exe.exists() else [shutil.which("uctune") or "uctune"]
