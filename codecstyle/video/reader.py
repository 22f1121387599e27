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
        raise CodecStyleError(f"not a readable video: {path} ({_reason(exc)})") from None
    # FFmpeg opens plain text as "video" (the tty demuxer) and audio files' cover art as a
    # one-picture stream; neither is a video to stylize.
    moving = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not moving or container.format.name == "tty":
        container.close()
        raise CodecStyleError(f"not a video: {path} has no video stream")
    return container


def _video_stream(container):
    return next(s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic))


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]


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
        first = None
        try:
            for first in container.decode(stream):
                break
        except av.error.FFmpegError as exc:
            raise CodecStyleError(f"corrupt video stream in {path} ({_reason(exc)})") from None
        if first is None:
            raise CodecStyleError(f"no decodable video frames in {path}")
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        return VideoInfo(
            path=path, codec=cc.name, width=first.width, height=first.height,
            pix_fmt=first.format.name, time_base=stream.time_base or Fraction(1, 90000),
            average_rate=stream.average_rate or stream.guessed_rate, frame_count=int(stream.frames or 0),
            duration=duration, rotation=_rotation(stream, first),
            has_audio=bool(container.streams.audio), has_subtitles=bool(container.streams.subtitles),
            exports_vectors=cc.name in VECTOR_CODECS,
        )
    finally:
        container.close()


def read_frames(path: str, size: Optional[Tuple[int, int]] = None, vectors: bool = True,
                max_frames: Optional[int] = None, threads: int = 0, start_pts: Optional[int] = None,
                end_pts: Optional[int] = None) -> Iterator[FrameRecord]:
    """Decode the first video stream in display order.

    - size: ``(width, height)`` of the RGB arrays (resampled with swscale's area filter), or
      ``None`` for the coded size. Motion vectors stay in coded pixel units.
    - vectors: ask the decoder to export motion vectors.
    - threads: slice threads (0 = let FFmpeg choose).
    - start_pts/end_pts: only the frames with ``start_pts <= pts < end_pts`` (stream time base;
      None: unbounded). With ``start_pts`` decoding starts at the keyframe at or before it (a
      seek), frames before it are decoded and dropped, and ``display_index`` counts from the
      first frame yielded. Frames need timestamps for this (raw streams without them cannot be
      windowed). A keyframe that opens an open GOP works too: its leading frames come before
      it in display order, so they belong to the window before.
    Raises ``CodecStyleError`` on a corrupt stream.
    """
    container = _open(path)
    try:
        stream = _video_stream(container)
        cc = stream.codec_context
        if vectors:
            cc.options = {"flags2": "+export_mvs"}
        stream.thread_type = "SLICE"
        cc.thread_count = threads
        time_base = stream.time_base or Fraction(1, 90000)
        index = 0
        last_pts = None
        if start_pts is None:
            frames = container.decode(stream)
        else:
            container, frames = _seek(container, path, start_pts, vectors, threads)
        while max_frames is None or index < max_frames:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                raise CodecStyleError(f"corrupt video stream in {path} at frame {index} ({_reason(exc)})") from None
            pts = frame.pts
            if pts is None:  # raw streams without timestamps: number the frames
                if start_pts is not None or end_pts is not None:
                    raise CodecStyleError(f"{path} has frames without timestamps; it cannot be read in parts")
                pts = 0 if last_pts is None else last_pts + 1
            if start_pts is not None and pts < start_pts:
                continue
            if end_pts is not None and pts >= end_pts:
                break
            last_pts = pts
            mvs = _motion_vectors(frame) if vectors else None
            if size is None:
                rgb = frame.to_ndarray(format="rgb24")
            else:
                rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
            yield FrameRecord(index, pts, time_base, PICT_TYPES.get(int(frame.pict_type), "?"),
                              bool(frame.key_frame), rgb, mvs)
            index += 1
        if index == 0:
            raise CodecStyleError(f"no decodable video frames in {path}")
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


def _seek(container, path: str, start_pts: int, vectors: bool, threads: int):
    """Position ``container`` at the keyframe at or before ``start_pts`` (stream time base) and
    return ``(container, decoded frames)``.

    Seeking by the frame's presentation time lands on that keyframe for MP4 and Matroska. If a
    container's index puts the decoder past ``start_pts`` (its first frame is later), decoding
    restarts from the beginning of a fresh container instead, so no frame is ever skipped.
    """
    stream = _video_stream(container)
    try:
        container.seek(int(start_pts), stream=stream, backward=True, any_frame=False)
        frames = container.decode(stream)
        first = next(frames, None)
    except av.error.FFmpegError:
        first = None
    if first is not None and first.pts is not None and first.pts <= start_pts:
        return container, itertools.chain([first], frames)
    container.close()
    container = _open(path)
    stream = _video_stream(container)
    if vectors:
        stream.codec_context.options = {"flags2": "+export_mvs"}
    stream.thread_type = "SLICE"
    stream.codec_context.thread_count = threads
    return container, container.decode(stream)


def fit_size(width: int, height: int, max_size: Optional[int], multiple: int = 2) -> Tuple[int, int]:
    """Scale ``(width, height)`` so the longer side is at most ``max_size``, keeping the aspect,
    rounded to a multiple of ``multiple`` (encoders need even sizes for 4:2:0)."""
    scale = 1.0
    if max_size and max(width, height) > max_size:
        scale = max_size / max(width, height)
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h
