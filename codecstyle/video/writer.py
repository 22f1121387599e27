"""Encoding stylized frames, then copying the source's audio and subtitle streams next to them.

Writing happens in two passes, both into hidden temporary files beside the output:
1. ``write`` encodes RGB frames into a video-only file, with the source's time base and each
   frame's source pts, so frame count, timestamps and variable frame rate survive.
2. ``close`` muxes that video with the source's audio and subtitle packets (copied, never
   re-encoded) into a second temporary file, then renames it onto ``path`` with ``os.replace``.
   A crash or ``abort`` at any point leaves ``path`` untouched.

With ``copy_streams=False`` (one segment of a film rendered in parts) pass 2 is skipped: the
video-only file is renamed onto ``path``. ``mux_with_source`` is pass 2 on its own, for joining
such segments: it takes any sequence of video packets and adds the source's audio/subtitles,
for an excerpt (``--start``) cut at its start and shifted with the video so the output starts at 0.
"""
from __future__ import annotations

import heapq
import os
import warnings
from fractions import Fraction
from typing import Dict, Iterator, List, Optional, Tuple

import av
import numpy as np

from ..errors import CodecStyleError
from ..partial_file import partial_file
from .decoding import reason
from .encode_thread import EncodeThread
from .reader import VideoInfo

#: Encoders whose quality is set with ``crf`` plus a named ``preset``.
_X26X = {"libx264", "libx265"}
#: Encoders that read ``crf`` as constant quality only when the bit rate is 0.
_CRF_WITH_ZERO_BITRATE = {"libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1"}
#: Containers that take ``movflags`` (faststart moves the index to the front for streaming).
_MOV_FAMILY = {".mp4", ".mov", ".m4v"}
#: How far past ``end_time`` (seconds) demuxing the source goes before giving up on earlier packets.
_INTERLEAVE_SLACK_S = 10.0


