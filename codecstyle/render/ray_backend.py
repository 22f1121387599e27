"""Ray backend: segments as Ray tasks on a cluster (``--backend ray``, ``pip install codecstyle[ray]``).

Ray does the scheduling, the transport and the retries; this module only submits the same jobs
the local pool runs (``tasks.run_capture``, ``tasks.run_segment``) as ``ray.remote`` tasks with
``num_cpus`` set to the thread budget, and keeps at most ``workers`` of them in flight.
Jobs name files, not frames: the input must be at the same path on every node, and the
segments folder (beside the output) on storage every node shares. Progress events travel
through a ``ray.util.queue.Queue`` (a zero-CPU actor).
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator, Optional, Sequence, Tuple

from ..errors import CodecStyleError
from . import tasks
from .workers import POLL


class RayQueueReporter(tasks.Reporter):
    """Events into a ``ray.util.queue.Queue`` (picklable: it holds an actor handle)."""

    def __init__(self, events):
        self.events = events

    def put(self, event: tuple) -> None:
        try:
            self.events.put_nowait(event)
        except Exception:  # progress must never fail a render
            pass


def _call(fn: Callable, job, reporter: tasks.Reporter, threads: int):
    """The body of every Ray task: thread budget and allocator (``tasks.prepare_process``), then the job."""
    tasks.prepare_process(threads)
    return fn(job, reporter)


class RayBackend:
    """Connects to ``address`` (None: ``RAY_ADDRESS`` or a new local instance with
    ``workers x threads`` CPUs) and runs jobs there."""

    name = "ray"

    def __init__(self, address: Optional[str], workers: Optional[int], threads: Optional[int],
                 on_event: Callable[[tuple], None]):
        try:
            import ray
            from ray.util.queue import Queue
        except ImportError:
            raise CodecStyleError("--backend ray needs Ray: pip install 'codecstyle[ray]'") from None
        self.ray = ray
        self.on_event = on_event
        self.threads = threads or 1
        self.started = not ray.is_initialized()
        if self.started:
            kwargs = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
            if address:
                kwargs["address"] = address
            elif workers:
                kwargs["num_cpus"] = workers * self.threads
            try:
                ray.init(**kwargs)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise CodecStyleError(f"cannot reach the Ray cluster at {address or 'RAY_ADDRESS/local'} "
                                      f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        cpus = float(ray.cluster_resources().get("CPU", 1))
        if self.threads > cpus:
            raise CodecStyleError(f"--threads {self.threads}: the Ray cluster has {cpus:g} CPUs")
        self.workers = workers or max(1, int(cpus // self.threads))
        self.events = Queue(actor_options={"num_cpus": 0})
        self.reporter = RayQueueReporter(self.events)
        self.remote = ray.remote(num_cpus=self.threads)(_call)

    def run(self, fn: Callable, jobs: Sequence) -> Iterator[Tuple[int, object]]:
        ray = self.ray
        waiting = list(enumerate(jobs))
        waiting.reverse()
        running = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.workers:
                    number, job = waiting.pop()
                    running[self.remote.remote(fn, job, self.reporter, self.threads)] = number
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
                self.drain()
                for ref in done:
                    number = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = getattr(exc, "cause", None)
                        if isinstance(cause, CodecStyleError):
                            raise CodecStyleError(str(cause)) from None
                        raise
                    yield number, result
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            self.drain()

    def drain(self) -> None:
        try:
            while not self.events.empty():
                self.on_event(self.events.get_nowait())
        except Exception:
            return

    def close(self, abort: bool = False) -> None:
        try:
            self.ray.kill(self.events.actor)
        except Exception:
            pass
        if self.started:
            self.ray.shutdown()
