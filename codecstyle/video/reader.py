"""Decoding with PyAV: frame records with picture type, timestamps and the codec's motion vectors.

Decoding uses slice threading or one thread, never frame threading: frame threading corrupts
exported B-frame vectors (see ARCHITECTURE.md). Frames come out in display order, with the
pixels in the coded orientation; ``VideoInfo.rotation`` says how a player turns them.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator, Optional, Tuple

import av
import numpy as np

from ..errors import CodecStyleError
from .decode_report import DecodeReport
from .decoding import Decoded, declared_end, nothing_decodes, reason, short_by
from .timeline import frame_ticks

try:
    from av.sidedata.sidedata import SideDataContainer
except ImportError:  # pragma: no cover - other PyAV layouts
    pass

PICT_TYPES = {1: "I", 2: "P", 3: "B"}

#: Decoders that export motion vectors through ``flags2=+export_mvs``.
VECTOR_CODECS = {"h264", "mpeg1video", "mpeg2video", "mpeg4", "h263", "h263p", "msmpeg4v2", "msmpeg4v3",
                 "msmpeg4", "wmv1", "wmv2", "flv1", "flv"}

#: Of those, the codecs whose exported B-frame vectors are all zero (MPEG-4 Part 2 / H.263 family):
#: they cannot be trusted.
ZERO_B_CODECS = {"mpeg4", "h263", "h263p", "msmpeg4v2", "msmpeg4v3", "msmpeg4", "wmv1", "wmv2", "flv1", "flv"}


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the first video stream (sizes are the coded frame's)."""

    path: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    average_rate: Optional[Fraction]
    frame_count: int          # the container's count, 0 when unknown
    duration: Optional[float]  # seconds, None when unknown
    rotation: int             # degrees counter-clockwise a player applies (0, 90, 180, 270)
    has_audio: bool
    has_subtitles: bool
    exports_vectors: bool     # whether this codec can export motion vectors at all


@dataclass
class FrameRecord:
    """One decoded frame.

    - rgb: ``(H, W, 3)`` uint8 RGB at the requested size (default: the coded size).
    - motion_vectors: PyAV's structured array (``source, w, h, src_x, src_y, dst_x, dst_y,
      flags, motion_x, motion_y, motion_scale``) in *coded* pixel units, or ``None`` (I-frames,
      intra-only or vector-less codecs).
    - pts in ``time_base`` units; ``pict_type`` is "I", "P", "B" or "?".
    """

    display_index: int
    pts: int
    time_base: Fraction
    pict_type: str
    key_frame: bool
    rgb: np.ndarray
    motion_vectors: Optional[np.ndarray]

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)


def _open(path: str) -> "av.container.InputContainer":
    if not os.path.exists(path):
        raise CodecStyleError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CodecStyleError(f"is a directory, not a video: {path}")
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise CodecStyleError(f"not a readable video: {path} ({reason(exc)})") from None
    # FFmpeg opens plain text as "video" (the tty demuxer) and audio files' cover art as a
    # one-picture stream; neither is a video to stylize.
    moving = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not moving or container.format.name == "tty":
        container.close()
        raise CodecStyleError(f"not a video: {path} has no video stream")
    return container


def _video_stream(container):
    return next(s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic))


def _rotation(stream, first_frame) -> int:
    angle = 0
    if first_frame is not None:
        try:
            angle = int(round(first_frame.rotation or 0))
        except (AttributeError, TypeError, ValueError):
            angle = 0
    return angle % 360


def probe(path: str) -> VideoInfo:
    """Read a file's header (and its first frame, for rotation) without decoding the rest."""
    container = _open(path)
    try:
        stream = _video_stream(container)
        cc = stream.codec_context
        time_base = stream.time_base or Fraction(1, 90000)
        ticks = frame_ticks(stream.average_rate or stream.guessed_rate, time_base)
        report = DecodeReport()
        item = next(Decoded(container, stream, path, ticks, report, strict=False), None)
        first = item[0] if item is not None else None
        if first is None:
            raise nothing_decodes(path, report)
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        return VideoInfo(
            path=path, codec=cc.name, width=first.width, height=first.height,
            pix_fmt=first.format.name, time_base=time_base,
            average_rate=stream.average_rate or stream.guessed_rate, frame_count=int(stream.frames or 0),
            duration=duration, rotation=_rotation(stream, first),
            has_audio=bool(container.streams.audio), has_subtitles=bool(container.streams.subtitles),
            exports_vectors=cc.name in VECTOR_CODECS,
        )
    finally:
        container.close()


def _motion_vectors(frame) -> Optional[np.ndarray]:
    """The frame's exported motion vectors as an array of their own, or None.

    ``frame.side_data`` caches a container on the frame that points back at the frame: a
    reference cycle that only the cyclic garbage collector frees, so every decoded frame (1.4 MB
    at 720p) outlived its use until a full collection, and memory grew with video length (to
    1.5 GB in a 10-minute 720p render here). A container of our own, dropped at once, and a copy
    of the array (a view would keep the frame alive) release the frame as soon as it is used.
    """
    try:
        side = SideDataContainer(frame).get("MOTION_VECTORS")
    except NameError:  # a PyAV without the class: its cached property, cycle and all
        side = frame.side_data.get("MOTION_VECTORS")
    return None if side is None else np.array(side.to_ndarray(), copy=True)


