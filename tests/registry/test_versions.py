"""Semantic versions: the canonical MAJOR.MINOR.PATCH only, compared as numbers."""

from __future__ import annotations

import pytest
from packaging.version import Version

from uctune.errors import ConfigError
from uctune.registry import next_version, parse_version


@pytest.mark.parametrize("text", ["1.0.0", "0.9.12", "10.0.3"])
def test_canonical_versions_parse(text):
    assert str(parse_version(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "1.0",
        "1",
        "v1.0.0",
        "01.0.0",
        "1.0.0rc1",
        "1.0.0.post1",
        "1!1.0.0",
        "1.0.0+x",
        "",
        "a.b.c",
        " 1.0.0",
    ],
)
def test_bad_version_strings_are_one_line_errors(text):
    with pytest.raises(
        ConfigError, match=r"must be MAJOR\.MINOR\.PATCH \(e\.g\. 1\.2\.0\), got"
    ) as err:
        parse_version(text)
    assert "\n" not in str(err.value) and repr(text) in str(err.value)


def test_next_version_rules():
    assert next_version(None) == Version("1.0.0")
    assert next_version(None, "major") == Version("1.0.0")
    assert next_version(Version("1.0.2")) == Version("1.0.3")
    assert next_version(Version("1.0.2"), "minor") == Version("1.1.0")
    assert next_version(Version("1.0.2"), "major") == Version("2.0.0")
    # numbers, not text: 1.0.9 -> 1.0.10, and 1.0.10 sorts after 1.0.9
    assert next_version(Version("1.0.9")) == Version("1.0.10") > Version("1.0.9")


def test_unknown_bump():
    with pytest.raises(
        ConfigError, match="version bump must be one of major, minor, patch; got 'huge'"
    ):
        next_version(Version("1.0.0"), "huge")
