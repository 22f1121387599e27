"""Display times for decoded frames, when the file's own timestamps cannot be trusted.

A decoder hands out frames in display order, each carrying the pts of the packet it came from.
In a well-made file those are the display times, strictly increasing. Real files break this:

- muxers that write pts equal to dts on a stream with B-frames: frames come out carrying
  *decode-order* times (0, 1536, 1024, 2048, 512, ...);
- AVIs with packed B-frames (DivX/Xvid): 1, 2, 3, 5, 4, 6, 8, 7, ...;
- raw streams without timestamps (None), or the same pts on several packets;
- damaged files, where some packets never become frames.

``DisplayClock`` keeps the pool of pts of the packets fed to the decoder (its *times*). In a
well-made file, the frame coming out always carries the smallest time still in the pool: every
earlier display time has already been handed out. Where a frame carries another time, either
the stream's times are in decode order, or the frame holding the smallest time was lost. The
clock then looks a few frames ahead: if their own times are not increasing, the stream is
*reordered* and from then on each frame gets the smallest time in the pool (the k-th frame out,
the k-th display time); if they are increasing, the frames that never came out are *lost* and
their times leave the pool, so no later frame is shifted. Frames without any usable time are
*numbered*: the previous time plus one frame duration.

One case stays approximate: a frame of a reordered stream lost *without* a decoder error (a
damaged packed-B-frame AVI). Its display time cannot be told from the decode-order times, so
the frames after it get the next times, one frame early, and the last time is the one left
over. The loss is still counted, and reported at the time its packet carried (within the
reorder depth of where it was).

Pure logic: the clock sees integers and opaque payloads (the decoded frames), never a file.
"""
from __future__ import annotations

import heapq
from collections import Counter
from typing import Any, List, Optional, Tuple

#: Frames looked at, after the first disagreement, to tell a reordered stream from a lost frame.
LOOKAHEAD = 8


