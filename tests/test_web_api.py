"""The web API (``codecstyle serve``) through FastAPI's test client, with real renders: submit,
events, state, result (range requests), cancel, bad uploads, traversal names, restart-and-resume."""
import json
import os
import time

import av
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from clips import make_clip  # noqa: E402
from codecstyle.web.app import create_app  # noqa: E402
from codecstyle.web.jobs import JobStore  # noqa: E402
from codecstyle.web.runner import JobRunner  # noqa: E402

FINISHED = ("done", "failed", "cancelled")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """48 frames (1.92 s) at 96x64 with AAC audio."""
    return make_clip(str(tmp_path_factory.mktemp("web") / "clip.mp4"), width=96, height=64, frames=48,
                     gop=12, audio=True)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """240 frames (9.6 s) at 160x120, GOPs of 24: several segments, long enough to interrupt."""
    return make_clip(str(tmp_path_factory.mktemp("web") / "film.mp4"), width=160, height=120, frames=240,
                     gop=24)


class Server:
    """A store, a runner and the app over ``root``; ``stop`` is what a crash does to renders."""

    def __init__(self, root, segment_seconds=None):
        self.store = JobStore(str(root))
        self.runner = JobRunner(self.store, segment_seconds=segment_seconds).start()
        self.client = TestClient(create_app(self.store, self.runner))

    def submit(self, path, name=None, **fields):
        with open(path, "rb") as handle:
            files = {"video": (name or os.path.basename(path), handle, "video/mp4")}
            return self.client.post("/api/jobs", files=files, data={k: str(v) for k, v in fields.items()})

    def wait(self, job_id, until=FINISHED, timeout=180.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.client.get(f"/api/jobs/{job_id}").json()
            if job["state"] in until if isinstance(until, tuple) else until(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")

    def stop(self):
        self.runner.stop()
        self.client.close()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "jobs")
    yield s
    s.stop()


def frames_of(path):
    with av.open(path) as c:
        video = [f.time for f in c.decode(video=0)]
    with av.open(path) as c:
        audio = [s.type for s in c.streams]
    return video, audio


def test_submit_events_state_and_result(server, clip):
    response = server.submit(clip, max_size="64", style="3")
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    events = []
    with server.client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        event = {}
        for line in stream.iter_lines():
            if line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif not line and event:
                events.append(event)
                event = {}
    runs = {e["id"].split("-")[0] for e in events}
    ids = [int(e["id"].split("-")[1]) for e in events]
    assert len(runs) == 1 and ids == sorted(ids) and len(set(ids)) == len(ids)
    last = events[-1]["data"]
    assert last["state"] == "done", last
    assert last["frames_done"] == last["frames_total"] == 48
    assert any(e["data"]["state"] == "running" for e in events)
    assert last["summary"]["frames"] == 48 and last["summary"]["streams_copied"]
    # A reconnecting browser sends the last id it saw: the stream goes on from there.
    with server.client.stream("GET", f"/api/jobs/{job_id}/events",
                              headers={"Last-Event-ID": events[-1]["id"]}) as stream:
        text = "".join(stream.iter_text())
    assert f"id: {events[-1]['id']}" in text and '"state": "done"' in text
    assert server.store.root not in json.dumps(events[-1]["data"])  # nor where the server keeps jobs

    job = server.client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "done" and job["result"] == f"/api/jobs/{job_id}/result"
    assert "input" not in job  # an upload's server path is not shown
    whole = server.client.get(job["result"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    part = server.client.get(job["result"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    saved = server.client.get(job["result"], params={"download": 1})
    assert saved.headers["content-disposition"].startswith("attachment")
    out = server.store.result_path(job_id)
    times, streams = frames_of(out)
    assert len(times) == 48 and streams == ["video", "audio"]
    listed = server.client.get("/api/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]


def test_options_are_checked_like_the_cli(server, clip):
    from conftest import run_cli

    bad = server.submit(clip, quality="3")
    assert bad.status_code == 422
    cli = run_cli("process", clip, "-o", os.devnull + ".mp4", "--quality", "3")
    assert cli.returncode == 2 and bad.json()["detail"] in cli.stderr
    for fields, words in [({"start": "1:75"}, "--start takes seconds"), ({"strength": "lots"}, "--strength"),
                          ({"mode": "paint"}, "unknown mode"), ({"colour": "1"}, "unknown option 'colour'"),
                          ({"look": "photo"}, "--style-image")]:
        response = server.submit(clip, **fields)
        assert response.status_code == 422 and words in response.json()["detail"], (fields, response.text)
    no_video = server.client.post("/api/jobs", data={"style": "3"})
    assert no_video.status_code == 422 and "'video'" in no_video.json()["detail"]
    missing = server.client.post("/api/jobs", json={"path": "/no/such/film.mp4"})
    assert missing.status_code == 422 and missing.json()["detail"] == "no such file: /no/such/film.mp4"
    assert server.client.get("/api/jobs").json()["jobs"] == []  # nothing stored for refused jobs
    assert os.listdir(server.store.root) == []


def test_bad_upload_fails_cleanly_and_the_server_keeps_serving(server, tmp_path, clip):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    job_id = server.submit(str(text)).json()["id"]
    job = server.wait(job_id)
    assert job["state"] == "failed"
    assert "\n" not in job["error"] and "Traceback" not in job["error"]
    assert "notes.mp4" not in job["error"] or "input" in job["error"]
    assert "not a video" in job["error"] or "no video stream" in job["error"] or "invalid" in job["error"].lower()
    good = server.submit(clip, max_size="48", duration="0.4").json()["id"]
    assert server.wait(good)["state"] == "done"
    assert server.client.get(f"/api/jobs/{job_id}/result").status_code == 409


def test_upload_names_never_become_paths(server, clip, tmp_path):
    root = server.store.root
    picture = tmp_path / "style.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(picture), np.full((32, 32, 3), 90, np.uint8))
    before = set(os.listdir(tmp_path))
    with open(clip, "rb") as video, open(picture, "rb") as style:
        response = server.client.post("/api/jobs", files={
            "video": ("../../../evil.mp4", video, "video/mp4"),
            "style_image": ("..\\..\\x/../../passwd.png", style, "image/png")}, data={"duration": "0.2"})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    stored = set(os.listdir(os.path.join(root, job_id)))
    assert {"input.mp4", "style.png", "job.json"} <= stored
    assert not [name for name in stored if "evil" in name or "passwd" in name]
    assert set(os.listdir(tmp_path)) == before  # nothing written beside the jobs folder
    assert server.client.get(f"/api/jobs/{job_id}").json()["name"] == "evil.mp4"
    for bad in ("..", "%2e%2e%2fetc%2fpasswd", "..%2f" + job_id, job_id.upper()):
        assert server.client.get(f"/api/jobs/{bad}").status_code in (404, 405)
    server.client.delete(f"/api/jobs/{job_id}")


def test_server_path_job_and_cancel(server, film):
    response = server.client.post("/api/jobs", json={"path": film, "max_size": 160})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    job = server.wait(job_id, until=lambda j: j["state"] == "running" and j["frames_done"] > 0)
    assert job["input"] == film and not job["uploaded"]
    pid = server.store.get(job_id).pid
    assert server.client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert server.client.get(f"/api/jobs/{job_id}").status_code == 404
    assert not os.path.exists(os.path.join(server.store.root, job_id))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert os.path.exists(film)  # the user's file is never touched


def test_restart_resumes_an_unfinished_job(tmp_path, film):
    root = tmp_path / "jobs"
    first = Server(root, segment_seconds=1.9)
    job_id = first.submit(film, max_size="160").json()["id"]
    job = first.wait(job_id, until=lambda j: (j["segments"] or {}).get("done", 0) >= 1 or j["state"] in FINISHED)
    assert job["state"] == "running", job
    first.stop()  # what a crash does to the render: killed mid-job, the record still says running
    assert first.store.get(job_id).state == "running"

    second = Server(root, segment_seconds=1.9)
    try:
        job = second.wait(job_id)
        assert job["state"] == "done", job
        render = job["summary"]["render"]
        assert render["segments"] >= 3 and render["segments_reused"] >= 1
        assert render["segments_rendered"] + render["segments_reused"] == render["segments"]
        times, _ = frames_of(second.store.result_path(job_id))
        assert len(times) == 240
    finally:
        second.stop()


def test_page_and_its_files_are_revalidated(server):
    for path in ("/", "/static/app.js", "/static/app.css"):
        response = server.client.get(path)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-cache", path
    assert "/static/app.js" in server.client.get("/").text
