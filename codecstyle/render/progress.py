"""Progress of a film rendered by several workers: overall frames, fps and ETA, and each segment's state.

On a terminal one line is redrawn in place:

    film.mp4 [########        ] 3120/15000 frames  4.1 fps  ETA 48:17  seg 12/60 (3 reused)  #13 45% #14 12%

In a log (not a terminal) a line is written every ``log_every`` seconds and one per finished
segment. The rate counts only frames rendered in this run (reused segments are not work), so
the ETA holds on a resumed render too. Workers send events (see ``tasks``): ``start``,
``frames``, ``done``.
"""
from __future__ import annotations

import sys
import time
from typing import Dict, Iterable, Optional, TextIO

from ..progress import format_seconds


class FilmProgress:
    """Counts frames of all segments; ``event(e)`` takes a worker's event."""

    def __init__(self, label: str, planned: Dict[int, int], reused: Iterable[int], enabled: bool = True,
                 stream: Optional[TextIO] = None, log_every: float = 5.0, width: int = 24):
        self.label = label
        self.planned = dict(planned)
        self.reused = set(reused)
        self.total = sum(self.planned.values())
        self.base = sum(self.planned[i] for i in self.reused)
        self.running: Dict[int, int] = {}
        self.workers: Dict[int, str] = {}
        self.finished = set(self.reused)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.width = width
        self.start = None  # set when the first segment starts (sampling is not counted)
        self._last = 0.0

    @property
    def done(self) -> int:
        finished = sum(self.planned[i] for i in self.finished)
        return finished + sum(self.running.values())

    def rate(self) -> float:
        if self.start is None:
            return 0.0
        elapsed = time.perf_counter() - self.start
        return (self.done - self.base) / elapsed if elapsed > 0 else 0.0

    def event(self, event: tuple) -> None:
        kind, index = event[0], event[1]
        if kind == "start":
            if self.start is None:
                self.start = time.perf_counter()
            self.running[index] = 0
            self.workers[index] = event[2]
        elif kind == "frames" and index in self.running:
            self.running[index] = min(int(event[2]), self.planned.get(index, event[2]))
        elif kind == "done":
            self.running.pop(index, None)
            self.finished.add(index)
            if self.enabled and not self.tty:
                self._write(f"{self.label} segment {index + 1}/{len(self.planned)} done "
                            f"({self.planned.get(index, 0)} frames, {self.workers.get(index, '?')})")
        self.draw()

    def line(self) -> str:
        rate = self.rate()
        done = self.done
        frac = min(1.0, done / self.total) if self.total else 1.0
        filled = int(frac * self.width)
        bar = "[" + "#" * filled + " " * (self.width - filled) + "]"
        eta = format_seconds((self.total - done) / rate) if rate > 0 else "--:--"
        reused = f" ({len(self.reused)} reused)" if self.reused else ""
        text = (f"{self.label} {bar} {done}/{self.total} frames {rate:5.1f} fps  ETA {eta}  "
                f"seg {len(self.finished)}/{len(self.planned)}{reused}")
        states = [f"#{i + 1} {100 * n // max(1, self.planned.get(i, 1))}%" for i, n in sorted(self.running.items())]
        return text + ("  " + " ".join(states[:6]) if states else "")

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < (0.1 if self.tty else self.log_every):
            return
        self._last = now
        self._write(self.line())

    def note(self, text: str) -> None:
        """A one-off message (sampling, joining, resuming) on its own line."""
        if self.enabled:
            if self.tty:
                self.stream.write("\r\x1b[K")
            self.stream.write(f"{self.label} {text}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw(force=True)
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()

    def abandon(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
