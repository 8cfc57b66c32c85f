"""Where Ray Tune keeps its experiments: a local directory, or a URI pyarrow understands.

On a multi-node cluster the nodes share no disk, so ``tune.storage`` names shared storage, such as
``s3://bucket/prefix``. pyarrow reads S3 settings from the URI's query string, which must stay at
the end when paths are joined: ``s3://bucket/runs?endpoint_override=minio:9000&scheme=http``
(credentials come from the usual ``AWS_*`` variables or the node's role, never from the URI).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from uctune.errors import ConfigError, first_line

__all__ = [
    "check_storage",
    "filesystem",
    "get_file",
    "is_uri",
    "join_storage",
    "put_file",
    "shown",
]


def is_uri(path: str) -> bool:
    return "://" in path


def join_storage(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended to its path (a URI keeps its query string at the end)."""
    if not is_uri(base):
        return os.path.join(base, *parts)
    split = urlsplit(base)
    path = "/".join([split.path.rstrip("/"), *(p.strip("/") for p in parts)])
    return urlunsplit((split.scheme, split.netloc, path, split.query, split.fragment))


def check_storage(uri: str, what: str = "tune.storage") -> None:
    """Fail at once, with one line, on storage that pyarrow cannot open or reach (an unknown scheme,
    a missing bucket, a server that does not answer), before any trial runs."""
    if not is_uri(uri):
        return
    import pyarrow.fs

    where = shown(uri)
    try:
        fs, root = pyarrow.fs.FileSystem.from_uri(uri)
        bucket = root.split("/", 1)[0]
        info = fs.get_file_info(bucket if isinstance(fs, pyarrow.fs.S3FileSystem) else root)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what} {where!r} cannot be used: {first_line(exc)}") from None
    if isinstance(fs, pyarrow.fs.S3FileSystem) and info.type == pyarrow.fs.FileType.NotFound:
        raise ConfigError(f"{what} {where!r}: the bucket {bucket!r} does not exist")


_CHUNK = 1 << 20


def shown(uri: str) -> str:
    """``uri`` as messages show it: without its query string (endpoints, regions)."""
    return urlunsplit(urlsplit(uri)._replace(query="")) if is_uri(uri) else uri


def filesystem(target: str) -> tuple[Any, str]:
    """pyarrow's filesystem for ``target`` (a URI, or a local path) and the path inside it; a
    target pyarrow cannot open is a one-line :class:`ConfigError`."""
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(target if is_uri(target) else os.path.abspath(target))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{shown(target)!r} cannot be used: {first_line(exc)}") from None


def put_file(fs: Any, source: Path, path: str) -> tuple[str, int]:
    """Copy the local file ``source`` to ``path`` on ``fs``; return its sha256 and size as read."""
    import pyarrow.fs

    if isinstance(fs, pyarrow.fs.LocalFileSystem):
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as src, fs.open_output_stream(path) as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def get_file(fs: Any, path: str, target: Path) -> tuple[str, int]:
    """Copy ``path`` on ``fs`` to the local file ``target``; return its sha256 and size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with fs.open_input_stream(path) as src, target.open("wb") as out:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size
