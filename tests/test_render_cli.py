"""End-to-end: ``codecstyle process`` rendering in segments, in parallel, resumably."""
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import av
import numpy as np
import pytest

from clips import make_clip
from conftest import CLI_UMASK, run_cli


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """72 frames (2.88 s), closed GOPs of 12, B-frames, AAC audio: 6 segments at 0.4 s."""
    return make_clip(str(tmp_path_factory.mktemp("film") / "film.mp4"), frames=72, gop=12, audio=True)


def render(source, out, *args, cwd=None):
    result = run_cli("process", source, "-o", str(out), "--json", "-y", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def decoded(path):
    with av.open(str(path)) as c:
        return [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def digest(path):
    h = hashlib.sha256()
    frames = decoded(path)
    for _, rgb in frames:
        h.update(rgb.tobytes())
    return len(frames), h.hexdigest()


def audio_packets(path):
    with av.open(str(path)) as c:
        return [(bytes(p), float(p.pts * p.time_base)) for p in c.demux(audio=0) if p.size]


def leftovers(folder):
    return [n for n in os.listdir(folder) if "partial" in n or n.endswith(".codecstyle")]


def test_parallel_segments_keep_frames_timestamps_and_audio(film, tmp_path):
    out = tmp_path / "painted.mp4"
    summary, stderr = render(film, out, "--workers", "2", "--segment-seconds", "0.4", "--mode", "frame")
    r = summary["render"]
    assert summary["frames"] == 72 and r["segments"] == 6 and r["segments_rendered"] == 6
    assert (r["workers"], r["threads"], r["backend"], r["norm"]) == (2, 1, "local", "global")
    assert r["norm_samples"] == 4 and r["segments_reused"] == 0 and len({s["worker"] for s in r["segment_list"]}) == 2
    assert summary["streams_copied"] == ["audio aac"] and summary["network_share"] == 1.0
    assert set(summary["stages"]) >= {"plan", "norm", "decode", "network", "encode", "join"}
    assert "segment 6/6 done" in stderr and "sampling 4 frames" in stderr
    got, src = decoded(out), decoded(film)
    assert [t for t, _ in got] == pytest.approx([t for t, _ in src], abs=1e-4)
    assert np.abs(got[0][1].astype(int) - src[0][1]).mean() > 10  # stylized
    assert audio_packets(out) == audio_packets(film)  # copied once, same bytes, same times
    assert leftovers(tmp_path) == []
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~CLI_UMASK  # joined, then renamed


def test_joins_are_seamless(film, tmp_path):
    """Frame mode, lossless: six segments from two workers equal one segment from one worker,
    frame for frame (no seam, no lost or doubled frame)."""
    a, b = tmp_path / "parts.mkv", tmp_path / "whole.mkv"
    lossless = ("--mode", "frame", "--norm", "frame", "--crf", "0")
    render(film, a, "--workers", "2", "--segment-seconds", "0.4", *lossless)
    render(film, b, "--workers", "1", "--segment-seconds", "10", *lossless)
    parts, whole = decoded(a), decoded(b)
    assert len(parts) == len(whole) == 72
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(parts, whole))

    # Codec mode carries state from frame to frame (each refresh fades in from the propagated
    # picture): segments warm up from the keyframe before their own, so a join looks like an
    # I-frame of a single-process render, not like a fresh start.
    jumps = {}
    for name, args in (("parts", ("--workers", "2", "--segment-seconds", "0.4")),
                       ("whole", ("--workers", "1", "--segment-seconds", "10"))):
        out = tmp_path / f"codec_{name}.mp4"
        summary, _ = render(film, out, "--mode", "codec", *args)
        assert summary["frames"] == 72
        means = np.array([rgb.reshape(-1, 3).mean(axis=0) for _, rgb in decoded(out)])
        jumps[name] = np.abs(np.diff(means, axis=0)).max(axis=1)
        if name == "parts":
            assert summary["render"]["segments"] == 6 and summary["render"]["warmup_frames"] == 5 * 12
    joins = [12 * k - 1 for k in range(1, 6)]  # from the last frame of a segment to the next
    assert jumps["parts"][joins].mean() < 1.25 * jumps["whole"][joins].mean() + 0.5, (jumps["parts"][joins],
                                                                                       jumps["whole"][joins])


def _wait_for_segments(folder, count, process, timeout=120):
    manifest = os.path.join(folder, ".resume.mp4.codecstyle", "manifest.json")
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            with open(manifest) as f:
                if len(json.load(f)["done"]) >= count:
                    return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    return False


def test_kill_9_then_resume_gives_the_same_film(tmp_path):
    source = make_clip(str(tmp_path / "long.mp4"), width=320, height=240, frames=100, gop=10, audio=True)
    work = tmp_path / "work"
    work.mkdir()
    args = ["process", source, "-o", "resume.mp4", "--segment-seconds", "0.4", "--workers", "1", "--json", "-q",
            "--mode", "frame"]
    script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
    process = subprocess.Popen([script] + args, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for_segments(str(work), 3, process), "the render finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert not os.path.exists(work / "resume.mp4")  # never half-written
    assert os.path.isdir(work / ".resume.mp4.codecstyle")

    resumed = run_cli(*args, cwd=str(work))
    assert resumed.returncode == 0, resumed.stderr
    r = json.loads(resumed.stdout)["render"]
    assert r["segments"] == 10 and r["segments_reused"] >= 3 and r["segments_rendered"] == 10 - r["segments_reused"]
    assert leftovers(work) == []

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    again = run_cli(*args, cwd=str(fresh))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["render"]["segments_reused"] == 0
    assert digest(work / "resume.mp4") == digest(fresh / "resume.mp4")  # same frames, same pixels
    assert audio_packets(work / "resume.mp4") == audio_packets(source)


def test_changed_options_start_over(tmp_path):
    source = make_clip(str(tmp_path / "short.mp4"), frames=24, gop=12)
    out = tmp_path / "out.mp4"
    folder = tmp_path / ".out.mp4.codecstyle"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "fingerprint": "stale", "done": {}}))
    (folder / "seg-00000.mp4").write_bytes(b"stale segment")
    summary, stderr = render(source, out, "--segment-seconds", "0.4", "--workers", "1", "--max-size", "64")
    assert "starting over" in stderr and summary["render"]["segments_reused"] == 0
    assert len(decoded(out)) == 24 and leftovers(tmp_path) == []


