"""The shape of the source tree that keeps it readable: short modules, imports a reader can follow,
and a CLI that parses, prints and exits while the work happens in the packages it fronts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "uctune"
MODULES = sorted(SRC.rglob("*.py"))
MAX_LINES = 530  # about 500: a module longer than that holds more than one concept

# What the CLI may import from uctune: its own modules, the workflow that runs the stages, and the
# packages its own commands front.
CLI_MAY_IMPORT = {
    "cli",
    "workflow",
    "registry",
    "data",
    "cluster",
    "scoring",
    "config",
    "errors",
    "runs",
}


def _uctune_imports(path: Path) -> list[str]:
    """Every ``uctune.<package>`` this module imports, anywhere in it (functions included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [n.split(".")[1] for n in names if n.startswith("uctune.") and "." in n]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_much_over_500_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines"


def test_no_import_is_built_from_a_string():
    """``importlib.import_module`` only with a literal module name: grep and an IDE follow it."""
    built = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and not (node.args and isinstance(node.args[0], ast.Constant))
            ):
                built.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not built, f"imports built from strings at {', '.join(built)}"


def test_the_cli_imports_only_the_packages_its_commands_front():
    wrong = {
        f"{path.relative_to(SRC)}: uctune.{package}"
        for path in sorted((SRC / "cli").glob("*.py"))
        for package in _uctune_imports(path)
        if package not in CLI_MAY_IMPORT
    }
    assert not wrong, sorted(wrong)
