"""A dependency-free progress line on stderr: frames done, fps and ETA."""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(max(0, round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def bar_text(done: int, total: int, fps: float, width: int) -> str:
    """``[#####     ] 120/250 frames  9.5 fps  ETA 00:14`` (the ETA from ``fps``)."""
    frac = min(1.0, done / total) if total else 1.0
    filled = int(frac * width)
    eta = format_seconds((total - done) / fps) if fps > 0 else "--:--"
    return f"[{'#' * filled}{' ' * (width - filled)}] {done}/{total} frames {fps:5.1f} fps  ETA {eta}"


class StatusLine:
    """One status line on ``stream`` (default stderr). On a terminal it is redrawn in place at
    most 10 times a second; otherwise (a log file, CI) a plain line is written at most every
    ``log_every`` seconds, so logs stay short."""

    def __init__(self, stream: Optional[TextIO] = None, enabled: bool = True, log_every: float = 5.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self._last = 0.0

    def draw(self, line: Callable[[], str], force: bool = False) -> None:
        """Show ``line()`` unless the last draw was too recent (``force`` always draws); the text
        is only built when it is shown."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < (0.1 if self.tty else self.log_every):
            return
        self._last = now
        self.write(line())

    def write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, line: Callable[[], str]) -> None:
        """The final report, and the line ended."""
        if self.enabled:
            self.write(line())
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def abandon(self) -> None:
        """End the line without a final report, so an error message starts on a fresh line."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


class ProgressBar:
    """``update(done)`` redraws ``label [#####     ] 120/250 frames  9.5 fps  ETA 00:14`` on a
    ``StatusLine`` (in place on a terminal, a line every ``log_every`` seconds in a log)."""

    def __init__(self, total: int, label: str = "", stream: Optional[TextIO] = None,
                 enabled: bool = True, log_every: float = 5.0, width: int = 28):
        self.total = max(0, int(total))
        self.label = label
        self.status = StatusLine(stream, enabled, log_every)
        self.width = width
        self.start = time.perf_counter()
        self.done = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        fps = self.done / elapsed if elapsed > 0 else 0.0
        if self.total:
            return f"{self.label} {bar_text(self.done, self.total, fps, self.width)}"
        return f"{self.label} {self.done} frames {fps:5.1f} fps  elapsed {format_seconds(elapsed)}"

    def update(self, done: int) -> None:
        self.done = done
        if self.total and done > self.total:
            self.total = done  # the container's frame count was an estimate
        self.status.draw(self.line)

    def close(self) -> None:
        self.status.finish(self.line)

    def abandon(self) -> None:
        """End the line without a final report, so an error message starts on a fresh line."""
        if self.done:
            self.status.abandon()
