"""Semantic versions of registered models: parsed and compared with ``packaging``, never as text."""

from __future__ import annotations

from typing import Literal, cast

from packaging.version import InvalidVersion, Version

from uctune.errors import ConfigError

__all__ = ["Bump", "BUMPS", "FIRST_VERSION", "check_bump", "parse_version", "next_version"]

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("major", "minor", "patch")
FIRST_VERSION = Version("1.0.0")


def parse_version(text: str) -> Version:
    """``MAJOR.MINOR.PATCH`` (e.g. ``1.2.0``) as a :class:`~packaging.version.Version`.

    Only the canonical three-number form is accepted: no ``v`` prefix, leading zeros, pre-, post-,
    dev- or local parts, so that one version has exactly one spelling in the registry.
    """
    rule = "a model version must be MAJOR.MINOR.PATCH (e.g. 1.2.0)"
    if not isinstance(text, str):
        raise ConfigError(f"{rule}, got {text!r}")
    try:
        version = Version(text)
    except InvalidVersion:
        raise ConfigError(f"{rule}, got {text!r}") from None
    if len(version.release) != 3 or text != ".".join(str(n) for n in version.release):
        raise ConfigError(f"{rule}, got {text!r}")
    return version


def check_bump(bump: str) -> Bump:
    """``bump`` if it is one of :data:`BUMPS`, else a :class:`~uctune.errors.ConfigError`."""
    if bump not in BUMPS:
        raise ConfigError(f"version bump must be one of {', '.join(BUMPS)}; got {bump!r}")
    return cast(Bump, bump)


def next_version(latest: Version | None, bump: str = "patch") -> Version:
    """The version after ``latest`` (``None``: the type's first model, 1.0.0)."""
    step = check_bump(bump)
    if latest is None:
        return FIRST_VERSION
    major, minor, patch = latest.release[:3]
    if step == "major":
        return Version(f"{major + 1}.0.0")
    if step == "minor":
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{patch + 1}")
