"""``stylize_video``: reader -> engine -> writer, with progress and a run summary."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

from .engine.base import Engine
from .engine.codec import CodecEngine, CodecSettings
from .engine.frame import FrameEngine
from .nets.stylizer import Stylizer
from .options import ProcessOptions
from .progress import ProgressBar
from .timing import StageTimer
from .video.reader import VideoInfo, fit_size, probe, read_frames
from .video.writer import VideoWriter


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

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def make_engine(options: ProcessOptions, stylizer: Stylizer, timer: StageTimer, info: VideoInfo) -> Engine:
    if options.mode == "codec":
        settings = CodecSettings(quality=options.quality)
        return CodecEngine(stylizer, timer, (info.width, info.height), info.codec, settings)
    return FrameEngine(stylizer, timer)


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
    left at ``output_path`` and the input is never touched.
    """
    options.validate()
    info = probe(input_path)
    size = frame_size(info, options.max_size)
    stylizer = stylizer or Stylizer(options.style, options.strength, options.preserve_color, options.device)
    timer = StageTimer()
    engine = make_engine(options, stylizer, timer, info)
    total = info.frame_count
    if options.max_frames:
        total = min(total, options.max_frames) if total else options.max_frames
    bar = ProgressBar(total, label=os.path.basename(input_path), enabled=progress)
    writer = None
    if output_path is not None:
        end_time = None
        if options.max_frames and (not info.frame_count or options.max_frames < info.frame_count):
            end_time = _end_time(input_path, options.max_frames)
        writer = VideoWriter(output_path, info, codec=options.codec, crf=options.crf,
                             preset=options.preset, end_time=end_time)
    done = 0
    width = height = 0
    start = time.perf_counter()
    try:
        frames = read_frames(input_path, size=size, vectors=options.mode == "codec",
                             max_frames=options.max_frames)
        while True:
            t0 = time.perf_counter()
            record = next(frames, None)
            timer.add("decode", time.perf_counter() - t0)
            finished = engine.push(record) if record is not None else engine.flush()
            for rec, rgb in finished:
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
        if writer is not None:
            with timer.stage("encode"):
                writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        bar.abandon()
        raise
    bar.close()
    seconds = time.perf_counter() - start
    return RunSummary(
        input=input_path, output=output_path, frames=done, seconds=round(seconds, 3),
        fps=round(done / seconds, 3) if seconds > 0 else 0.0, width=width, height=height,
        network_share=round(engine.stats.network_share, 4), stages=timer.as_dict(),
        options=options.as_dict(), engine=engine.describe(),
        streams_copied=list(getattr(writer, "copied_streams", [])),
        streams_dropped=list(getattr(writer, "dropped_streams", [])),
        device=str(stylizer.device),
    )


def _end_time(path: str, max_frames: int) -> Optional[float]:
    """Seconds at which the first ``max_frames`` frames end (the next frame's time), so audio can
    be cut there; None when the video has no more frames than that."""
    last = None
    for last in read_frames(path, size=(16, 16), vectors=False, max_frames=max_frames + 1):
        pass
    return last.time if last is not None and last.display_index == max_frames else None
