"""``stylize_video``: reader -> engine -> writer, with progress and a run summary."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Optional

from .errors import CodecStyleError
from .options import ProcessOptions
from .progress import TerminalBar
from .render.progress import FilmProgress
from .timing import StageTimer
from .video.decode_report import DecodeReport
from .video.reader import VideoInfo, fit_size, probe, read_frames
from .video.writer import VideoWriter

if TYPE_CHECKING:  # engines and the network load torch and numba: imported where they are used, so
    # that RunSummary and frame_size load without them (a film render's parent process never runs
    # the network, and importing torch costs it seconds and ~200 MB)
    from .engine.base import Engine
    from .nets.frozen_norm import NormStats
    from .nets.stylizer import Stylizer


@dataclass
class RunSummary:
    """What a run did, for ``--json`` and for benchmarks."""

    input: str
    output: Optional[str]
    frames: int
    seconds: float
    fps: float
    width: int
    height: int
    network_share: float
    stages: Dict[str, float]
    options: Dict[str, object]
    engine: Dict[str, object] = field(default_factory=dict)
    streams_copied: list = field(default_factory=list)
    streams_dropped: list = field(default_factory=list)
    device: str = "cpu"
    render: Dict[str, object] = field(default_factory=dict)  # segmented renders: workers, segments, norm
    decode: Dict[str, object] = field(default_factory=dict)  # DecodeReport.as_dict(): lost frames, times

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def make_engine(options: ProcessOptions, stylizer: Stylizer, timer: StageTimer, info: VideoInfo) -> Engine:
    from .engine.codec import CodecEngine, CodecSettings
    from .engine.flow import FlowEngine
    from .engine.frame import FrameEngine

    if options.look == "photo":
        from .engine.look import LookEngine
        from .style_images import load_style_images

        return LookEngine(load_style_images(options.style_image)[0][0], options.strength, timer)
    settings = CodecSettings(quality=options.quality, frame_rate=float(info.average_rate or 25))
    if options.mode == "codec":
        return CodecEngine(stylizer, timer, (info.width, info.height), info.codec, settings)
    if options.mode == "flow":
        return FlowEngine(stylizer, timer, (info.width, info.height), info.codec, settings)
    return FrameEngine(stylizer, timer)


def needs_vectors(options: ProcessOptions) -> bool:
    """Whether the engine for ``options`` reads the codec's motion vectors."""
    return options.mode == "codec" and options.look != "photo"


def frame_size(info: VideoInfo, max_size: Optional[int]):
    """The ``(width, height)`` frames are processed at, or ``None`` for the coded size."""
    if not max_size or max(info.width, info.height) <= max_size:
        return None
    return fit_size(info.width, info.height, max_size)


def stylize_video(input_path: str, output_path: Optional[str], options: ProcessOptions,
                  progress: bool = True, on_frame: Optional[Callable] = None,
                  stylizer: Optional[Stylizer] = None) -> RunSummary:
    """Stylize ``input_path`` into ``output_path`` (None: process and discard, for benchmarks).

    ``on_frame(record, stylized_rgb)`` is called for every finished frame in display order.
    The output is written to a temporary name and renamed at the end; on any error nothing is
    left at ``output_path`` and the input is never touched. Excerpts (``options.start`` or
    ``duration``) are ``codecstyle.render.render_film``'s; here they raise ``CodecStyleError``.
    """
    options.validate()
    if options.start is not None or options.duration is not None:
        raise CodecStyleError("--start and --duration are rendered by codecstyle.render.render_film, "
                              "not by stylize_video")
    info = probe(input_path)
    size = frame_size(info, options.max_size)
    stylizer = stylizer or _new_stylizer(options)
    total = info.frame_count
    if options.max_frames:
        total = min(total, options.max_frames) if total else options.max_frames
    bar = _FrameProgress(total, TerminalBar(os.path.basename(input_path), enabled=progress))
    writer = None
    if output_path is not None:
        end_time = None
        if options.max_frames and (not info.frame_count or options.max_frames < info.frame_count):
            end_time = _end_time(input_path, options.max_frames)
        writer = VideoWriter(output_path, info, codec=options.codec, crf=options.crf,
                             preset=options.preset, end_time=end_time)
    report = DecodeReport()
    frames = read_frames(input_path, size=size, vectors=needs_vectors(options),
                         max_frames=options.max_frames, report=report, strict=options.strict)
    return _run(input_path, output_path, options, info, frames, stylizer, writer, bar, on_frame,
                report=report)


