"""Where Ray Tune keeps its experiments: a local directory, or a URI pyarrow understands.

On a multi-node cluster the nodes share no disk, so ``tune.storage`` names shared storage, such as
``s3://bucket/prefix``. pyarrow reads S3 settings from the URI's query string, which must stay at
the end when paths are joined: ``s3://bucket/runs?endpoint_override=minio:9000&scheme=http``
(credentials come from the usual ``AWS_*`` variables or the node's role, never from the URI).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from uctune.errors import ConfigError, first_line

__all__ = ["is_uri", "join_storage", "check_storage"]


def is_uri(path: str) -> bool:
    return "://" in path


def join_storage(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended to its path (a URI keeps its query string at the end)."""
    if not is_uri(base):
        return os.path.join(base, *parts)
    split = urlsplit(base)
    path = "/".join([split.path.rstrip("/"), *(p.strip("/") for p in parts)])
    return urlunsplit((split.scheme, split.netloc, path, split.query, split.fragment))


def check_storage(uri: str) -> None:
    """Fail at once, with one line, on storage that pyarrow cannot open or reach (an unknown scheme,
    a missing bucket, a server that does not answer), before any trial runs."""
    if not is_uri(uri):
        return
    import pyarrow.fs

    shown = urlunsplit(urlsplit(uri)._replace(query=""))
    try:
        fs, root = pyarrow.fs.FileSystem.from_uri(uri)
        bucket = root.split("/", 1)[0]
        info = fs.get_file_info(bucket if isinstance(fs, pyarrow.fs.S3FileSystem) else root)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"tune.storage {shown!r} cannot be used: {first_line(exc)}") from None
    if isinstance(fs, pyarrow.fs.S3FileSystem) and info.type == pyarrow.fs.FileType.NotFound:
        raise ConfigError(f"tune.storage {shown!r}: the bucket {bucket!r} does not exist")
