"""The terminal's view of a render's progress: a tqdm bar on stderr, fed by progress snapshots.

Snapshots come from ``render.progress.FilmProgress`` (the same ones the web server streams to
the page). On a terminal, one tqdm bar is redrawn in place:

    film.mp4  21%|████▏               | 3120/15000 frames  4.1 fps  ETA 48:17  seg 12/60 (3 reused)  #13 45%

When stderr is not a terminal (a log file, CI) there is no bar: a plain line per finished
segment and per note, and a status line at most every ``log_every`` seconds, so logs stay short.
"""
from __future__ import annotations

import shutil
import sys
import time
from typing import Optional, TextIO

BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n}/{total} frames{postfix}"


def format_seconds(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour up."""
    seconds = int(max(0, round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def status_text(snap: dict) -> str:
    """``4.1 fps  ETA 48:17  seg 12/60 (3 reused)  #13 45%``: a snapshot's figures."""
    eta = snap.get("eta_seconds")
    segments = snap.get("segments") or {}
    text = f"{snap.get('fps', 0.0):.1f} fps  ETA {format_seconds(eta) if eta is not None else '--:--'}"
    if segments.get("total", 1) > 1 or segments.get("reused"):
        text += f"  seg {segments.get('done', 0)}/{segments.get('total', 0)}"
        if segments.get("reused"):
            text += f" ({segments['reused']} reused)"
    running = [f"#{k} {v}%" for k, v in (segments.get("running") or {}).items()]
    if running and segments.get("total", 1) > 1:
        text += "  " + " ".join(running[:6])
    return text


class TerminalBar:
    """Call it with each snapshot; ``close()`` ends the bar with the final figures, ``abandon()``
    ends it without them (so an error message starts on a fresh line)."""

    def __init__(self, label: str, enabled: bool = True, stream: Optional[TextIO] = None,
                 log_every: float = 30.0):
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every = log_every
        self.bar = None
        self.last: Optional[dict] = None
        self._message: Optional[str] = None
        self._logged = time.perf_counter()

    def __call__(self, snap: dict) -> None:
        if not self.enabled:
            return
        self.last = snap
        message = snap.get("message")
        if message and message != self._message:
            self._line(f"{self.label} {message}")
        self._message = message
        if snap.get("stage") != "rendering":
            return
        if self.tty:
            self._draw(snap)
        elif snap.get("finished"):
            self._line(f"{self.label} {snap['finished']}")
        elif time.perf_counter() - self._logged >= self.log_every:
            self._line(f"{self.label} {snap['frames_done']}/{snap['frames_total']} frames  {status_text(snap)}")

    def _draw(self, snap: dict) -> None:
        if self.bar is None:
            from tqdm import tqdm

            sized = shutil.get_terminal_size((0, 0)).columns > 0  # a pty nobody sized reports 0 columns
            self.bar = tqdm(total=snap["frames_total"], initial=snap["frames_done"], desc=self.label,
                            file=self.stream, bar_format=BAR_FORMAT, dynamic_ncols=sized,
                            ncols=None if sized else 100, leave=True)
        if snap["frames_done"] > self.bar.total:
            self.bar.total = snap["frames_done"]  # the container's frame count was an estimate
        self.bar.n = snap["frames_done"]
        self.bar.set_postfix_str(status_text(snap), refresh=False)
        self.bar.refresh()

    def _line(self, text: str) -> None:
        self._logged = time.perf_counter()
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        """The final figures (a last line in a log), and the bar ended."""
        if not self.enabled or self.last is None:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif not self.tty and self.last.get("stage") == "rendering":
            snap = self.last
            self._line(f"{self.label} {snap['frames_done']}/{snap['frames_total']} frames  {status_text(snap)}")

    def abandon(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
