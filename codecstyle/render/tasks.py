"""What a worker does: capture normalisation statistics, or render one segment.

These functions run wherever a backend puts them: this process (one worker), a spawned local
process, or a Ray worker on another machine. Their inputs are small picklable jobs that name
files (the input, and the segment folder beside the output) rather than carrying frames, so
every node must see those paths. Each job first applies its thread budget, and keeps the
network loaded between jobs (one ``Stylizer`` per process and style).

Progress goes out through a ``Reporter`` as small tuples:
``("start", segment, worker)``, ``("frames", segment, frames_done)``, ``("done", segment)``.
"""
from __future__ import annotations

import ctypes
import dataclasses
import os
import resource
import socket
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from ..options import ProcessOptions
from ..video.reader import VideoInfo
from .segments import Segment

#: Seconds between two frame-count reports of one segment.
REPORT_EVERY = 0.5
#: Modes whose engine keeps no state from frame to frame: their segments need no warm-up.
STATELESS_MODES = ("frame",)

_STYLIZERS: Dict[Tuple, object] = {}
_SCHEDULES: Dict[Tuple, object] = {}
_EVENTS = None  # the local pool's event queue, set in each worker process by ``workers.init_worker``


class Reporter:
    """Where a job's progress events go. The base class drops them."""

    def put(self, event: tuple) -> None:
        pass


class QueueReporter(Reporter):
    """Local worker processes: the event queue each got when it started (queues cannot travel
    inside jobs)."""

    def put(self, event: tuple) -> None:
        if _EVENTS is not None:
            try:
                _EVENTS.put_nowait(event)
            except Exception:  # a full or closed queue must never fail a render
                pass


class CallbackReporter(Reporter):
    """This process: call ``fn(event)`` directly."""

    def __init__(self, fn: Callable[[tuple], None]):
        self.fn = fn

    def put(self, event: tuple) -> None:
        self.fn(event)


@dataclass
class CaptureJob:
    """Capture statistics of the frames at ``pts`` (with ``windowed`` False: the frames whose
    display index is in ``pts``, read from the start)."""

    input: str
    info: VideoInfo
    options: ProcessOptions
    pts: List[int]
    threads: int
    windowed: bool = True


@dataclass
class SegmentJob:
    """Render ``segment`` into ``directory/filename`` (committed by rename), using the
    statistics in ``norm_path`` (None: per-frame statistics)."""

    input: str
    info: VideoInfo
    options: ProcessOptions
    segment: Segment
    directory: str
    filename: str
    norm_path: Optional[str]
    threads: int
    windowed: bool = True
    frame_costs: bool = False  # report each frame's cost (seconds since the previous one), for bench


def worker_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def set_thread_budget(threads: int) -> None:
    """Give torch, numba and OpenCV ``threads`` threads each (numba: at most its pool size)."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except ImportError:
        pass
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel at once.

    The network's activations are tens of MB per layer. glibc serves such blocks with ``mmap``
    and unmaps them on free, so every frame faulted them in again: a fifth of a worker's CPU time
    went to the kernel zeroing pages (640x272 frames here: 1.5 s of 8.8 s; with this, 0.02 s of
    7.4 s, for 22 MB more peak memory; 1280x720: 7.96 s -> 5.47 s for 8 frames, +60 MB), and two
    workers faulting at once slowed each other. A render with one worker runs in the calling
    process, which keeps the setting.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


#: Convolution kernels oneDNN (and PyTorch's ideep layer over it) keep compiled, per cache.
#: Every new input shape compiles ~10 (one per layer), and codec-mode tiles come in many shapes:
#: with the default 1024 entries a 720p worker grew by ~150 MB of cached kernels. With 32,
#: measured on 200 frames of bbb15s.mp4 (one worker, one thread): peak 909 -> 759 MB, 77.1 vs
#: 75.1 s (recompiling a shape costs 1.5-3 ms).
KERNEL_CACHE_ENTRIES = 32


def bound_kernel_caches() -> None:
    """Cap oneDNN's and ideep's kernel caches (``KERNEL_CACHE_ENTRIES``) unless the user set
    them. Both libraries read the variables when they first convolve, so this runs before."""
    for key in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"):
        os.environ.setdefault(key, str(KERNEL_CACHE_ENTRIES))


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the kernel (``malloc_trim``; nothing where libc is not
    glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def prepare_process(threads: int, kernels: bool = False) -> None:
    """What every job does first: bounded kernel caches, its thread budget, with ``kernels``
    the numba kernels compiled or loaded (``engine.kernel_warmup``) and the compiler's freed
    memory handed back, then memory kept for reuse."""
    bound_kernel_caches()
    set_thread_budget(threads)
    if kernels:
        from ..engine.kernel_warmup import warm_kernels

        warm_kernels()
        release_freed_memory()
    keep_freed_memory()


def thread_env(threads: int) -> Dict[str, str]:
    """Environment variables that cap the thread pools libraries create when they load.

    numpy's OpenBLAS gets one thread whatever the budget: the engine's matrix calls are small,
    and OpenBLAS threads keep spinning after them and fight torch's OpenMP threads for the cores
    (a 60-frame 720p codec render: 23.4 / 24.5 s with one OpenBLAS thread, 25.0 / 27.0 s without).
    """
    n = str(int(threads))
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": "1",
            "NUMBA_NUM_THREADS": n}


def stylizer_for(options: ProcessOptions):
    """This process's ``Stylizer`` for ``options`` (loaded once, then reused; None for looks
    that use no network)."""
    key = (str(options.style), options.strength, options.preserve_color, options.device,
           options.style_image, options.look)
    if key not in _STYLIZERS:
        from ..style_images import make_stylizer

        _STYLIZERS.clear()
        _STYLIZERS[key] = make_stylizer(options)
    stylizer = _STYLIZERS[key]
    if stylizer is not None:
        stylizer.shared_stats = None
    return stylizer


def pin_content_style(stylizer, job) -> None:
    """Give ``stylizer`` the content style vector of the film's first frame (style images at
    strength < 1): measured on each segment's own first frame, segments would differ."""
    if stylizer is None or not stylizer.uses_content or stylizer.content_source == job.input:
        return
    from ..pipeline import frame_size
    from ..video.reader import read_frames

    size = frame_size(job.info, job.options.max_size)
    for record in read_frames(job.input, size=size, vectors=False, threads=job.threads, max_frames=1):
        stylizer.measure_content(record.rgb, source=job.input)


