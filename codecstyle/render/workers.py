"""Local backends: run jobs in this process, or in a pool of spawned worker processes.

Every backend offers ``run(fn, jobs)``, which yields ``(job number, result)`` as jobs finish
and raises the first job's error, and ``close(abort)``. Events the jobs report are handed to
``on_event`` in this process while it waits.

The pool uses the ``spawn`` start method (torch and fork do not mix) and gives each worker a
thread budget before torch, numba or OpenCV load (environment variables) and again when they
have (``set_num_threads``), so N workers x T threads never oversubscribe the cores. Workers
ignore Ctrl-C (this process stops them) and exit on their own if this process dies, even by
``kill -9``, so no orphan keeps computing.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from ..errors import CodecStyleError
from . import tasks

#: Seconds between checks for events and finished jobs.
POLL = 0.2
#: Rough peak memory (RSS) of one worker, rounded up from measurements here (2 workers x 1
#: thread): 0.59 GB in frame mode (bbb15s.mp4) and 674 MiB in codec mode at 720p (the 10-minute
#: film; 0.99 GB before the kernel caches were bounded, 0.80 GB before the store kept uint8
#: lumas, 746 MiB before int16 canvas positions and the fused network stem), 0.56 GB in codec
#: mode at 640x360. That is torch, the libraries and the network's weights (about 0.3 GB), plus
#: per pixel of a frame the network's activations (frame mode) or those and the engine's
#: canvases, frame history and encoder (codec/flow mode).
WORKER_BASE_MB = 300
WORKER_BYTES_PER_PIXEL = {"stateless": 450, "stateful": 440}


def cpu_count() -> int:
    """Cores this process may use (affinity-aware)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_mb() -> Optional[float]:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def plan_workers(workers: Optional[int], threads: Optional[int], jobs: int,
                 pixels: int = 0, cores: Optional[int] = None, stateful: bool = True) -> Tuple[int, int]:
    """``(workers, threads per worker)`` for ``jobs`` segments on this machine.

    Automatic workers: one per core, no more than segments, and no more than 80% of the
    available memory holds (a worker needs about ``WORKER_BASE_MB`` plus
    ``WORKER_BYTES_PER_PIXEL`` per pixel of a frame). Automatic threads: the cores divided
    between the workers.
    """
    cores = cores or cpu_count()
    if workers is None:
        workers = min(cores, max(1, jobs))
        free = available_mb()
        if free is not None and pixels:
            per_pixel = WORKER_BYTES_PER_PIXEL["stateful" if stateful else "stateless"]
            per_worker = WORKER_BASE_MB + per_pixel * pixels / 2 ** 20
            workers = max(1, min(workers, int(free * 0.8 // per_worker)))
        if threads is not None:
            workers = max(1, min(workers, cores // threads))
    if threads is None:
        threads = max(1, cores // workers)
    return workers, threads


class InlineBackend:
    """One worker: this process, one job after another, with the thread budget applied for the
    duration (and the previous torch setting restored afterwards)."""

    name = "inline"

    def __init__(self, threads: int, on_event: Callable[[tuple], None]):
        self.workers, self.threads = 1, threads
        self.reporter = tasks.CallbackReporter(on_event)
        self._restore: Optional[int] = None

    def run(self, fn: Callable, jobs: Sequence) -> Iterator[Tuple[int, object]]:
        import torch

        if self._restore is None:
            self._restore = torch.get_num_threads()
        for number, job in enumerate(jobs):
            yield number, fn(job, self.reporter)

    def close(self, abort: bool = False) -> None:
        if self._restore is not None:
            import torch

            torch.set_num_threads(self._restore)


def init_worker(threads: int, events, parent: int) -> None:
    """Runs first in every pool process: thread budget, Ctrl-C left to the parent, and a watch
    on the parent so the worker exits when it dies."""
    os.environ.update(tasks.thread_env(threads))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tasks._EVENTS = events
    die_with_parent(parent)
    tasks.prepare_process(threads)


def die_with_parent(parent: int) -> None:
    """End this process when process ``parent`` dies, even by ``kill -9``, so no orphan keeps
    computing: at once where the kernel offers it (Linux), else within half a second."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="codecstyle-parent-watch", daemon=True).start()


class LocalPool:
    """``workers`` spawned processes with ``threads`` threads each (``ProcessPoolExecutor``)."""

    name = "local"

    def __init__(self, workers: int, threads: int, on_event: Callable[[tuple], None]):
        self.workers, self.threads = workers, threads
        self.on_event = on_event
        context = multiprocessing.get_context("spawn")
        self.events = context.Queue()
        self.reporter = tasks.QueueReporter()
        # Children read the thread caps from the environment as they start, before any import.
        saved = {k: os.environ.get(k) for k in tasks.thread_env(threads)}
        os.environ.update(tasks.thread_env(threads))
        try:
            self.executor = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                                                initargs=(threads, self.events, os.getpid()))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def run(self, fn: Callable, jobs: Sequence) -> Iterator[Tuple[int, object]]:
        futures = {}
        try:
            for number, job in enumerate(jobs):
                futures[self.executor.submit(fn, job, self.reporter)] = number
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
                self.drain()
                for future in sorted(done, key=lambda f: futures[f]):
                    yield futures[future], future.result()
        except BrokenProcessPool:
            raise CodecStyleError("a worker process died unexpectedly (out of memory? try fewer --workers "
                                  "or a smaller --max-size); run the same command again to resume") from None
        finally:
            for future in futures:
                future.cancel()
            self.drain()

    def drain(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            self.on_event(event)

    def close(self, abort: bool = False) -> None:
        processes: List = list(getattr(self.executor, "_processes", {}).values())
        if abort:
            for process in processes:  # stop work in flight now rather than after the segment
                if process.is_alive():
                    process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.drain()  # a worker's last events can reach the queue after its result did
        self.events.close()
        self.events.join_thread()