class VideoWriter:
    """Encodes RGB frames to a video file and copies audio + subtitle streams from the source unchanged.

    - path: the output file; its extension picks the container (.mp4, .mkv, .mov, ...).
    - source: the probed input; its time base, frame rate and rotation are kept, and its audio and
      subtitle streams are packet-copied. Streams the output container cannot hold are skipped
      with a warning and listed in ``dropped_streams``; ``copied_streams`` lists the others
      (e.g. ``"audio aac"``).
    - codec/crf/preset: the video encoder and its quality settings; output pix_fmt is yuv420p.
    - end_time: seconds; copy only audio/subtitle packets that start before it (for a clip cut
      after the first N frames).
    - copy_streams: False writes the video stream alone (no audio/subtitles), e.g. one segment
      of a film that ``mux_with_source`` joins later.
    - reproducible: the same frames always give the same bytes (segments of a film that a
      resumed render must reproduce exactly): one encoder thread, and for libx264 no
      macroblock-tree rate control. With mbtree, x264 core 165 gave different bytes for the same
      frames from run to run here (it depends on memory it did not initialise); without it,
      files are about 9% larger at the same crf.

    Frames are encoded on a thread of the writer's own (``EncodeThread``), overlapping the caller's
    work; ``encode_seconds`` is the time spent encoding there. The bytes are the same as encoding
    on the caller's thread.

    Use as a context manager: leaving the block normally calls ``close()``, an exception calls
    ``abort()``. Raises ``CodecStyleError`` for an unusable output path or codec, before encoding.
    """

    def __init__(self, path: str, source: VideoInfo, *, codec: str = "libx264", crf: float = 18,
                 preset: str = "medium", end_time: Optional[float] = None, copy_streams: bool = True,
                 reproducible: bool = False):
        self.path = os.path.abspath(path)
        self.source = source
        self.codec = codec
        self.end_time = end_time
        self.copied_streams: List[str] = []
        self.dropped_streams: List[str] = []
        self._options = _encoder_options(codec, crf, preset)
        if reproducible:
            self._options["threads"] = "1"
            if codec == "libx264":
                self._options["x264-params"] = "mbtree=0"
        self.copy_streams = copy_streams
        self._temp_paths: List[str] = []
        self._video_out = None
        self._stream = None
        self._size: Optional[Tuple[int, int]] = None  # (width, height) of the frames as given
        self._last_pts: Optional[int] = None
        self._encoder: Optional[EncodeThread] = None
        self._done = False

        directory, name = os.path.split(self.path)
        ext = os.path.splitext(name)[1]
        if not ext:
            raise CodecStyleError(f"output needs a file extension to pick a container: {path}")
        if os.path.isdir(self.path):
            raise CodecStyleError(f"output is a directory: {path}")
        if os.path.exists(self.path) and os.path.samefile(self.path, source.path):
            raise CodecStyleError(f"output would overwrite the input: {path}")
        if not os.path.isdir(directory):
            raise CodecStyleError(f"output directory does not exist: {directory}")
        self._ext = ext
        video_path = self._new_temp(".video")
        try:
            self._video_out = av.open(video_path, "w")
        except (av.error.FFmpegError, ValueError) as exc:
            self.abort()
            raise CodecStyleError(f"cannot write {ext} files: {path} ({reason(exc)})") from None
        canonical = av.codec.Codec(codec, "w").canonical_name
        if canonical not in self._video_out.supported_codecs:
            self.abort()
            raise CodecStyleError(f"{ext} files cannot hold {codec} video: {path}")

    # -- pass 1: encode ---------------------------------------------------------------------

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one frame.

        - rgb: ``(H, W, 3)`` uint8 RGB, 0..255; every frame of a file has the same size. An odd
          width or height is padded to even by repeating the last column/row, because 4:2:0
          chroma needs even sizes (the output is then one pixel wider/taller than the frames).
        - pts: display time in ``source.time_base`` units, strictly increasing.
        """
        if self._done:
            raise RuntimeError("VideoWriter is already closed")
        if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3):
            raise ValueError(f"expected an (H, W, 3) uint8 array, got {getattr(rgb, 'shape', type(rgb))} "
                             f"{getattr(rgb, 'dtype', '')}")
        size = (rgb.shape[1], rgb.shape[0])
        if self._size is None:
            self._open_video_stream(*size)
        elif size != self._size:
            raise ValueError(f"frame size {size} differs from the first frame's {self._size}")
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"pts must increase: {pts} after {self._last_pts}")
        self._last_pts = pts
        pad_rows, pad_cols = rgb.shape[0] % 2, rgb.shape[1] % 2
        if pad_rows or pad_cols:
            rgb = np.pad(rgb, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge")
        # from_ndarray copies the pixels: the caller may reuse ``rgb`` once write returns
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = int(pts)
        frame.time_base = self.source.time_base
        self._encoder.put(frame)

    def _encode(self, frame: "av.VideoFrame") -> None:
        self._video_out.mux(self._stream.encode(frame))

    @property
    def encode_seconds(self) -> float:
        """Seconds spent encoding on the writer's thread so far."""
        return self._encoder.busy_seconds if self._encoder is not None else 0.0

    def _open_video_stream(self, width: int, height: int) -> None:
        rate = self.source.average_rate or None
        stream = self._video_out.add_stream(self.codec, rate=rate)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        # Encoder and muxer both on the source's clock, so every pts passes through unrounded.
        stream.codec_context.time_base = self.source.time_base
        stream.time_base = self.source.time_base
        if self._options:
            stream.options = self._options
        if self.source.rotation:
            stream.set_display_rotation(self.source.rotation)
        self._stream, self._size = stream, (width, height)
        self._encoder = EncodeThread(self._encode)

    # -- pass 2: mux and publish --------------------------------------------------------------

    def close(self) -> None:
        """Flush the encoder, mux video with the copied audio/subtitles, rename onto ``path``."""
        if self._done:
            return
        try:
            if self._stream is None:
                raise CodecStyleError(f"no frames were written to {self.path}")
            self._encoder.finish()
            self._video_out.mux(self._stream.encode())
            self._video_out.close()
            if self.copy_streams:
                final = self._new_temp("")
                self._mux(self._temp_paths[0], final)
            else:
                final = self._temp_paths[0]
                _fsync(final)
            os.replace(final, self.path)
            self._temp_paths.remove(final)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (av.error.FFmpegError, OSError)):
                raise CodecStyleError(f"cannot write {self.path} ({reason(exc)})") from None
            raise
        self.abort()  # only the video-only temporary is left to remove
        self._done = True

    def _mux(self, video_path: str, out_path: str) -> None:
        with av.open(video_path) as video_in:
            video = video_in.streams.video[0]
            self.copied_streams, self.dropped_streams = mux_with_source(
                out_path, video, video_in.demux(video), self.source.path, self.end_time)

    def abort(self) -> None:
        """Stop and delete every temporary file; ``path`` is never created or touched."""
        self._done = True
        if self._encoder is not None:
            self._encoder.stop()
        if self._video_out is not None:
            try:
                self._video_out.close()
            except Exception:  # a half-written file is about to be deleted anyway
                pass
        for temp in self._temp_paths:
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass
        self._temp_paths.clear()

    def _new_temp(self, tag: str) -> str:
        directory = os.path.dirname(self.path)
        try:
            temp = partial_file(self.path, suffix=tag + self._ext)
        except OSError as exc:
            raise CodecStyleError(f"output directory is not writable: {directory} ({reason(exc)})") from None
        self._temp_paths.append(temp)
        return temp

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def mux_with_source(out_path: str, video_template: "av.video.stream.VideoStream",
                    video_packets: Iterator["av.Packet"], source_path: str,
                    end_time: Optional[float] = None,
                    start_time: Optional[float] = None) -> Tuple[List[str], List[str]]:
    """Write ``out_path``: one video stream (parameters from ``video_template``, packets in decode
    order with increasing dts, in the template's time base) plus the audio and subtitle streams
    of ``source_path``, packet-copied, interleaved by time. The extension of ``out_path`` picks
    the container. ``end_time`` (seconds) drops audio/subtitle packets starting at or after it.

    ``start_time`` (seconds, on the source's clock: an excerpt's first video frame) moves every
    stream, video included, back by that much, so the excerpt starts at 0, and drops the
    audio/subtitle packets before it. An audio packet that straddles it is kept at a slightly
    negative time where the container stores negative timestamps (MP4/MOV: an edit list trims
    it, as it trims AAC's encoder priming, so audio and video start together to the sample);
    elsewhere FFmpeg would move every stream to make room for it, so it is dropped, and the
    audio starts less than one packet (AAC at 48 kHz: 21 ms) after the video.

    Returns ``(copied, dropped)`` stream labels such as ``"audio aac"``; streams the container
    cannot hold are dropped with a warning.
    """
    copied_labels: List[str] = []
    dropped_labels: List[str] = []
    ext = os.path.splitext(out_path)[1]
    options = {"movflags": "+faststart"} if ext.lower() in _MOV_FAMILY else {}
    with av.open(source_path, metadata_errors="ignore") as source_in, \
            av.open(out_path, "w", options=options) as out:
        targets = {video_template: out.add_stream_from_template(video_template, time_base=video_template.time_base)}
        copied = [s for s in source_in.streams if s.type in ("audio", "subtitle")]
        for stream in copied:
            label = f"{stream.type} {stream.codec_context.name}"
            try:
                target = out.add_stream_from_template(stream)
            except ValueError:  # PyAV's answer when the container cannot hold this codec
                dropped_labels.append(label)
                warnings.warn(f"{ext} output cannot hold the source's {label} stream; dropped it")
                continue
            for key in ("language", "title"):
                if key in stream.metadata:
                    target.metadata[key] = stream.metadata[key]
            targets[stream] = target
            copied_labels.append(label)
        sources = [s for s in copied if s in targets]
        video_target = targets[video_template]
        source_packets = source_in.demux(sources) if sources else iter(())
        if start_time is not None:
            straddle = bool(out.format.flags & av.format.Flags.ts_negative.value)
            source_packets = _from_start(source_packets, start_time, straddle)
        merged = heapq.merge(_timed_packets(video_packets, 0, None, start_time),
                             _timed_packets(source_packets, 1, end_time, start_time))
        for _, origin, _, packet in merged:
            packet.stream = video_target if origin == 0 else targets[packet.stream]
            out.mux(packet)
    return copied_labels, dropped_labels


