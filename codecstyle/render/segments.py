"""Planning a film's segments from its packets, without decoding a frame.

A segment is a window of presentation timestamps, ``start_pts <= pts < end_pts``, that starts
at a keyframe. Windows tile the film: every frame falls in exactly one, so segment boundaries
can neither lose nor duplicate a frame. Demuxing gives every video packet's pts, dts and key
flag, which is all the plan needs:

- frames in display order are the packets' pts, sorted;
- a keyframe starts a *closed* GOP when no packet after it in decode order is displayed before
  it. Otherwise it has leading frames (an open GOP: B-frames that also reference the GOP
  before). Cuts go at closed keyframes. A file whose keyframes are all open is cut at open ones:
  a segment's reader starts decoding at its keyframe, and the leading frames, being displayed
  before it, belong to the previous segment, whose decoder reaches them with their references;
- a file without timestamps (raw streams) cannot be windowed: it is one segment, read whole.

An excerpt (``--start``/``--duration``) narrows the frames before they are cut: times count from
the first frame's display time, the excerpt begins with the first frame at or after ``start``
and holds the frames displayed before ``start + duration``. Its first segment starts at that
frame; where it is not a keyframe, decoding starts at the keyframe before it (the reader's
seek), and an engine with state warms up from there, so it never starts mid-GOP.

Each segment after the first also names a warm-up start: the keyframe before its own. An
engine that carries state from frame to frame (codec mode fades each refresh in from the
propagated picture) runs from there without writing, so it meets the segment's first frame
as it would have in one long run, and the join shows no pop.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional, Tuple

import av
import numpy as np

from ..errors import CodecStyleError

#: Automatic segment length: the film's length over this, clamped to ``AUTO_SECONDS``.
AUTO_PARTS = 16
AUTO_SECONDS = (2.0, 60.0)
#: Seconds by which a frame may miss an excerpt's bound and still count as on it: a time given
#: in decimal seconds (0.4) is rarely a whole number of time-base ticks in binary floating point.
TIME_SLACK = 1e-6


@dataclass(frozen=True)
class Segment:
    """One window of the film. ``start_pts``/``end_pts`` are in the video stream's time base
    (None: from the first / to the last frame); ``frames`` counts the packets displayed in it;
    ``start`` and ``duration`` are seconds; ``open_gop`` says its first keyframe has leading
    frames (they belong to the segment before); ``warmup_pts`` is the keyframe before
    ``start_pts`` and ``warmup_frames`` the frames from there to the segment (None, 0: none)."""

    index: int
    start_pts: Optional[int]
    end_pts: Optional[int]
    frames: int
    start: float
    duration: float
    open_gop: bool = False
    warmup_pts: Optional[int] = None
    warmup_frames: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SegmentPlan:
    """The segments of the part of a film to render, and what the packets said about it.

    - frame_pts: pts of every frame to render, in display order (int64 array).
    - end_time: seconds at which the rendered part ends when ``--frames`` or ``--duration``
      cuts the film (the next frame's time; audio and subtitles are cut there), else None.
    - start_time: seconds (source timestamps) of the first frame of an excerpt (``--start``):
      audio and subtitles are cut there, and every output stream is shifted back by it so the
      output starts at 0; None without ``--start`` (times are kept).
    - windowed: False when the stream has no usable timestamps (one segment, read whole).
    - ends_early: seconds after which the file's data stops although its index lists more
      frames, or reading failed (a cut-short download), else None; expected_frames: the
      index's frame count (0: unknown).
    - look_pts: pts of the frames the film's look (``--norm`` statistics) is sampled from: the
      whole film for an excerpt (``--start``/``--duration``), so a preview looks like the full
      render; None: ``frame_pts``.
    """

    segments: Tuple[Segment, ...]
    time_base: Fraction
    frame_pts: np.ndarray
    keyframe_pts: np.ndarray
    open_keyframes: int
    end_time: Optional[float]
    target_seconds: float
    windowed: bool = True
    ends_early: Optional[float] = None
    expected_frames: int = 0
    start_time: Optional[float] = None
    look_pts: Optional[np.ndarray] = None

    @property
    def frames(self) -> int:
        return int(sum(s.frames for s in self.segments))

    @property
    def duration(self) -> float:
        return float(sum(s.duration for s in self.segments))

    def describe(self) -> dict:
        """A small JSON-able description (for the manifest and the run summary)."""
        return {"segments": [s.as_dict() for s in self.segments], "time_base": str(self.time_base),
                "frames": self.frames, "keyframes": int(len(self.keyframe_pts)),
                "open_keyframes": self.open_keyframes, "target_seconds": round(self.target_seconds, 3),
                "start_time": self.start_time, "end_time": self.end_time, "windowed": self.windowed}


@dataclass
class Packets:
    """Video packets in decode order: pts, dts and key flags (arrays), and the time base."""

    pts: np.ndarray
    dts: np.ndarray
    key: np.ndarray
    time_base: Fraction
    complete: bool  # every packet has a pts, and no two share one
    expected: int = 0  # frames the container's index lists (0: unknown)
    declared_end: Optional[float] = None  # seconds at which the container says the video ends
    read_error: bool = False  # demuxing stopped at unreadable data


def scan_packets(path: str) -> Packets:
    """Demux (never decode) the first video stream of ``path``."""
    from ..video.reader import _open, _video_stream  # the reader's own opening rules
    from ..video.decoding import declared_end, reason

    container = _open(path)
    pts: List[int] = []
    dts: List[int] = []
    key: List[bool] = []
    hidden = 0
    complete = True
    read_error = None
    try:
        stream = _video_stream(container)
        time_base = stream.time_base or Fraction(1, 90000)
        expected = int(stream.frames or 0)
        declared = declared_end(container, stream)
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:  # a cut-short or damaged file: plan what was read
                read_error = exc
                break
            if packet.size == 0 or packet.is_discard:  # flush packets; frames an edit list hides
                hidden += bool(packet.size)
                continue
            if packet.pts is None:
                complete = False
            pts.append(-1 if packet.pts is None else int(packet.pts))
            dts.append(pts[-1] if packet.dts is None else int(packet.dts))
            key.append(bool(packet.is_keyframe))
    finally:
        container.close()
    if not pts:
        if read_error is not None:
            raise CodecStyleError(f"corrupt video stream in {path} ({reason(read_error)})")
        raise CodecStyleError(f"no decodable video frames in {path}")
    array = np.asarray(pts, np.int64)
    complete = complete and len(np.unique(array)) == len(array)
    return Packets(array, np.asarray(dts, np.int64), np.asarray(key, bool), time_base, complete,
                   expected=max(0, expected - hidden), read_error=read_error is not None,
                   declared_end=declared)


def auto_seconds(duration: float) -> float:
    """The automatic segment length for a film of ``duration`` seconds."""
    low, high = AUTO_SECONDS
    return float(min(high, max(low, duration / AUTO_PARTS)))


def plan_segments(path: str, target_seconds: Optional[float] = None,
                  max_frames: Optional[int] = None, min_gops: float = 0,
                  start: Optional[float] = None, duration: Optional[float] = None) -> SegmentPlan:
    """Cut ``path`` (its first ``max_frames`` frames) into segments of about ``target_seconds``.

    ``start``/``duration`` (seconds, from the first frame's time) plan an excerpt instead: the
    frames displayed in ``[start, start + duration)``, of which the first ``max_frames``.

    Cuts go at the first suitable keyframe at least ``target_seconds`` after the previous cut,
    and not within half a target of the end (the tail joins the last segment). None picks
    ``auto_seconds``, but at least ``min_gops`` typical GOPs (segments that warm up over the
    GOP before them then spend at most ``1 / min_gops`` extra). Raises ``CodecStyleError`` for
    unreadable input, and for an excerpt that holds no frame or a file that cannot be excerpted.
    """
    packets = scan_packets(path)
    tb = packets.time_base
    excerpt = start is not None or duration is not None
    if not packets.complete and excerpt:
        raise CodecStyleError(f"--start and --duration need timestamps, and {path} has none usable "
                              f"(a raw stream?): remux it into .mkv or .mp4 first")
    if not packets.complete:
        count = len(packets.pts) if not max_frames else min(max_frames, len(packets.pts))
        seconds = 0.0
        segment = Segment(0, None, None, count, 0.0, seconds)
        return SegmentPlan((segment,), tb, np.arange(count, dtype=np.int64), np.zeros(0, np.int64), 0,
                           None, float(target_seconds or 0.0), windowed=False,
                           expected_frames=packets.expected)
    every = np.sort(packets.pts)  # the whole film, display order
    step = float(np.median(np.diff(every))) if len(every) > 1 else 0.0
    lo, hi = _excerpt(every, tb, step, start, duration) if excerpt else (0, len(every))
    if max_frames and max_frames < hi - lo:
        hi = lo + max_frames
    end_pts: Optional[int] = int(every[hi]) if hi < len(every) else None
    order = every[lo:hi]
    first, last = int(order[0]), int(order[-1])
    end_tick = end_pts if end_pts is not None else last + step
    length = float((end_tick - first) * tb)
    open_flags = _open_gop_flags(packets)
    keys = packets.pts[packets.key]
    keys_open = open_flags[packets.key]
    inside = (keys > first) & ((keys < end_pts) if end_pts is not None else (keys <= last))
    keys, keys_open = keys[inside], keys_open[inside]
    sort = np.argsort(keys)
    keys, keys_open = keys[sort], keys_open[sort]
    candidates = keys[~keys_open] if (~keys_open).any() or not len(keys) else keys
    if target_seconds:
        target = float(target_seconds)
    else:
        spacing = np.diff(np.concatenate([[first], candidates])) if len(candidates) else np.zeros(0)
        gop = float(np.median(spacing) * tb) if len(spacing) else 0.0
        target = max(auto_seconds(length), min_gops * gop)

    cuts: List[int] = []
    previous = first
    for cut in candidates.tolist():
        if float((cut - previous) * tb) >= target and float((end_tick - cut) * tb) >= target / 2:
            cuts.append(int(cut))
            previous = cut
    # An excerpt's first segment starts at its first frame (from the file's start: None, read whole).
    bounds = [first if lo > 0 else None] + cuts + [end_pts]
    all_keys = np.sort(packets.pts[packets.key])
    segments = []
    for index, (begin_pts, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        a = 0 if begin_pts is None else int(np.searchsorted(every, begin_pts, side="left"))
        b = len(every) if stop is None else int(np.searchsorted(every, stop, side="left"))
        begin = int(every[a])
        finish = stop if stop is not None else end_tick
        is_open = index > 0 and bool(keys_open[np.searchsorted(keys, begin_pts)])
        warmup, warm = None, 0
        if begin_pts is not None:
            # A segment at a cut warms up over the GOP before its keyframe; an excerpt's first
            # frame, where it is no keyframe, from its own GOP's keyframe (a fresh start there).
            earlier = all_keys[all_keys < begin_pts] if index > 0 else all_keys[all_keys <= begin_pts]
            if len(earlier) and earlier[-1] < begin_pts:
                warmup = int(earlier[-1])
                warm = a - int(np.searchsorted(every, warmup, side="left"))
        segments.append(Segment(index, begin_pts, stop, b - a, round(float(begin * tb), 6),
                                round(float((finish - begin) * tb), 6), is_open, warmup, warm))
    end_time = float(end_pts * tb) if end_pts is not None else None
    start_time = float(first * tb) if start is not None else None
    from ..video.decoding import short_by

    ends_early = None
    expected = packets.expected
    if end_pts is None and (packets.read_error or expected > len(packets.pts)
                            or short_by(float(end_tick * tb), packets.declared_end, step * float(tb))):
        ends_early = round(float(end_tick * tb), 3)
        if not expected and packets.declared_end is not None and step:
            expected = len(every) + int(round((packets.declared_end - float(end_tick * tb)) / (step * float(tb))))
        expected = max(0, expected - lo)  # an excerpt expects the frames from its start on
    return SegmentPlan(tuple(segments), tb, order, np.sort(packets.pts[packets.key]),
                       int(open_flags[packets.key].sum()), end_time, target, ends_early=ends_early,
                       expected_frames=expected, start_time=start_time, look_pts=every if excerpt else None)


def _excerpt(order: np.ndarray, tb: Fraction, step: float, start: Optional[float],
             duration: Optional[float]) -> Tuple[int, int]:
    """``(lo, hi)``: the frames of ``order`` (pts in display order) displayed in
    ``[start, start + duration)``, in seconds from the first frame. Raises ``CodecStyleError``
    when that holds no frame (``step``: the usual frame spacing in ticks, for the message)."""
    times = (order - order[0]) * float(tb)
    begin = start or 0.0
    lo = int(np.searchsorted(times, begin - TIME_SLACK, side="left"))
    if lo == len(order):
        end = times[-1] + step * float(tb)
        raise CodecStyleError(f"--start {begin:g} s is past the video's last frame (at {times[-1]:.3f} s; "
                              f"the video is {end:.3f} s long)")
    hi = len(order)
    if duration is not None:
        hi = int(np.searchsorted(times, begin + duration - TIME_SLACK, side="left"))
        if hi <= lo:
            raise CodecStyleError(f"--duration {duration:g} s holds no frame: the first frame after --start "
                                  f"{begin:g} s is at {times[lo]:.3f} s")
    return lo, hi


def _open_gop_flags(packets: Packets) -> np.ndarray:
    """Per packet (decode order): True for a keyframe that some later packet is displayed before
    (it has leading frames: an open GOP). False elsewhere."""
    pts = packets.pts
    later_min = np.minimum.accumulate(pts[::-1])[::-1]  # min pts of packets i.. in decode order
    after = np.append(later_min[1:], np.iinfo(np.int64).max)
    return packets.key & (after < pts)
