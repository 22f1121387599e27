"""The HTTP API and the page (FastAPI). Handlers only read the request and call ``submit``,
the ``JobStore`` and the ``JobRunner``; the OpenAPI page is at ``/docs``.

    POST   /api/jobs               multipart (file field ``video``, optional ``style_image``,
                                   options as fields) or JSON ``{"path": ..., options}``: 201 {"id"}
    GET    /api/jobs               every job, newest first
    GET    /api/jobs/{id}          state, frames_done, frames_total, fps, eta_seconds, segments,
                                   error, and the run summary when done
    GET    /api/jobs/{id}/events   the same as server-sent events, ids ``<server run>-<job version>``
    GET    /api/jobs/{id}/result   the finished video (range requests work; ?download=1 saves)
    DELETE /api/jobs/{id}          cancel, and remove its files
    GET    /api/styles             the built-in styles, each with a thumbnail URL

Mistakes a user can make answer 4xx with ``{"detail": "<the CLI's one line>"}``.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ..errors import CodecStyleError
from ..nets.style_spec import NUM_STYLES
from .jobs import FINISHED, JobStore
from .runner import JobRunner
from .submit import create_job
from .thumbnails import StyleThumbnails

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
#: Seconds between checks of a job for the event stream, and between keep-alive comments.
POLL = 0.25
KEEPALIVE = 15.0


class RevalidatedFiles(StaticFiles):
    """The page's script and styles, asked again (cheaply: ETag) on every load, so a browser
    never runs an old script against a newer server."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(store: JobStore, runner: JobRunner, thumbnails: Optional[StyleThumbnails] = None) -> FastAPI:
    from .. import __version__

    app = FastAPI(title="codecstyle", version=__version__,
                  description="Paint a film: submit a video, follow its render, download the result.")
    # Versions saved before a crash can be lower than ones already sent (progress is saved once
    # a second), so an event id names this server run too: an id from another run means "resend".
    run = secrets.token_hex(4)
    thumbnails = thumbnails or StyleThumbnails(os.path.join(store.root, ".cache"))
    app.mount("/static", RevalidatedFiles(directory=STATIC), name="static")

    @app.exception_handler(CodecStyleError)
    async def user_error(request: Request, exc: CodecStyleError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    def job_or_404(job_id: str):
        job = store.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-cache"})

    @app.post("/api/jobs", status_code=201, summary="Submit a video to paint")
    async def submit(request: Request):
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                raise CodecStyleError("the JSON body could not be read") from None
            if not isinstance(body, dict):
                raise CodecStyleError("the JSON body must be an object with 'path' and options")
            path = body.pop("path", None)
            if path is None:
                raise CodecStyleError("a JSON body needs 'path': a video file on the server")
            job = create_job(store, body, path=path)
        else:
            try:
                form = await request.form(max_part_size=1 << 24)
            except Exception as exc:  # python-multipart's errors: a malformed upload
                raise CodecStyleError(f"the upload could not be read ({exc})") from None
            fields, files = {}, {}
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    files[key] = (value.filename, value.file)
                else:
                    fields[key] = value
            unexpected = sorted(set(files) - {"video", "style_image"})
            if unexpected:
                raise CodecStyleError(f"unexpected file field {unexpected[0]!r}: send 'video' and 'style_image'")
            path = fields.pop("path", None)
            job = await asyncio.to_thread(create_job, store, fields, files.get("video"),
                                          path if path else None, files.get("style_image"))
        runner.notify()
        return {"id": job.id}

    @app.get("/api/jobs", summary="Every job, newest first")
    def list_jobs():
        with store.lock:
            return {"jobs": [store.public(job) for job in store.list()]}

    @app.get("/api/jobs/{job_id}", summary="A job's state and progress")
    def get_job(job_id: str):
        with store.lock:
            return store.public(job_or_404(job_id))

    @app.get("/api/jobs/{job_id}/events", summary="Progress as server-sent events")
    async def events(job_id: str, request: Request):
        job_or_404(job_id)
        last_run, _, last_version = request.headers.get("last-event-id", "").partition("-")
        sent = int(last_version) if last_run == run and last_version.isdigit() else -1

        async def stream():
            nonlocal sent
            quiet = 0.0
            while not await request.is_disconnected():
                with store.lock:
                    job = store.get(job_id)
                    data = None if job is None else store.public(job)
                if data is None:
                    yield "event: deleted\ndata: {}\n\n"
                    return
                if data["version"] != sent or data["state"] in FINISHED:
                    sent = data["version"]
                    quiet = 0.0
                    yield f"id: {run}-{sent}\nevent: job\ndata: {json.dumps(data, default=str)}\n\n"
                    if data["state"] in FINISHED:
                        return
                elif quiet >= KEEPALIVE:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
                await asyncio.sleep(POLL)
                quiet += POLL

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/jobs/{job_id}/result", summary="The finished video (range requests work)")
    def result(job_id: str, download: bool = False):
        job = job_or_404(job_id)
        path = store.result_path(job_id)
        if job.state != "done" or not os.path.exists(path):
            raise HTTPException(409, f"job {job_id} is {job.state}: no result yet")
        stem = os.path.splitext(job.name)[0] or "video"
        return FileResponse(path, media_type="video/mp4", filename=f"{stem}_painted.mp4",
                            content_disposition_type="attachment" if download else "inline")

    @app.delete("/api/jobs/{job_id}", status_code=204, summary="Cancel a job and remove its files")
    def delete(job_id: str):
        job_or_404(job_id)
        runner.cancel(job_id)
        store.remove(job_id)
        return Response(status_code=204)

    @app.get("/api/styles", summary="The built-in styles, with thumbnails")
    def styles():
        return {"styles": [{"style": str(n), "thumbnail": f"/api/styles/{n}.png"} for n in range(NUM_STYLES)]}

    @app.get("/api/styles/{style}.png", summary="A built-in style's thumbnail", include_in_schema=False)
    def style_thumbnail(style: int):
        if not 0 <= style < NUM_STYLES:
            raise HTTPException(404, f"no built-in style {style}: choose 0-{NUM_STYLES - 1}")
        return FileResponse(thumbnails.path(style), media_type="image/png",
                            headers={"Cache-Control": "max-age=86400"})

    return app
