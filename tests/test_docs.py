"""The README and docs/: a short front door, links that resolve, a configuration page that matches
the config models, and no dated measurements (those live in benchmarks/HISTORY.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from uctune._configdoc import COMMAND, render_config_reference
from uctune.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")

# A date: ISO (2026-12-07) or a month and a year (Dec 2026, December 2026).
DATE = re.compile(
    r"\b(?:20\d\d-[01]\d-[0-3]\d"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+20\d\d)\b"
)
# A measurement: a number with a unit of time, memory, share or speed-up, or a score with at least
# two decimals (0.531, 1.07).
MEASUREMENT = re.compile(
    r"\d(?:[\d,]*\d)?(?:\.\d+)?\s?(?:ms|s|sec|seconds|min|minutes|h|hours|GiB|MiB|GB|MB|KB|CPU-s)"
    r"(?![A-Za-z])"
    r"|\d(?:\.\d+)?\s?(?:%|×)"
    r"|\b\d+\.\d{2,}\b"
)


def _prose(path: Path) -> list[tuple[int, str]]:
    """The lines of ``path`` outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of ``path``."""
    seen: dict[str, int] = {}
    anchors = set()
    for _, line in _prose(path):
        match = HEADING.match(line)
        if match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(2).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def dated_measurements(lines: list[tuple[int, str]]) -> list[str]:
    """The lines that put a date next to a measured figure."""
    return [
        f"line {number}: {line.strip()[:100]}"
        for number, line in lines
        if DATE.search(line) and MEASUREMENT.search(DATE.sub(" ", line))
    ]


def test_readme_is_a_short_front_door() -> None:
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md must have at most {README_MAX_LINES} lines, got {len(lines)}: "
        "move the detail to a page in docs/"
    )
    for command in ("make run", "make test"):
        assert re.search(rf"^{command}\b", text, re.MULTILINE), f"README.md must show `{command}`"


def test_every_docs_page_is_linked_from_the_readme() -> None:
    text = README.read_text()
    missing = [p.name for p in DOCS if f"(docs/{p.name})" not in text]
    assert not missing, f"README.md must link every page of docs/, missing {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for number, line in _prose(page):
        for target in LINK.findall(CODE_SPAN.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            resolved = (page.parent / file).resolve() if file else page
            if not resolved.exists():
                broken.append(f"line {number}: {target} (no file {resolved})")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"line {number}: {target} (no heading #{anchor})")
    assert not broken, f"{page.name} has broken links: {broken}"


def test_configuration_page_is_generated_from_the_config_models() -> None:
    page = ROOT / "docs" / "configuration.md"
    assert page.read_text() == render_config_reference(), (
        f"docs/configuration.md differs from the config models: run `{COMMAND}`"
    )


def test_configuration_page_names_every_key() -> None:
    text = render_config_reference()

    def keys(model: type, prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            out.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                out += keys(annotation, f"{prefix}{name}.")
        return out

    missing = [k for k in keys(RunConfig, "") if f"| `{k}` |" not in text]
    assert not missing, f"the configuration page has no row for {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_examples_are_valid_run_configs(page: Path) -> None:
    blocks = re.findall(r"^```yaml\n(.*?)^```", page.read_text(), re.MULTILINE | re.DOTALL)
    for block in blocks:
        RunConfig.model_validate(yaml.safe_load(block))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dated_measurements(page: Path) -> None:
    found = dated_measurements(_prose(page))
    assert not found, (
        f"{page.name} carries dated measurements; they belong in benchmarks/HISTORY.md: {found}"
    )


@pytest.mark.parametrize(
    ("line", "dated"),
    [
        # Lines of the README before the benchmark figures moved out of it.
        (
            "| NSE build, whole 2022-2026 archive (`make bench-nse`, 2026-11-29) | idle machine: 40 s "
            "wall, peak memory 2.6 GiB |",
            True,
        ),
        (
            "| cluster, 24 trials × 5 folds (2026-11-29, 2 rounds) | **cluster / local 1.07** |",
            True,
        ),
        ("calibration and the ensemble (2026-11-30, shared machine) | test PR-AUC 0.637", True),
        ("the whole job measured in Dec 2026 took 15.9 min", True),
        ("Measured on 2026-11-26: 1.86× on 2 CPUs", True),
        # Dates that are part of how to use the data, not measurements.
        ("$ uctune data sample --rows 200000 --before 2026-05-01 --seed 0 --out s.parquet", False),
        ("**The July-August 2026 results events are the final holdout**", False),
        ("on or after `--before` (it refuses a date after 2026-07-01).", False),
        ("a forest of 50 trees of depth 6 costs about 0.3 s a row", False),
    ],
)
def test_dated_measurement_check(line: str, dated: bool) -> None:
    assert bool(dated_measurements([(1, line)])) is dated
