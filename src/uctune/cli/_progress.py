"""A compact, single-line progress display for long work (stderr; plain lines when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressLine"]


class ProgressLine:
    """``progress(done, total, what)`` callable: rewrites one line on a terminal, else logs sparsely."""

    def __init__(self, title: str, *, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.title = title
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = every
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int, what: str) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        eta = elapsed / done * (total - done) if done else float("nan")
        eta_text = f" eta {eta:4.0f}s" if done < total and done else ""
        line = f"{self.title}: {done}/{total} [{elapsed:4.0f}s{eta_text}] {what}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:160])
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
        elif done >= total or now - self._last >= self.every:
            self._last = now
            self.stream.write(line + "\n")
            self.stream.flush()
