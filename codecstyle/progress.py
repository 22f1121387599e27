"""A dependency-free progress line on stderr: frames done, fps and ETA."""
from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(max(0, round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """``update(done)`` redraws ``label [#####     ] 120/250 frames  9.5 fps  ETA 00:14``.

    On a terminal it redraws in place at most 10 times a second; otherwise (a log file, CI) it
    writes a plain line every ``log_every`` seconds so logs stay short.
    """

    def __init__(self, total: int, label: str = "", stream: Optional[TextIO] = None,
                 enabled: bool = True, log_every: float = 5.0, width: int = 28):
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.width = width
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.done = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        fps = self.done / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * self.width)
            bar = "[" + "#" * filled + " " * (self.width - filled) + "]"
            eta = format_seconds((self.total - self.done) / fps) if fps > 0 else "--:--"
            return f"{self.label} {bar} {self.done}/{self.total} frames {fps:5.1f} fps  ETA {eta}"
        return f"{self.label} {self.done} frames {fps:5.1f} fps  elapsed {format_seconds(elapsed)}"

    def update(self, done: int) -> None:
        self.done = done
        if self.total and done > self.total:
            self.total = done  # the container's frame count was an estimate
        if not self.enabled:
            return
        now = time.perf_counter()
        interval = 0.1 if self.tty else self.log_every
        if now - self._last_draw < interval:
            return
        self._last_draw = now
        self._write(self.line())

    def close(self) -> None:
        if self.enabled:
            self._write(self.line())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def abandon(self) -> None:
        """End the line without a final report, so an error message starts on a fresh line."""
        if self.enabled and self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
