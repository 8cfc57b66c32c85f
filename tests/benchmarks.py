"""Running and importing the scripts of benchmarks/ from tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).resolve().parents[1] / "benchmarks"


def run_benchmark(
    name: str, *args: str, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python benchmarks/<name>.py ARGS`` with this interpreter, its output captured."""
    return subprocess.run(
        [sys.executable, str(FOLDER / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (its helpers, without running it); benchmarks/ is left
    off ``sys.path`` again, where the script puts it for its own imports."""
    folder = str(FOLDER)
    try:
        spec = importlib.util.spec_from_file_location(name, FOLDER / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    finally:
        while folder in sys.path:
            sys.path.remove(folder)
    return module
