"""The project's exceptions: one base class, a few kinds.

Every message states the rule that was broken and the value received, on one line, so the CLI can
print it as is.
"""

from __future__ import annotations

__all__ = [
    "UctuneError",
    "DataError",
    "ConfigError",
    "NotFoundError",
    "IntegrityError",
    "TrainingError",
    "ClusterError",
    "first_line",
]


def first_line(exc: BaseException, default: str | None = None) -> str:
    """The first line of ``exc``'s message (library errors often run to many lines); ``default``
    (else the exception's type name) when the message is empty."""
    lines = str(exc).strip().splitlines()
    if lines:
        return lines[0]
    return type(exc).__name__ if default is None else default


class UctuneError(Exception):
    """Base class of every error uctune raises on purpose."""


class DataError(UctuneError):
    """The input data break the feature-table schema."""


class ConfigError(UctuneError):
    """A setting, flag or config file holds a value that is not allowed."""


class NotFoundError(UctuneError):
    """A file, model, alias or run that was asked for does not exist."""


class IntegrityError(UctuneError):
    """Stored state does not match what was recorded (checksum, size, schema version, path)."""


class TrainingError(UctuneError):
    """Training could not produce a model (for example, every fold failed)."""


class ClusterError(UctuneError):
    """Ray could not be started or reached."""
