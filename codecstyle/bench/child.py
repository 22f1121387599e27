"""One timed benchmark run, in a fresh spawned process: what ``codecstyle process`` runs.

A mode's run is ``render_film`` with the options ``process`` would use (its normalisation, its
workers and threads, its encoder settings, the segment join and the audio copy), after an
untimed warm-up render of a few frames in the same process. The floor's run is ``transcode``.
After the timed run, the child writes what quality needs as raw ``(H, W, 3)`` uint8 files: the
output *as encoded* (what a user gets) and, when asked, the decoded source at the processing
size. Returns plain data: the run summary, per-frame costs, frame types and peak memory.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import List, Optional, Tuple

import numpy as np

from ..errors import CodecStyleError
from ..options import ProcessOptions, RenderOptions
from .peer import vm_hwm


def peak_rss_bytes() -> Optional[int]:
    """This process's peak resident memory: VmHWM (per address space, so exact after spawn)."""
    peak = vm_hwm("self")
    if peak is not None:
        return peak
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss if sys.platform == "darwin" else rss * 1024)
    except (ImportError, OSError):
        return None


def child_run(job: dict) -> dict:
    """Runs in the spawned process. ``job``: input, output (a path in a scratch folder), kind
    (``render`` or ``floor``), options and render (dicts), warmup (frames), capture_out and
    capture_src (raw file paths or None)."""
    from ..render.film import render_film
    from .floor import transcode

    opts = ProcessOptions(**job["options"])
    render = RenderOptions(**job["render"])
    costs: List[float] = []
    if job["kind"] == "floor":
        stamps: List[float] = []
        start = time.perf_counter()
        summary = transcode(job["input"], job["output"], opts, on_frame=lambda r, rgb: stamps.append(time.perf_counter()))
        costs = [b - a for a, b in zip([start] + stamps[:-1], stamps)]
        peak = peak_rss_bytes()
    else:
        if job["warmup"]:  # torch, weights and first calls; a user's shell pays them once per film
            warm = os.path.join(os.path.dirname(job["output"]), "warmup" + os.path.splitext(job["output"])[1])
            render_film(job["input"], warm, dataclasses.replace(opts, max_frames=job["warmup"]), render,
                        progress=False)
            os.remove(warm)
        summary = render_film(job["input"], job["output"], opts, render, progress=False, frame_costs=True)
        costs = list(summary.render.get("frame_costs") or [])
        peak = _tree_peak(summary.render)
    types = _capture(job, opts, (summary.height, summary.width))
    os.remove(job["output"])
    result = summary.as_dict()
    result.get("render", {}).pop("frame_costs", None)
    return {"summary": result, "costs": costs, "types": types, "peak_rss": peak,
            "shape": [summary.height, summary.width], "torch_threads": summary.render.get("threads")}


def _tree_peak(render: dict) -> Optional[int]:
    """Peak memory of a render's processes: the main process, plus each worker when the render
    used worker processes (their peaks added: an upper bound of what was resident at once)."""
    peaks = render.get("peak_rss_mb") or {}
    main = peak_rss_bytes() or 0
    if render.get("backend") == "inline":
        return main
    return int(main + render.get("workers", 0) * peaks.get("worker_max", 0) * 2 ** 20)


def _capture(job: dict, opts: ProcessOptions, shape: Tuple[int, int]) -> List[str]:
    """Write the encoded output's frames (cropped to the processing size ``shape``, (H, W)) and,
    if asked, the source's, as raw uint8 files; returns the source's picture types."""
    import av

    from ..pipeline import frame_size
    from ..video.reader import probe, read_frames

    types: List[str] = []
    height, width = shape
    if job.get("capture_src"):
        size = frame_size(probe(job["input"]), opts.max_size)
        with open(job["capture_src"], "wb") as fh:
            for record in read_frames(job["input"], size=size, vectors=False, max_frames=opts.max_frames):
                types.append(record.pict_type)
                fh.write(np.ascontiguousarray(record.rgb).tobytes())
    if job.get("capture_out"):
        with av.open(job["output"]) as container, open(job["capture_out"], "wb") as fh:
            for frame in container.decode(video=0):
                rgb = frame.to_ndarray(format="rgb24")[:height, :width]  # the writer pads odd sizes
                fh.write(np.ascontiguousarray(rgb).tobytes())
    return types


def run_child(job: dict, label: str) -> dict:
    """``child_run(job)`` in a fresh spawned process."""
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(child_run, job).result()
    except BrokenProcessPool:
        raise CodecStyleError(f"the benchmark run of {label} died (out of memory?)") from None