def stylize_range(input_path: str, output_path: Optional[str], options: ProcessOptions, *,
                  info: Optional[VideoInfo] = None, start_pts: Optional[int] = None,
                  end_pts: Optional[int] = None, stylizer: Optional[Stylizer] = None,
                  warmup_pts: Optional[int] = None,
                  stats_at: Optional[Callable[[int], Optional[NormStats]]] = None,
                  copy_streams: bool = True, reproducible: bool = False,
                  decode_threads: int = 0, on_frame: Optional[Callable] = None) -> RunSummary:
    """Stylize the frames with ``start_pts <= pts < end_pts`` (source time base; None: unbounded)
    into ``output_path``: one segment of a film rendered in parts (``codecstyle.render``).

    The same engine (``make_engine``), writer and summary as ``stylize_video``, plus:
    - warmup_pts: the engine also sees the frames from ``warmup_pts`` (a keyframe before
      ``start_pts``) on, so an engine that carries state from frame to frame (codec: the
      propagated picture, faded into each refresh) reaches ``start_pts`` as if it had run all
      along; those frames are not written, counted or reported.
    - stats_at(pts): the normalisation statistics for the frame at ``pts`` (set as the
      stylizer's ``shared_stats`` before the frame goes in), or None for per-frame statistics.
    - copy_streams=False: a video-only file (segments are joined, with the audio, later).
    - reproducible: encode so the same frames always give the same bytes (see ``VideoWriter``).
    - decode_threads: the decoder's share of a worker's thread budget (0: automatic).
    ``options.max_frames`` still caps the number of frames. No progress bar: ``on_frame``
    reports progress. The output is written under a temporary name and renamed when complete.
    """
    options.validate()
    info = info or probe(input_path)
    stylizer = stylizer or _new_stylizer(options)
    writer = None
    if output_path is not None:
        writer = VideoWriter(output_path, info, codec=options.codec, crf=options.crf, preset=options.preset,
                             copy_streams=copy_streams, reproducible=reproducible)
    first = warmup_pts if warmup_pts is not None and start_pts is not None and warmup_pts < start_pts else start_pts
    report = DecodeReport()
    frames = read_frames(input_path, size=frame_size(info, options.max_size), vectors=needs_vectors(options),
                         max_frames=options.max_frames, threads=decode_threads, start_pts=first,
                         end_pts=end_pts, report=report, strict=options.strict, count_from=start_pts)
    bar = _FrameProgress(0, TerminalBar("", enabled=False))
    return _run(input_path, output_path, options, info, frames, stylizer, writer, bar, on_frame, stats_at,
                emit_from=start_pts if first != start_pts else None, report=report)


class _FrameProgress:
    """One file's frames as a one-segment ``FilmProgress``, shown on a ``TerminalBar``."""

    def __init__(self, total: int, terminal: TerminalBar):
        self.terminal = terminal
        self.model = FilmProgress({0: total}, (), [terminal])

    def update(self, done: int) -> None:
        if done == 1:
            self.model.event(("start", 0, "inline"))
        if done > self.model.total:  # the container's frame count was an estimate
            self.model.planned[0] = self.model.total = done
        self.model.event(("frames", 0, done))

    def close(self) -> None:
        self.terminal.close()

    def abandon(self) -> None:
        self.terminal.abandon()


def _new_stylizer(options: ProcessOptions) -> Optional["Stylizer"]:
    from .style_images import make_stylizer

    return make_stylizer(options)


def _run(input_path: str, output_path: Optional[str], options: ProcessOptions, info: VideoInfo, frames,
         stylizer: Stylizer, writer: Optional[VideoWriter], bar: "_FrameProgress", on_frame: Optional[Callable],
         stats_at: Optional[Callable[[int], Optional[NormStats]]] = None,
         emit_from: Optional[int] = None, report: Optional[DecodeReport] = None) -> RunSummary:
    """reader -> engine -> writer for the ``frames`` iterator; the writer is closed (or aborted).
    Finished frames before ``emit_from`` (pts) only warm the engine up: they are dropped.
    ``report`` is the reader's ``DecodeReport``, copied into the summary."""
    timer = StageTimer()
    done = 0
    width = height = 0
    start = time.perf_counter()
    try:
        engine = make_engine(options, stylizer, timer, info)
        while True:
            t0 = time.perf_counter()
            record = next(frames, None)
            timer.add("decode", time.perf_counter() - t0)
            if record is not None and stats_at is not None and stylizer is not None:
                stylizer.shared_stats = stats_at(record.pts)
            finished = engine.push(record) if record is not None else engine.flush()
            for rec, rgb in finished:
                if emit_from is not None and rec.pts < emit_from:
                    continue
                height, width = rgb.shape[:2]
                if writer is not None:
                    with timer.stage("encode"):
                        writer.write(rgb, rec.pts)
                if on_frame is not None:
                    on_frame(rec, rgb)
                done += 1
                bar.update(done)
            if record is None:
                break
        if done == 0:
            raise CodecStyleError(f"no decodable video frames in {input_path}")
        if writer is not None:
            with timer.stage("encode"):
                writer.close()
            timer.add("encode_thread", writer.encode_seconds)
    except BaseException:
        if writer is not None:
            writer.abort()
        bar.abandon()
        raise
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    bar.close()
    seconds = time.perf_counter() - start
    return RunSummary(
        input=input_path, output=output_path, frames=done, seconds=round(seconds, 3),
        fps=round(done / seconds, 3) if seconds > 0 else 0.0, width=width, height=height,
        network_share=round(engine.stats.network_share, 4), stages=timer.as_dict(),
        options=options.as_dict(), engine=engine.describe(),
        streams_copied=list(getattr(writer, "copied_streams", [])),
        streams_dropped=list(getattr(writer, "dropped_streams", [])),
        device=str(stylizer.device) if stylizer is not None else "cpu",
        decode=report.as_dict() if report is not None else {},
    )


def _end_time(path: str, max_frames: int) -> Optional[float]:
    """Seconds at which the first ``max_frames`` frames end (the next frame's time), so audio can
    be cut there; None when the video has no more frames than that."""
    last = None
    for last in read_frames(path, size=(16, 16), vectors=False, max_frames=max_frames + 1):
        pass
    return last.time if last is not None and last.display_index == max_frames else None