def read_frames(path: str, size: Optional[Tuple[int, int]] = None, vectors: bool = True,
                max_frames: Optional[int] = None, threads: int = 0, start_pts: Optional[int] = None,
                end_pts: Optional[int] = None, report: Optional[DecodeReport] = None,
                strict: bool = False, count_from: Optional[int] = None) -> Iterator[FrameRecord]:
    """Decode the first video stream in display order, with strictly increasing display times.

    - size: ``(width, height)`` of the RGB arrays (resampled with swscale's area filter), or
      ``None`` for the coded size. Motion vectors stay in coded pixel units.
    - vectors: ask the decoder to export motion vectors.
    - threads: slice threads (0 = let FFmpeg choose).
    - start_pts/end_pts: only the frames with ``start_pts <= pts < end_pts`` (stream time base;
      None: unbounded). With ``start_pts`` decoding starts at the keyframe at or before it (a
      seek), frames before it are decoded and dropped, and ``display_index`` counts from the
      first frame yielded. A keyframe that opens an open GOP works too: its leading frames come
      before it in display order, so they belong to the window before.
    - report: filled in once the read is complete (``DecodeReport``): how times were obtained,
      frames that did not decode (from ``count_from``, default ``start_pts``), a file that ends
      early.
    - strict: any decode error or lost frame raises instead of being reported.
    Times come from ``DisplayClock``: the file's own where they are in display order, else
    derived (reordered, or numbered one frame apart). A damaged packet costs its own frame only:
    the frames that decode keep their times. Raises ``CodecStyleError`` when no frame decodes
    (or, with ``strict``, on any damage).
    """
    report = report if report is not None else DecodeReport()
    container = _open(path)
    try:
        stream = _video_stream(container)
        time_base = stream.time_base or Fraction(1, 90000)
        ticks = frame_ticks(stream.average_rate or stream.guessed_rate, time_base)
        expected = int(stream.frames or 0)
        declared = declared_end(container, stream)
        container, frames = _positioned(container, path, start_pts, vectors, threads, ticks, report, strict)
        index = 0
        complete = False
        last = None
        while max_frames is None or index < max_frames:
            item = next(frames, None)
            if item is None:
                complete = True
                break
            frame, pts = item
            if start_pts is not None and pts < start_pts:
                continue
            if end_pts is not None and pts >= end_pts:
                complete = True
                break
            mvs = _motion_vectors(frame) if vectors else None
            if size is None:
                rgb = frame.to_ndarray(format="rgb24")
            else:
                rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
            last = pts
            yield FrameRecord(index, pts, time_base, PICT_TYPES.get(int(frame.pict_type), "?"),
                              bool(frame.key_frame), rgb, mvs)
            index += 1
        if complete:
            frames.account(count_from if count_from is not None else start_pts, end_pts)
            whole = start_pts is None and end_pts is None
            end = float((last + ticks) * time_base) if last is not None else 0.0
            frame_seconds = float(ticks * time_base)
            if whole and last is not None and (expected > frames.fed + frames.hidden
                                               or short_by(end, declared, frame_seconds)):
                report.expected_frames = expected - frames.hidden if expected else \
                    index + len(frames.clock.lost) + int(round((declared - end) / frame_seconds))
                if report.ends_early is None:
                    report.ends_early = round(end, 3)
        if index == 0 and start_pts is None and end_pts is None:  # a window may hold lost frames only
            raise nothing_decodes(path, report)
        if strict and report.damaged:
            raise CodecStyleError(f"damaged video stream in {path}: {report.describe(index)}")
    finally:
        container.close()


def _configured(container, vectors: bool, threads: int):
    stream = _video_stream(container)
    if vectors:
        stream.codec_context.options = {"flags2": "+export_mvs"}
    stream.thread_type = "SLICE"
    stream.codec_context.thread_count = threads
    return stream


def _positioned(container, path: str, start_pts: Optional[int], vectors: bool, threads: int, ticks: int,
                report: DecodeReport, strict: bool):
    """``(container, _Decoded)`` from the keyframe at or before ``start_pts`` (None: the start).

    Seeking by the frame's presentation time lands on that keyframe for MP4 and Matroska. If a
    container's index puts the decoder past ``start_pts`` (its first frame is later), decoding
    restarts from the beginning of a fresh container instead, so no frame is ever skipped.
    """
    stream = _configured(container, vectors, threads)
    if start_pts is None:
        return container, Decoded(container, stream, path, ticks, report, strict)
    first = None
    try:
        container.seek(int(start_pts), stream=stream, backward=True, any_frame=False)
        frames = Decoded(container, stream, path, ticks, report, strict)
        first = next(frames, None)
    except av.error.FFmpegError:
        pass
    if first is not None and first[1] <= start_pts:
        frames._items = itertools.chain([first], frames._items)
        return container, frames
    container.close()
    container = _open(path)
    return container, Decoded(container, _configured(container, vectors, threads), path, ticks, report, strict)

def fit_size(width: int, height: int, max_size: Optional[int], multiple: int = 2) -> Tuple[int, int]:
    """Scale ``(width, height)`` so the longer side is at most ``max_size``, keeping the aspect,
    rounded to a multiple of ``multiple`` (encoders need even sizes for 4:2:0)."""
    scale = 1.0
    if max_size and max(width, height) > max_size:
        scale = max_size / max(width, height)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h
