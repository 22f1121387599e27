"""The floor of every benchmark: decode + encode with the encoder settings ``process`` uses, no
network. No mode can be faster than this; the table quotes each mode as a multiple of it."""
from __future__ import annotations

import time
from typing import Callable, Optional

from ..options import ProcessOptions
from ..pipeline import RunSummary, _end_time, frame_size
from ..timing import StageTimer
from ..video.reader import probe, read_frames
from ..video.writer import VideoWriter


def transcode(input_path: str, output_path: str, options: ProcessOptions,
              on_frame: Optional[Callable] = None) -> RunSummary:
    """Decode ``input_path`` at ``options``' processing size and encode it into ``output_path``
    as a ``process`` segment is encoded (``options.codec/crf/preset``, one encoder thread,
    reproducible), copying the audio as the join does. ``on_frame(record, rgb)`` per frame.
    Returns the same ``RunSummary`` a render returns (no network: share 0)."""
    info = probe(input_path)
    timer = StageTimer()
    start = time.perf_counter()
    done = 0
    width = height = 0
    end_time = None  # where the audio is cut: after the last frame, as process cuts it
    if options.max_frames and (not info.frame_count or options.max_frames < info.frame_count):
        end_time = _end_time(input_path, options.max_frames)
    with VideoWriter(output_path, info, codec=options.codec, crf=options.crf, preset=options.preset,
                     end_time=end_time, reproducible=True) as writer:
        frames = read_frames(input_path, size=frame_size(info, options.max_size), vectors=False,
                             max_frames=options.max_frames)
        while True:
            t0 = time.perf_counter()
            record = next(frames, None)
            timer.add("decode", time.perf_counter() - t0)
            if record is None:
                break
            with timer.stage("encode"):
                writer.write(record.rgb, record.pts)
            height, width = record.rgb.shape[:2]
            done += 1
            if on_frame is not None:
                on_frame(record, record.rgb)
        with timer.stage("encode"):
            writer.close()
        timer.add("encode_thread", writer.encode_seconds)
    seconds = time.perf_counter() - start
    return RunSummary(input=input_path, output=output_path, frames=done, seconds=round(seconds, 3),
                      fps=round(done / seconds, 3) if seconds > 0 else 0.0, width=width, height=height,
                      network_share=0.0, stages=timer.as_dict(), options=options.as_dict(),
                      engine={"engine": "transcode"}, streams_copied=list(writer.copied_streams),
                      streams_dropped=list(writer.dropped_streams))
