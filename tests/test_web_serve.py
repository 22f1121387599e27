"""``codecstyle serve`` as a user starts it: the real command in a subprocess, over HTTP.
A server killed with ``kill -9`` mid-job finishes the job when started again, without
re-rendering the segments it had finished."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("fastapi")

from clips import make_clip  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(jobs, port, *extra):
    script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
    proc = subprocess.Popen([script, "serve", "--port", str(port), "--jobs", str(jobs), *extra],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read())
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not answer")


def gone(pid):
    """Whether ``pid`` has exited (a zombie waiting for init to reap it counts)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return "State:\tZ" in status.read()
    except FileNotFoundError:
        return True


def call(port, path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_port_in_use_and_open_host_warning(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
        result = subprocess.run([script, "serve", "--port", str(port), "--jobs", str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"codecstyle: error: port {port} on 127.0.0.1 is in use: pass another --port"
    port = free_port()
    proc = start_server(tmp_path / "jobs", port, "--host", "0.0.0.0")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "warning: listening on 0.0.0.0: anyone who can reach this machine" in err
    assert "Traceback" not in err


def test_kill_9_mid_job_then_restart_finishes_without_rerendering(tmp_path):
    film = make_clip(str(tmp_path / "film.mp4"), width=320, height=240, frames=300, gop=25, audio=True)
    jobs, port = tmp_path / "jobs", free_port()
    server = start_server(jobs, port)
    try:
        job_id = call(port, "/api/jobs", {"path": film})["id"]
        deadline = time.monotonic() + 300
        while True:
            job = call(port, f"/api/jobs/{job_id}")
            if (job["segments"] or {}).get("done", 0) >= 1 or job["state"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["state"] == "running" and job["segments"]["done"] < job["segments"]["total"], job
        with open(jobs / job_id / "job.json") as handle:
            render_pid = json.load(handle)["pid"]
    finally:
        server.kill()  # SIGKILL: no clean-up of any kind
        server.wait()
    deadline = time.monotonic() + 10
    while not gone(render_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(render_pid)  # the render died with the server: no orphan holds the cores or the lock

    server = start_server(jobs, port)
    try:
        deadline = time.monotonic() + 300
        while call(port, f"/api/jobs/{job_id}")["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        job = call(port, f"/api/jobs/{job_id}")
        assert job["state"] == "done", job
        render = job["summary"]["render"]
        assert render["segments_reused"] >= 1
        assert render["segments_rendered"] + render["segments_reused"] == render["segments"]
        assert job["summary"]["frames"] == 300
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