def _fsync(path: str) -> None:
    """Flush ``path`` to disk, so a rename that publishes it never publishes a torn file."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _encoder_options(codec: str, crf: float, preset: str) -> dict:
    """Encoder options for a quality level; validates that ``codec`` is a yuv420p video encoder."""
    try:
        found = av.codec.Codec(codec, "w")
    except ValueError:
        raise CodecStyleError(f"unknown video codec: {codec}") from None
    if found.type != "video":
        raise CodecStyleError(f"unknown video codec: {codec} (it encodes {found.type})")
    if found.video_formats and "yuv420p" not in {f.name for f in found.video_formats}:
        raise CodecStyleError(f"video codec {codec} cannot encode yuv420p")
    if codec in _X26X:
        return {"crf": f"{crf:g}", "preset": preset}
    if codec in _CRF_WITH_ZERO_BITRATE:
        return {"crf": f"{crf:g}", "b": "0"}
    return {}  # other encoders keep their own defaults


def _from_start(packets: Iterator["av.Packet"], start_time: float,
                straddle: bool) -> Iterator["av.Packet"]:
    """``packets`` less those that start before ``start_time`` (seconds); with ``straddle``,
    audio packets that start before it but end after it stay."""
    for packet in packets:
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is None or packet.time_base is None:
            yield packet  # no time to judge it by (flush packets): let the merge decide
            continue
        begin = float(stamp * packet.time_base)
        end = begin + float((packet.duration or 0) * packet.time_base)
        if begin >= start_time or (straddle and packet.stream.type == "audio" and end > start_time):
            yield packet


def _timed_packets(packets: Iterator["av.Packet"], origin: int, end_time: Optional[float],
                   start_time: Optional[float] = None) -> Iterator[Tuple[float, int, int, "av.Packet"]]:
    """``(seconds, origin, sequence, packet)`` in demux order, for merging files by decode time.

    ``seconds`` never decreases (a running maximum of dts), as ``heapq.merge`` needs sorted
    inputs; ``origin`` and ``sequence`` break ties so packets are never compared. Skips the empty
    flush packets demux yields at the end; with ``end_time``, drops packets starting at or after it.
    With ``start_time`` (seconds), packets are moved back by it (``seconds`` too); ``end_time`` is
    on the source's clock, before the move.
    """
    shifts: Dict[Fraction, int] = {}  # ticks to move back by, per time base
    last = float("-inf")
    for sequence, packet in enumerate(packets):
        if packet.dts is None and packet.size == 0:
            continue
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is not None and packet.time_base is not None:
            last = max(last, float(stamp * packet.time_base))
        if end_time is not None:
            if last > end_time + _INTERLEAVE_SLACK_S:
                break  # files interleave streams within a second or so: nothing later can start before end_time
            if packet.pts is not None and float(packet.pts * packet.time_base) >= end_time:
                continue
        if start_time is None:
            yield last, origin, sequence, packet
            continue
        if packet.time_base is not None:
            # Rounded per time base as the muxer rounds timestamps it rescales, so the first video
            # frame lands on 0 exactly whatever clock the segments were written on.
            shift = shifts.setdefault(packet.time_base, int(round(start_time / packet.time_base)))
            if packet.pts is not None:
                packet.pts -= shift
            if packet.dts is not None:
                packet.dts -= shift
        yield last - start_time, origin, sequence, packet
