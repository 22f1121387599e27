"""Progress of a film rendered in segments: one model, several views.

``FilmProgress`` counts frames of all segments from the workers' events (see ``tasks``:
``start``, ``frames``, ``done``) and the render's own stage changes, and hands a *snapshot* to
every listener: the terminal bar (``codecstyle.progress.TerminalBar``, tqdm) and, for the web
server, the job's event stream (``render_film(on_progress=...)``). Both read the same numbers:

    {"stage": "rendering", "frames_done": 3120, "frames_total": 15000, "fps": 4.1,
     "eta_seconds": 2897.0, "segments": {"done": 12, "total": 60, "reused": 3,
     "running": {"13": 45, "14": 12}}, "message": null}

``stage`` is ``planning``, ``sampling`` (normalisation statistics), ``rendering``, ``joining``
or ``done``; ``running`` maps 1-based segment numbers to their percent done. The rate counts
only frames rendered in this run (reused segments are not work), so the ETA holds on a resumed
render too.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, Iterable, List, Optional

Listener = Callable[[dict], None]

#: Seconds between snapshots sent to listeners for frame counts alone (stage changes, notes and
#: finished segments are sent at once).
EMIT_EVERY = 0.25


class FilmProgress:
    """Counts frames of all segments; ``event(e)`` takes a worker's event, ``stage(name)`` and
    ``note(text)`` the render's own steps. ``planned`` maps segment index -> planned frames;
    ``reused`` lists segments an earlier run finished."""

    def __init__(self, planned: Dict[int, int], reused: Iterable[int], listeners: Iterable[Listener] = (),
                 clock: Callable[[], float] = time.perf_counter):
        self.planned = dict(planned)
        self.reused = set(reused)
        self.total = sum(self.planned.values())
        self.base = sum(self.planned[i] for i in self.reused)
        self.running: Dict[int, int] = {}
        self.made: Dict[int, int] = {}  # frames a segment reported (fewer than planned where frames are lost)
        self.workers: Dict[int, str] = {}
        self.finished = set(self.reused)
        self.listeners: List[Listener] = list(listeners)
        self.clock = clock
        self.start: Optional[float] = None  # set when the first segment starts (sampling is not counted)
        self.current = "planning"
        self.message: Optional[str] = None
        self._sent = float("-inf")

    @property
    def done(self) -> int:
        finished = sum(self.planned[i] for i in self.finished)
        return finished + sum(self.running.values())

    def rate(self) -> float:
        """Frames per second rendered in this run, since the first segment started."""
        if self.start is None:
            return 0.0
        elapsed = self.clock() - self.start
        return (self.done - self.base) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> Optional[float]:
        """Seconds left at the current rate (None before there is a rate)."""
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def snapshot(self) -> dict:
        eta = self.eta()
        return {
            "stage": self.current, "frames_done": self.done, "frames_total": self.total,
            "fps": round(self.rate(), 3), "eta_seconds": None if eta is None else round(eta, 1),
            "segments": {"done": len(self.finished), "total": len(self.planned), "reused": len(self.reused),
                         "running": {str(i + 1): 100 * n // max(1, self.planned.get(i, 1))
                                     for i, n in sorted(self.running.items())}},
            "message": self.message,
        }

    def event(self, event: tuple) -> None:
        kind, index = event[0], event[1]
        force = False
        if kind == "start":
            if self.start is None:
                self.start = self.clock()
            self.stage("rendering", emit=False)
            self.running[index] = 0
            self.workers[index] = event[2]
        elif kind == "frames" and index in self.running:
            self.made[index] = int(event[2])
            self.running[index] = min(int(event[2]), self.planned.get(index, event[2]))
        elif kind == "done":
            self.running.pop(index, None)
            self.finished.add(index)
            self.emit(force=True, finished=self.segment_line(index))
            return
        self.emit(force)

    def segment_line(self, index: int) -> str:
        """``segment 3/16 done (250 frames, worker-2)``: a finished segment, for logs."""
        return (f"segment {index + 1}/{len(self.planned)} done "
                f"({self.made.get(index, self.planned.get(index, 0))} frames, {self.workers.get(index, '?')})")

    def stage(self, name: str, emit: bool = True) -> None:
        if name != self.current:
            self.current = name
            self.message = None
            if emit:
                self.emit(force=True)

    def note(self, text: str) -> None:
        """A one-off message (sampling, joining, resuming): kept in the snapshot until the next
        stage, and sent at once."""
        self.message = text
        self.emit(force=True)

    def emit(self, force: bool = False, finished: Optional[str] = None) -> None:
        """Send a snapshot to the listeners (at most every ``EMIT_EVERY`` seconds unless
        ``force``); ``finished``: the line of a segment that just finished, sent once as the
        snapshot's ``finished`` (views that log print it)."""
        now = self.clock()
        if not force and now - self._sent < EMIT_EVERY:
            return
        self._sent = now
        snap = self.snapshot()
        if finished:
            snap["finished"] = finished
        for listener in self.listeners:
            listener(snap)
