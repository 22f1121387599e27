"""The resume manifest: which segments of a render are finished, kept beside the output.

``film_painted.mp4`` renders through ``.film_painted.mp4.codecstyle/``:

    manifest.json    fingerprint, plan, and one entry per finished segment
    norm.npz         the shared normalisation statistics (``--norm global|shot``)
    seg-00003.mp4    finished segments (video only)
    lock             held (``flock``) while a render runs, so two cannot share the folder

Every write is a commit: a file is written under a temporary name, flushed, and renamed (atomic
on POSIX), then ``manifest.json`` is rewritten the same way. A ``kill -9`` at any moment leaves
either the old or the new state, never a torn one; a segment file without a manifest entry is
simply rendered again. The fingerprint covers the input file (path, size, modification time,
and a hash of its first and last MiB), every option that changes the picture, the segment
plan and the codecstyle version: if any differs, the folder's contents are discarded. Worker
count, threads and backend are not in it, so a render may resume with other settings.
The folder is removed once the output is complete.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from typing import Dict, Optional

from ..errors import CodecStyleError
from ..partial_file import partial_file

FORMAT = 1
MANIFEST = "manifest.json"
NORM = "norm.npz"
_PROBE = 1 << 20


def manifest_dir(output_path: str) -> str:
    """The hidden folder beside ``output_path`` that holds its segments and manifest."""
    directory, name = os.path.split(os.path.abspath(output_path))
    return os.path.join(directory, f".{name}.codecstyle")


def input_identity(path: str) -> Dict[str, object]:
    """What identifies the input's content, cheaply: path, size, mtime, head and tail hash."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_PROBE))
        if st.st_size > _PROBE:
            handle.seek(max(_PROBE, st.st_size - _PROBE))
            digest.update(handle.read(_PROBE))
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256_ends": digest.hexdigest()}


def fingerprint(description: Dict[str, object]) -> str:
    """sha256 of a JSON description (input identity, options, plan, version)."""
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_atomic(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    temp = partial_file(path)
    try:
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Manifest:
    """An open, locked segment folder. ``done`` maps segment index to its committed entry."""

    def __init__(self, directory: str, key: str, description: Dict[str, object]):
        self.directory = directory
        self.key = key
        self.description = description
        self.done: Dict[int, dict] = {}
        self.norm: Optional[dict] = None
        self.restarted = False  # an earlier manifest was discarded (input or options changed)
        self.created = False
        self._lock = None

    @classmethod
    def open(cls, output_path: str, description: Dict[str, object]) -> "Manifest":
        """Create or reopen the folder for ``output_path``, lock it, and keep what an earlier
        run with the same fingerprint finished (files that are missing or differ in size are
        dropped)."""
        directory = manifest_dir(output_path)
        manifest = cls(directory, fingerprint(description), description)
        try:
            manifest.created = not os.path.isdir(directory)
            os.makedirs(directory, exist_ok=True)
            manifest._lock = open(os.path.join(directory, "lock"), "a")
        except OSError as exc:
            raise CodecStyleError(f"cannot create {directory} ({exc.strerror})") from None
        try:
            fcntl.flock(manifest._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            manifest._lock.close()
            raise CodecStyleError(f"another codecstyle process is rendering {output_path} "
                                  f"(its segments are in {directory})") from None
        manifest._load()
        return manifest

    def _load(self) -> None:
        for name in os.listdir(self.directory):
            if ".partial-" in name:  # what a killed run was writing
                os.remove(os.path.join(self.directory, name))
        path = os.path.join(self.directory, MANIFEST)
        state = None
        if os.path.exists(path):
            try:
                with open(path) as handle:
                    state = json.load(handle)
            except (OSError, ValueError):
                state = None
        if state is None or state.get("format") != FORMAT or state.get("fingerprint") != self.key:
            self.restarted = state is not None or any(n.startswith("seg-") for n in os.listdir(self.directory))
            self._clear()
            self._save()
            return
        for entry in state.get("done", {}).values():
            if self._present(entry):
                self.done[int(entry["index"])] = entry
        norm = state.get("norm")
        if norm and self._present(norm):
            self.norm = norm
        if len(self.done) != len(state.get("done", {})) or (norm and not self.norm):
            self._save()

    def _present(self, entry: dict) -> bool:
        path = os.path.join(self.directory, entry["file"])
        return os.path.isfile(path) and os.path.getsize(path) == entry["bytes"]

    def _clear(self) -> None:
        for name in os.listdir(self.directory):
            if name != "lock":
                path = os.path.join(self.directory, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

    def _save(self) -> None:
        state = {"format": FORMAT, "fingerprint": self.key, "description": self.description,
                 "norm": self.norm, "done": {str(k): v for k, v in sorted(self.done.items())}}
        _write_atomic(os.path.join(self.directory, MANIFEST),
                      json.dumps(state, indent=1, sort_keys=True, default=str).encode("utf-8"))

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def commit_segment(self, entry: dict) -> None:
        """Record a finished segment whose file (``entry["file"]``, ``entry["bytes"]``) a worker
        has already renamed into place."""
        if not self._present(entry):
            raise CodecStyleError(f"segment file {entry['file']} written by worker {entry.get('worker')} is not "
                                  f"in {self.directory}: with a cluster, the output folder must be on storage "
                                  f"every node shares")
        self.done[int(entry["index"])] = entry
        self._save()

    def commit_norm(self, data: bytes, info: dict) -> str:
        """Store the shared statistics (``norm.npz``) and record them; returns the file's path."""
        _write_atomic(self.path(NORM), data)
        self.norm = dict(info, file=NORM, bytes=len(data))
        self._save()
        return self.path(NORM)

    def release(self, keep: bool) -> None:
        """Unlock; remove the folder unless ``keep`` (finished work to resume from)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if not keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def has_work(self) -> bool:
        return bool(self.done) or self.norm is not None
