"""The job queue: unfinished jobs rendered one after another, each in a ``job_process``.

One thread takes the oldest queued job, starts its render process, and turns the process's
messages into changes of the job record (``JobStore.update``), which the API and the event
stream read. ``cancel`` kills the process and its workers. At start, jobs a previous server left
queued or running are queued again in their order; a render process a crashed server left
behind is killed first, so the resumed render can take the segment folder's lock.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from .jobs import FINISHED, JobStore

#: Seconds between saves of a running job's progress (state changes are saved at once).
SAVE_EVERY = 1.0
LOG = "render.log"


def _alive_render(pid: Optional[int], job_id: str) -> bool:
    """Whether ``pid`` is still a render process of ``job_id`` (not a recycled pid)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().decode(errors="replace")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return False  # no /proc: cannot tell it is ours, so leave it alone
    return "codecstyle.web.job_process" in cmdline and job_id in cmdline


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


class JobRunner:
    """Renders the ``store``'s unfinished jobs, ``concurrent`` at a time (default one: a queue).
    ``segment_seconds``: the renders' segment length (None: ``render_film``'s automatic one)."""

    def __init__(self, store: JobStore, concurrent: int = 1, segment_seconds: Optional[float] = None):
        self.store = store
        self.concurrent = max(1, concurrent)
        self.segment_seconds = segment_seconds
        self.wake = threading.Condition()
        self.procs = {}
        self.stopping = False
        self.threads = []
        for job in store.unfinished():
            if _alive_render(job.pid, job.id):
                os.killpg(job.pid, signal.SIGKILL)  # a crashed server's render: it holds the lock
                _wait_gone(job.pid)
            if job.state == "running":
                store.update(job.id, state="queued", pid=None, stage=None,
                             message="the server restarted: resuming from the finished segments")

    def start(self) -> "JobRunner":
        for number in range(self.concurrent):
            thread = threading.Thread(target=self._loop, name=f"codecstyle-jobs-{number}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def notify(self) -> None:
        """A job was queued."""
        with self.wake:
            self.wake.notify_all()

    def stop(self) -> None:
        """Stop taking jobs and kill running renders (they resume at the next start)."""
        with self.wake:
            self.stopping = True
            self.wake.notify_all()
        for proc in list(self.procs.values()):
            _kill(proc)

    def cancel(self, job_id: str) -> None:
        """Stop ``job_id`` if it runs; the caller then removes it."""
        with self.wake:
            job = self.store.get(job_id)
            if job is not None and job.state not in FINISHED:
                self.store.update(job_id, state="cancelled", stage=None)
            proc = self.procs.get(job_id)
        if proc is not None:
            _kill(proc)

    def _next(self):
        with self.wake:
            while not self.stopping:
                for job in self.store.unfinished():
                    if job.state == "queued" and job.id not in self.procs:
                        self.procs[job.id] = None  # claimed
                        return job
                self.wake.wait(timeout=1.0)
        return None

    def _loop(self) -> None:
        while True:
            job = self._next()
            if job is None:
                return
            try:
                self._render(job.id)
            finally:
                with self.wake:
                    self.procs.pop(job.id, None)

    def _render(self, job_id: str) -> None:
        directory = self.store.directory(job_id)
        log_path = os.path.join(directory, LOG)
        with open(log_path, "ab") as log:
            cmd = [sys.executable, "-m", "codecstyle.web.job_process", directory, str(os.getpid())]
            if self.segment_seconds:
                cmd.append(str(self.segment_seconds))
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                    start_new_session=True, text=True)
        with self.wake:
            cancelled = self.stopping or job_id not in self.procs or self.store.get(job_id) is None \
                or self.store.get(job_id).state != "queued"
            self.procs[job_id] = proc
        if cancelled:
            _kill(proc)
        else:
            self.store.update(job_id, state="running", pid=proc.pid, error=None)
        error = summary = None
        saved = 0.0
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "progress" in message:
                snap = message["progress"]
                now = time.monotonic()
                fields = {k: snap.get(k) for k in ("stage", "message", "frames_done", "frames_total", "fps",
                                                   "eta_seconds", "segments")}
                with self.store.lock:
                    job = self.store.get(job_id)
                    if job is None or job.state != "running":
                        continue
                    for key, value in fields.items():
                        setattr(job, key, value)
                    job.version += 1
                    if now - saved >= SAVE_EVERY or snap.get("stage") != "rendering":
                        self.store.save(job)
                        saved = now
            elif "error" in message:
                error = str(message["error"])
            elif "summary" in message:
                summary = message["summary"]
        code = proc.wait()
        job = self.store.get(job_id)
        if job is None or job.state != "running" or self.stopping:
            return  # cancelled (and maybe removed), or the server is stopping: resumes at the next start
        if code == 0 and summary is not None:
            self.store.update(job_id, state="done", stage="done", pid=None, summary=summary, eta_seconds=0.0,
                              frames_done=summary.get("frames", job.frames_done),
                              frames_total=summary.get("frames", job.frames_total), message=None)
        else:
            reason = error or _last_line(log_path) or f"the render stopped (exit code {code})"
            self.store.update(job_id, state="failed", pid=None, error=reason, eta_seconds=None)


def _kill(proc) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the render and its worker processes
    except OSError:
        pass
    proc.wait()


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