@pytest.mark.parametrize("args, words", [
    (("--workers", "0"), "--workers"),
    (("--threads", "many"), "--threads"),
    (("--segment-seconds", "-2"), "--segment-seconds"),
    (("--norm", "scene"), "invalid choice"),
    (("--ray-address", "auto"), "--backend ray"),
])
def test_render_option_errors(film, tmp_path, args, words):
    result = run_cli("process", film, "-o", str(tmp_path / "out.mp4"), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("codecstyle: error:") and words in last, result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_ray_backend_renders_on_a_local_cluster(film, tmp_path):
    ray = pytest.importorskip("ray")
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as temp:
        context = ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp, logging_level="ERROR")
        try:
            out = tmp_path / "ray.mp4"
            summary, stderr = render(film, out, "--backend", "ray", "--ray-address", context.address_info["address"],
                                     "--segment-seconds", "0.4")
        finally:
            ray.shutdown()
    r = summary["render"]
    assert (r["backend"], r["workers"], r["threads"], r["segments"]) == ("ray", 2, 1, 6)
    assert summary["frames"] == 72 and summary["streams_copied"] == ["audio aac"]
    got, src = decoded(out), decoded(film)
    assert [t for t, _ in got] == pytest.approx([t for t, _ in src], abs=1e-4)
    assert audio_packets(out) == audio_packets(film)
    assert leftovers(tmp_path) == []
