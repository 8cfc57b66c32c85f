"""Running the ``uctune`` CLI in-process from a test, as a user would type it."""

from __future__ import annotations

from typing import Any

from uctune.cli.main import main


def run(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """``uctune <argv>``: its exit code, stdout and stderr (``argv`` items are turned into text)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
