"""Decoding packet by packet: a damaged packet costs its own frame, and every frame gets its
display time from a ``DisplayClock``.

``container.decode`` stops at the first error and leaves the frames the decoder still holds
inside it (a cut-short download lost its last GOP that way). Here each packet is decoded on its
own; a rejected packet is counted and its time handed to the clock as lost, a read error ends
the stream with a flush, and what the clock learnt goes into a ``DecodeReport``.
"""
from __future__ import annotations

import bisect
from array import array
from fractions import Fraction
from typing import List, Optional, Sequence

import av
import numpy as np

from ..errors import CodecStyleError
from .decode_report import DecodeReport
from .timeline import DisplayClock


def reason(exc: BaseException) -> str:
    """The short cause of an FFmpeg or OS error (``Invalid data found when processing input``)."""
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]


#: Formats whose stream durations FFmpeg estimates from the bit rate: no evidence of a cut.
_ESTIMATED_DURATION = {"mpegts", "mpeg", "mpegvideo", "h264", "hevc", "m4v"}


def declared_end(container, stream) -> Optional[float]:
    """Seconds at which the container says the video stream ends (its start plus its declared
    duration: MP4's sample table, Matroska's ``DURATION`` tag), or None where it declares none.
    A cut-short Matroska or WebM download plays until the cut, so only this tells it ends early."""
    if container.format.name in _ESTIMATED_DURATION or not stream.time_base:
        return None
    seconds = None
    if stream.duration:
        seconds = float(stream.duration * stream.time_base)
    else:
        tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
        try:
            hours, minutes, secs = str(tag).split(":")
            seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
        except (TypeError, ValueError):
            return None
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    return start + seconds if seconds and seconds > 0 else None


def short_by(end: float, declared: Optional[float], frame_seconds: float) -> bool:
    """Whether video ending at ``end`` stops early for a ``declared`` end: by more than three
    frames and a quarter second (rounding and the last frame's duration never add up to that)."""
    return declared is not None and declared - end > max(0.25, 3 * frame_seconds)


def nothing_decodes(path: str, report: DecodeReport) -> CodecStyleError:
    """The error for a file where no frame decoded."""
    if report.decode_errors:
        return CodecStyleError(f"corrupt video stream in {path}: no frame could be decoded")
    return CodecStyleError(f"no decodable video frames in {path}")


class Decoded:
    """Iterator over ``(frame, display_pts)`` of ``stream``.

    Packets are decoded one by one, so a damaged packet costs its own frame only and a read
    error ends the stream instead of the render; ``clock`` gives display times; ``fed`` counts
    the packets with data that went in.
    """

    def __init__(self, container, stream, path: str, ticks: int, report: DecodeReport, strict: bool):
        self.container, self.stream, self.path = container, stream, path
        self.time_base = stream.time_base or Fraction(1, 90000)
        self.clock = DisplayClock(ticks)
        self.report, self.strict = report, strict
        self.fed = 0
        self.hidden = 0
        self.damaged = 0  # packets the demuxer flagged corrupt or the decoder rejected
        self.times = array("q")  # display times handed out (8 bytes each: films are long)
        self._items = self._run()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def account(self, low: Optional[int], high: Optional[int]) -> None:
        """Put what the clock learnt into the report: how times were obtained, and the frames in
        ``[low, high)`` that never came out (call once the read is complete)."""
        clock = self.clock
        clock.unclaimed(None, high)
        lost = clock.lost + (missing_in_gaps(self.times, clock.lost) if self.damaged else [])
        lost = [t for t in lost if (low is None or t >= low) and (high is None or t < high)]
        self.report.add_lost(lost, self.time_base)
        self.report.fixed_times += clock.fixed
        if clock.mode == "reordered":
            self.report.timestamps = "reordered"
        elif clock.fixed and self.report.timestamps == "stream":
            self.report.timestamps = "numbered"

    def _seconds(self, pts: Optional[int]) -> Optional[float]:
        return None if pts is None else round(float(pts * self.time_base), 3)

    def _run(self):
        packets = self.container.demux(self.stream)
        cc = self.stream.codec_context
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:  # the data stops, or cannot be read any further
                if self.strict:
                    raise CodecStyleError(f"corrupt video stream in {self.path} ({reason(exc)})") from None
                self.report.decode_errors += 1
                self.report.ends_early = self._seconds(self.clock.last)
                packet = None  # flush what the decoder holds
            if packet is not None and packet.size and packet.is_discard:
                self.hidden += 1  # an edit list hides its frame: not a frame of the film
            elif packet is not None and packet.size:
                self.fed += 1
                self.damaged += bool(packet.is_corrupt)
                self.clock.fed(packet.pts)
            try:
                decoded = cc.decode(packet)
            except av.error.EOFError:
                decoded = []
            except av.error.FFmpegError as exc:
                if self.strict:
                    at = self._seconds(packet.pts) if packet is not None else None
                    raise CodecStyleError(f"corrupt video stream in {self.path}"
                                          f"{f' at {at:.2f} s' if at is not None else ''} ({reason(exc)})") from None
                self.report.decode_errors += 1
                self.damaged += 1
                if packet is not None and packet.size and not packet.is_discard:
                    self.clock.failed(packet.pts)
                continue
            for frame in decoded:
                for item in self.clock.push(frame.pts, frame):
                    self.times.append(item[1])
                    yield item
            if packet is None:
                break
        for item in self.clock.finish():
            self.times.append(item[1])
            yield item


def missing_in_gaps(times: Sequence[int], known: List[int]) -> List[int]:
    """Times of frames missing from a damaged stream whose demuxer dropped them without a trace
    (MPEG-TS): gaps that are a whole number (2 or more) of the stream's usual frame step, less
    the times already ``known`` lost. Only used where damage was seen: a variable-frame-rate
    stream has such gaps by design."""
    if len(times) < 3:
        return []
    steps = np.diff(np.asarray(times, np.int64))
    step = float(np.median(steps))
    if step <= 0:
        return []
    missing = []
    known_set = sorted(known)
    for start, gap in zip(times, steps.tolist()):
        k = int(round(gap / step))
        if k >= 2 and abs(gap - k * step) <= 0.02 * step:
            for j in range(1, k):
                t = int(round(start + j * step))
                near = bisect.bisect_left(known_set, t - step / 2)
                if near < len(known_set) and known_set[near] <= t + step / 2:
                    continue
                missing.append(t)
    return missing
