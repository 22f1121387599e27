"""Processing order: a B-frame is processed after the anchor that follows it.

Frames arrive in display order. B-frames are held until the next I/P frame arrives; that
anchor is processed first (its references are all in the past), then the held B-frames, middle
first as in a B-pyramid, which can now use it as their future reference. Output goes back out in display order. The buffer holds
at most one run of consecutive B-frames, so memory is bounded by the GOP structure, not the
length of the video.
"""
from __future__ import annotations

from typing import List

from ..video.reader import FrameRecord


class ReorderBuffer:
    """``push(record)`` returns the records ready to process, in processing order.
    ``max_held=0`` passes every frame straight through (display order)."""

    def __init__(self, max_held: int = 32):
        self.held: List[FrameRecord] = []
        self.max_held = max_held

    def push(self, record: FrameRecord) -> List[FrameRecord]:
        if record.pict_type == "B" and len(self.held) < self.max_held:
            self.held.append(record)
            return []
        ready = [record] + middle_first(self.held)
        self.held = []
        return ready

    def flush(self) -> List[FrameRecord]:
        ready, self.held = middle_first(self.held), []
        return ready


def middle_first(run: List[FrameRecord]) -> List[FrameRecord]:
    """Order a run of B-frames the way a B-pyramid references them: the middle one first (it is
    the reference of its neighbours), then each half the same way. Without a pyramid B-frames
    refer only to anchors, and any order is right."""
    if len(run) <= 2:
        return list(run)
    mid = len(run) // 2
    return [run[mid]] + middle_first(run[:mid]) + middle_first(run[mid + 1:])
