"""Progress of a film rendered by several workers: overall frames, fps and ETA, and each segment's state.

On a terminal one line is redrawn in place:

    film.mp4 [########        ] 3120/15000 frames  4.1 fps  ETA 48:17  seg 12/60 (3 reused)  #13 45% #14 12%

In a log (not a terminal) a line is written every ``log_every`` seconds and one per finished
segment. The rate counts only frames rendered in this run (reused segments are not work), so
the ETA holds on a resumed render too. Workers send events (see ``tasks``): ``start``,
``frames``, ``done``.
"""
from __future__ import annotations

import time
from typing import Dict, Iterable, Optional, TextIO

from ..progress import StatusLine, bar_text


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
        self.made: Dict[int, int] = {}  # frames a segment reported (fewer than planned where frames are lost)
        self.workers: Dict[int, str] = {}
        self.finished = set(self.reused)
        self.status = StatusLine(stream, enabled, log_every)
        self.width = width
        self.start = None  # set when the first segment starts (sampling is not counted)

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
            self.made[index] = int(event[2])
            self.running[index] = min(int(event[2]), self.planned.get(index, event[2]))
        elif kind == "done":
            self.running.pop(index, None)
            self.finished.add(index)
            if self.status.enabled and not self.status.tty:
                self.status.write(f"{self.label} segment {index + 1}/{len(self.planned)} done "
                            f"({self.made.get(index, self.planned.get(index, 0))} frames, "
                            f"{self.workers.get(index, '?')})")
        self.draw()

    def line(self) -> str:
        reused = f" ({len(self.reused)} reused)" if self.reused else ""
        text = (f"{self.label} {bar_text(self.done, self.total, self.rate(), self.width)}  "
                f"seg {len(self.finished)}/{len(self.planned)}{reused}")
        states = [f"#{i + 1} {100 * n // max(1, self.planned.get(i, 1))}%" for i, n in sorted(self.running.items())]
        return text + ("  " + " ".join(states[:6]) if states else "")

    def draw(self, force: bool = False) -> None:
        self.status.draw(self.line, force)

    def note(self, text: str) -> None:
        """A one-off message (sampling, joining, resuming) on its own line."""
        status = self.status
        if status.enabled:
            if status.tty:
                status.stream.write("\r\x1b[K")
            status.stream.write(f"{self.label} {text}\n")
            status.stream.flush()

    def close(self) -> None:
        self.status.finish(self.line)

    def abandon(self) -> None:
        self.status.abandon()