def schedule_for(path: Optional[str]):
    """The ``StatsSchedule`` stored in ``path`` (cached per file version), or None."""
    if not path:
        return None
    from .norm import load_schedule

    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _SCHEDULES:
        _SCHEDULES.clear()
        _SCHEDULES[key] = load_schedule(path)
    return _SCHEDULES[key]


def run_capture(job: CaptureJob, report: Reporter = Reporter()) -> list:
    """Statistics (``norm.Capture``) of the sampled frames, in ``job.pts`` order."""
    from ..pipeline import frame_size
    from ..video.reader import read_frames
    from .norm import capture

    prepare_process(job.threads)
    stylizer = stylizer_for(job.options)
    pin_content_style(stylizer, job)
    size = frame_size(job.info, job.options.max_size)
    out = []
    if stylizer is None:  # no network, no statistics to share
        return out
    if job.windowed:
        for pts in job.pts:
            for record in read_frames(job.input, size=size, vectors=False, threads=job.threads,
                                      start_pts=pts, end_pts=pts + 1):
                out.append(capture(stylizer, record.rgb, record.pts))
    else:
        wanted = set(job.pts)
        for record in read_frames(job.input, size=size, vectors=False, threads=job.threads,
                                  max_frames=max(wanted) + 1):
            if record.display_index in wanted:
                out.append(capture(stylizer, record.rgb, record.pts))
    return out


def run_segment(job: SegmentJob, report: Reporter = Reporter()) -> dict:
    """Render one segment; the file appears at ``directory/filename`` only when complete.
    Returns what the manifest and the summary need (frames, seconds, stages, ...)."""
    from ..pipeline import stylize_range

    prepare_process(job.threads, kernels=job.options.mode not in STATELESS_MODES)
    seg = job.segment
    report.put(("start", seg.index, worker_label()))
    stylizer = stylizer_for(job.options)
    pin_content_style(stylizer, job)
    schedule = schedule_for(job.norm_path)
    count = [0, time.perf_counter()]
    costs: List[float] = []
    previous = [time.perf_counter()]

    def on_frame(record, rgb) -> None:
        count[0] += 1
        now = time.perf_counter()
        if job.frame_costs:
            costs.append(round(now - previous[0], 6))
            previous[0] = now
        if now - count[1] >= REPORT_EVERY:
            count[1] = now
            report.put(("frames", seg.index, count[0]))

    options = job.options if not job.windowed else dataclasses.replace(job.options, max_frames=None)
    path = os.path.join(job.directory, job.filename)
    warmup = seg.warmup_pts if job.options.mode not in STATELESS_MODES else None
    summary = stylize_range(job.input, path, options, info=job.info, start_pts=seg.start_pts,
                            end_pts=seg.end_pts, warmup_pts=warmup, stylizer=stylizer,
                            stats_at=schedule.at if schedule is not None else None,
                            copy_streams=False, reproducible=True, decode_threads=job.threads,
                            on_frame=on_frame)
    report.put(("frames", seg.index, summary.frames))
    report.put(("done", seg.index))
    return {"index": seg.index, "file": job.filename, "bytes": os.path.getsize(path),
            "frames": summary.frames, "planned_frames": seg.frames, "seconds": summary.seconds,
            "warmup_frames": seg.warmup_frames if warmup is not None else 0,
            "stages": summary.stages, "network_share": summary.network_share,
            "width": summary.width, "height": summary.height, "engine": summary.engine,
            "device": summary.device, "worker": worker_label(), "decode": summary.decode,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **({"frame_costs": costs} if job.frame_costs else {})}