class DisplayClock:
    """Turns packets' and frames' pts into strictly increasing display times.

    - frame_ticks: one frame's duration in time-base units (>= 1), used where a time is made up.
    Feed every packet that goes into the decoder with ``fed(pts)`` (``failed(pts)`` when the
    decoder rejected it), every frame that comes out with ``push(own_pts, payload)``, and call
    ``finish()`` at the end. ``push`` and ``finish`` return ``[(payload, display_pts)]`` in
    display order; a payload may be held back for up to ``LOOKAHEAD`` frames.
    """

    def __init__(self, frame_ticks: int):
        self.frame_ticks = max(1, int(frame_ticks))
        self.mode = "stream"         # stream | reordered (once reordered, it stays so)
        self.fixed = 0               # frames whose time had to be made up
        self.lost: List[int] = []    # times of frames that never came out
        self._pool: List[int] = []   # heap of packet times not yet handed out
        self._gone: Counter = Counter()  # times taken out of the pool lazily
        self._held: List[Tuple[Optional[int], Any]] = []
        self._last: Optional[int] = None
        self._unseen: Counter = Counter()  # packet times no frame has carried yet

    # -- input -----------------------------------------------------------------------------

    def fed(self, pts: Optional[int]) -> None:
        """A packet with data went into the decoder."""
        if pts is not None:
            heapq.heappush(self._pool, int(pts))
            self._count(int(pts), +1)

    def failed(self, pts: Optional[int]) -> None:
        """The decoder rejected that packet: its frame will not come out."""
        if pts is not None:
            self._gone[int(pts)] += 1
            self._seen(int(pts))
            self.lost.append(int(pts))

    def push(self, own_pts: Optional[int], payload: Any) -> List[Tuple[Any, int]]:
        """A decoded frame came out, carrying ``own_pts`` (None: none)."""
        if own_pts is not None:
            self._seen(own_pts)
        if self._held:
            self._held.append((own_pts, payload))
            if len(self._held) > LOOKAHEAD:
                return self._decide()
            return []
        smallest = self._smallest()
        if self.mode == "stream" and own_pts is not None and smallest is not None and own_pts != smallest:
            self._held.append((own_pts, payload))
            return []
        return [(payload, self._assign(own_pts))]

    def finish(self) -> List[Tuple[Any, int]]:
        """No more frames: release the held ones."""
        return self._decide() if self._held else []

    @property
    def last(self) -> Optional[int]:
        """The last display time handed out (None: none yet)."""
        return self._last

    def unclaimed(self, low: Optional[int] = None, high: Optional[int] = None) -> List[int]:
        """Times in ``[low, high)`` still in the pool (fed, never handed out): after ``finish``,
        the frames that never came out. They are counted as lost and leave the pool."""
        left = []
        while True:
            smallest = self._smallest()
            if smallest is None or (high is not None and smallest >= high):
                break
            self._pop()
            if low is None or smallest >= low:
                left.append(smallest)
        if self.mode == "reordered":  # the left-over times are the last ones, not the lost frames'
            carried = sorted(t for t, n in self._unseen.items() for _ in range(max(0, n))
                             if (low is None or t >= low) and (high is None or t < high))
            if len(carried) == len(left):
                left = carried
        self.lost.extend(left)
        return left

    # -- output ----------------------------------------------------------------------------

    def _decide(self) -> List[Tuple[Any, int]]:
        """Held frames: reordered if their own times (after the last handed out) do not increase,
        else the pool's smaller times belong to lost frames."""
        owns = [own for own, _ in self._held if own is not None]
        previous = [self._last] if self._last is not None else []
        sequence = previous + owns
        increasing = all(b > a for a, b in zip(sequence, sequence[1:]))
        if not increasing:
            self.mode = "reordered"
        held, self._held = self._held, []
        out = []
        for own, payload in held:
            if self.mode == "stream" and own is not None:
                self._drop_lost_before(own)
            out.append((payload, self._assign(own)))
        return out

    def _assign(self, own_pts: Optional[int]) -> int:
        """The display time of the next frame out, taken from the pool."""
        if self.mode == "reordered":
            candidate = self._pop()
        else:
            candidate = own_pts
            if own_pts is not None and self._smallest() == own_pts:
                self._pop()
            elif own_pts is None:
                candidate = self._pop() if self._smallest() is not None and (
                    self._last is None or self._smallest() > self._last) else None
        if candidate is None or (self._last is not None and candidate <= self._last):
            self.fixed += 1
            candidate = 0 if self._last is None else self._last + self.frame_ticks
        self._last = candidate
        return candidate

    def _drop_lost_before(self, own: int) -> None:
        while True:
            smallest = self._smallest()
            if smallest is None or smallest >= own:
                return
            self._pop()
            self.lost.append(smallest)

    def _seen(self, pts: int) -> None:
        self._count(pts, -1)

    def _count(self, pts: int, step: int) -> None:
        """Packets fed minus frames out per time (a frame may come out before the clock hears of
        its packet: the count goes below zero until then)."""
        value = self._unseen[pts] + step
        if value:
            self._unseen[pts] = value
        else:
            del self._unseen[pts]

    def _smallest(self) -> Optional[int]:
        while self._pool and self._gone[self._pool[0]]:
            self._gone[self._pool[0]] -= 1
            heapq.heappop(self._pool)
        return self._pool[0] if self._pool else None

    def _pop(self) -> Optional[int]:
        return heapq.heappop(self._pool) if self._smallest() is not None else None


def frame_ticks(rate, time_base) -> int:
    """One frame's duration in ``time_base`` units for a frame ``rate`` (None: 25 fps)."""
    try:
        ticks = 1 / (float(rate) * float(time_base))
    except (TypeError, ValueError, ZeroDivisionError):
        ticks = 1 / (25 * float(time_base)) if time_base else 1
    return max(1, int(round(ticks)))
