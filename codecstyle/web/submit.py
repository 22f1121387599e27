"""Turning a submitted form into a stored, queued job (what ``POST /api/jobs`` does).

The options are checked before anything is stored (a mistake is a ``CodecStyleError`` with the
CLI's line, and nothing is left behind). An uploaded video or style picture is copied into the
job's folder under a fixed name; a server path must name a readable regular file, and is
rendered where it is (for films too big to upload).
"""
from __future__ import annotations

import errno
import os
import shutil
from typing import BinaryIO, Mapping, Optional, Tuple

from ..errors import CodecStyleError
from .form import clean_values, parse_flag, process_options
from .jobs import Job, JobStore, display_name, safe_ext

Upload = Tuple[Optional[str], BinaryIO]  # (name the browser sent, readable file)


def _store(upload: Upload, path: str, what: str) -> str:
    """Copy ``upload`` to ``path``; a disk-full or unwritable folder is a one-line error."""
    try:
        with open(path, "wb") as out:
            shutil.copyfileobj(upload[1], out, 1 << 20)
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise CodecStyleError(f"cannot store the {what}: {reason}") from None
    if os.path.getsize(path) == 0:
        raise CodecStyleError(f"the uploaded {what} is empty")
    return path


def server_file(path: str) -> str:
    """``path`` (on the server's disk) as an absolute path, when it is a readable regular file."""
    if not isinstance(path, str) or not path.strip():
        raise CodecStyleError("path must name a video file on the server")
    full = os.path.abspath(os.path.expanduser(path.strip()))
    if not os.path.exists(full):
        raise CodecStyleError(f"no such file: {path}")
    if not os.path.isfile(full):
        raise CodecStyleError(f"not a file: {path}")
    if not os.access(full, os.R_OK):
        raise CodecStyleError(f"cannot read {path}: permission denied")
    return full


def create_job(store: JobStore, values: Mapping[str, object], video: Optional[Upload] = None,
               path: Optional[str] = None, style_image: Optional[Upload] = None) -> Job:
    """A queued job for ``values`` (the option fields, plus ``preview``) on an uploaded ``video``
    or a server ``path`` (exactly one), with an optional uploaded ``style_image``."""
    values = dict(values)
    preview = parse_flag(values.pop("preview", False), "preview")
    if (video is None) == (path is None):
        raise CodecStyleError("send the video as the file field 'video', or a JSON body with 'path'")
    source = server_file(path) if path is not None else None
    style_ext = safe_ext(style_image[0], ".png") if style_image is not None else None
    # Checked with a stand-in picture path first: no upload is stored for a job that cannot run.
    process_options(values, "style" + style_ext if style_ext else None)
    job_id = store.new_id()
    directory = store.directory(job_id)
    try:
        picture = None
        if style_image is not None:
            picture = _store(style_image, os.path.join(directory, "style" + style_ext), "style picture")
        if video is not None:
            source = _store(video, os.path.join(directory, "input" + safe_ext(video[0], ".mp4")), "video")
        options = process_options(values, picture)
        name = display_name(video[0] if video is not None else os.path.basename(source))
        job = Job(id=job_id, name=name, input=source, options=_stored(values, options), style_image=picture,
                  preview=preview)
        return store.add(job)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _stored(values: Mapping[str, object], options) -> dict:
    """The job's option fields, as ``process_options`` will read them again in the render."""
    return {key: getattr(options, key) for key in clean_values(values)}
