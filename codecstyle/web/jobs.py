"""Render jobs kept on disk, so they outlive the page and the server.

``JOBS/<id>/`` holds one job:

    job.json        the record below (rewritten atomically on every change)
    input.<ext>     the uploaded video (absent when the job names a file on the server's disk)
    style.<ext>     an uploaded style picture
    result.mp4      the finished film (rendered through ``.result.mp4.codecstyle/``, the
                    segment manifest of ``codecstyle process``, so an interrupted job resumes)

Ids are random hex; uploaded file names are only shown, never used as paths: a stored file's
name is fixed and its extension is kept only when it is short and alphanumeric.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from ..partial_file import partial_file

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
RECORD = "job.json"
RESULT = "result.mp4"
_ID = re.compile(r"^[0-9a-f]{12}$")
_EXT = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


@dataclass
class Job:
    """One render. ``options``: the form's values with the CLI's names (``style``, ``quality``,
    ``start``, ...), already validated; ``input``: absolute path of the video; ``version``
    grows with every change (the event stream's ids)."""

    id: str
    name: str
    input: str
    options: Dict[str, object]
    style_image: Optional[str] = None  # a stored style picture (``style.<ext>``)
    preview: bool = False
    created: float = field(default_factory=time.time)
    state: str = "queued"
    stage: Optional[str] = None
    message: Optional[str] = None
    frames_done: int = 0
    frames_total: int = 0
    fps: float = 0.0
    eta_seconds: Optional[float] = None
    segments: Dict[str, object] = field(default_factory=dict)
    error: Optional[str] = None
    summary: Optional[dict] = None
    pid: Optional[int] = None  # the render process while one runs
    version: int = 0

    def public(self, directory: str) -> dict:
        """What the API shows: everything but the process id and where the server keeps files.
        An uploaded input is shown by its uploaded name (in errors and the summary too); other
        paths inside the job's ``directory`` are shown relative to it. A path the user named
        on the server's disk is shown as it is."""
        data = asdict(self)
        data.pop("pid")
        data["style_image"] = bool(self.style_image)
        data["uploaded"] = os.path.basename(self.input).startswith("input.")
        shown = [(os.path.join(directory, ""), "")]
        if data["uploaded"]:
            data.pop("input")
            shown.insert(0, (self.input, self.name))
        data["result"] = f"/api/jobs/{self.id}/result" if self.state == "done" else None
        return _replaced(data, shown)


def _replaced(value, pairs):
    """``value`` (JSON-like) with each ``(old, new)`` of ``pairs`` replaced in every string."""
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {key: _replaced(item, pairs) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replaced(item, pairs) for item in value]
    return value


def safe_ext(filename: Optional[str], default: str = "") -> str:
    """The extension of an uploaded name when it is short and alphanumeric (``.mp4``), else
    ``default``: nothing of the name reaches a path but this."""
    ext = os.path.splitext(os.path.basename(filename or ""))[1]
    return ext.lower() if _EXT.match(ext) else default


def display_name(filename: Optional[str]) -> str:
    """An uploaded name as shown on the page: its last path component, printable, at most
    120 characters."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:120] or "video"


class JobStore:
    """The jobs under ``root``, loaded at start and kept in memory; every change is saved.
    Thread-safe: the API and the runner share it."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.lock = threading.RLock()
        self.jobs: Dict[str, Job] = {}
        for name in sorted(os.listdir(self.root)):
            job = self._load(name)
            if job is not None:
                self.jobs[job.id] = job

    def _load(self, name: str) -> Optional[Job]:
        if not _ID.match(name):
            return None
        try:
            with open(os.path.join(self.root, name, RECORD)) as handle:
                data = json.load(handle)
            return Job(**{k: v for k, v in data.items() if k in Job.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None  # a job folder whose record never got written: not a job

    def directory(self, job_id: str) -> str:
        if not _ID.match(job_id):
            raise KeyError(job_id)
        return os.path.join(self.root, job_id)

    def result_path(self, job_id: str) -> str:
        return os.path.join(self.directory(job_id), RESULT)

    def new_id(self) -> str:
        """A fresh id with its (empty) folder made."""
        while True:
            job_id = secrets.token_hex(6)
            try:
                os.makedirs(self.directory(job_id))
                return job_id
            except FileExistsError:
                continue

    def add(self, job: Job) -> Job:
        with self.lock:
            self.jobs[job.id] = job
            self.save(job)
        return job

    def public(self, job: Job) -> dict:
        """``job`` as the API shows it (``Job.public``)."""
        return job.public(self.directory(job.id))

    def get(self, job_id: str) -> Optional[Job]:
        with self.lock:
            return self.jobs.get(job_id)

    def list(self) -> List[Job]:
        """Newest first."""
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)

    def update(self, job_id: str, **changes) -> Optional[Job]:
        """Apply ``changes`` and save; None when the job is gone (deleted meanwhile)."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            for key, value in changes.items():
                setattr(job, key, value)
            job.version += 1
            self.save(job)
            return job

    def save(self, job: Job) -> None:
        path = os.path.join(self.directory(job.id), RECORD)
        temp = partial_file(path)
        with open(temp, "w") as handle:
            json.dump(asdict(job), handle, default=str)
        os.replace(temp, path)

    def remove(self, job_id: str) -> None:
        with self.lock:
            self.jobs.pop(job_id, None)
            shutil.rmtree(self.directory(job_id), ignore_errors=True)

    def unfinished(self) -> List[Job]:
        """Jobs still to render, oldest first (the queue's order)."""
        with self.lock:
            return sorted((j for j in self.jobs.values() if j.state not in FINISHED), key=lambda j: j.created)
