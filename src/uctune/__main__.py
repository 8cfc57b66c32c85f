"""``python -m uctune``: the same as the ``uctune`` command (handy as a ``ray job submit`` entrypoint)."""

from uctune.cli.main import entry_point

entry_point()
