"""End-to-end: the real ``codecstyle`` command in a subprocess."""
import json
import os
import stat

import av
import numpy as np
import pytest

from conftest import CLI_UMASK, run_cli
from clips import make_clip, texture


def run(*args, cwd=None):
    return run_cli(*args, cwd=cwd)


def streams(path):
    with av.open(path) as c:
        out = {}
        for s in c.streams:
            dur = float(s.duration * s.time_base) if s.duration else None
            out[s.type] = (s.codec_context.name, s.frames, dur)
        return out


def frame_times(path):
    with av.open(path) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def assert_user_error(result, words, folder):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    assert "Traceback" not in result.stderr
    # progress lines may come first; the error is one line, and the last
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr
    assert lines[-1].startswith("codecstyle: error:") and words in lines[-1], lines[-1]
    leftovers = [n for n in os.listdir(folder) if "partial" in n or n.startswith("out")]
    assert leftovers == [], leftovers


def test_process_keeps_frames_timestamps_and_audio(ipb_audio_clip, tmp_path):
    out = tmp_path / "styled.mp4"
    result = run("process", ipb_audio_clip, "-o", str(out), "--json", "-q", "--style", "3:0.5,12:0.5")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 24 and summary["options"]["mode"] == "codec"  # the default mode
    assert summary["streams_copied"] == ["audio aac"] and 0 < summary["network_share"] < 1.0
    assert summary["engine"]["motion_source"] == "codec vectors"
    assert set(summary["stages"]) >= {"decode", "network", "encode"}
    src, dst = streams(ipb_audio_clip), streams(str(out))
    assert dst["video"][1] == 24
    assert dst["audio"][0] == "aac"
    assert dst["audio"][2] == pytest.approx(src["audio"][2], abs=1 / 25)
    assert frame_times(str(out)) == pytest.approx(frame_times(ipb_audio_clip), abs=1e-3)
    with av.open(str(out)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    with av.open(ipb_audio_clip) as c:
        original = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert np.abs(first.astype(int) - original).mean() > 10  # it was actually stylized
    # written under a temporary name, yet with the permissions any new file gets
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~CLI_UMASK


def test_max_size_and_frames_cut_audio(ipb_audio_clip, tmp_path):
    out = tmp_path / "small.mkv"
    result = run("process", ipb_audio_clip, "-o", str(out), "-q", "--max-size", "64", "--frames", "10")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 10 and (frames[0].width, frames[0].height) == (64, 48)
    with av.open(str(out)) as c:
        audio_end = max(float((p.pts + p.duration) * p.time_base) for p in c.demux(audio=0) if p.pts is not None)
    assert audio_end == pytest.approx(10 / 25, abs=0.05)


def test_demo_clip_is_the_default_input(tmp_path):
    result = run("process", "-o", "demo.mp4", "-q", "--max-size", "96", "--frames", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert streams(str(tmp_path / "demo.mp4"))["video"][1] == 3
    assert "audio" in streams(str(tmp_path / "demo.mp4"))


def test_styles_contact_sheet(tmp_path, ipb_clip):
    import cv2
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), texture(120, 160))
    for source in (str(image), ipb_clip):
        sheet = tmp_path / "sheet.png"
        result = run("styles", source, "-o", str(sheet), "--tile", "64")
        assert result.returncode == 0, result.stderr
        img = cv2.imread(str(sheet))
        assert img is not None and img.shape[1] > 7 * 64 and img.shape[0] > 4 * 40
        sheet.unlink()


@pytest.fixture()
def garbled_clip(tmp_path):
    """A clip whose middle third is random bytes: decoding fails part-way through."""
    path = make_clip(str(tmp_path / "garbled.mp4"), frames=48)
    data = bytearray(open(path, "rb").read())
    third = len(data) // 3
    data[third:2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    open(path, "wb").write(bytes(data))
    return path


def test_error_paths(tmp_path, ipb_clip, garbled_clip):
    work = tmp_path / "work"
    work.mkdir()
    out = str(work / "out.mp4")
    text = work / "notes.txt"
    text.write_text("not a video\n" * 100)
    truncated = work / "truncated.mp4"
    truncated.write_bytes(open(ipb_clip, "rb").read()[:3000])
    cases = [
        (("process", str(work / "missing.mp4"), "-o", out), "no such file"),
        (("process", str(text), "-o", out), "not a video"),
        (("process", str(truncated), "-o", out), "not a readable video"),
        (("process", garbled_clip, "-o", out, "--strict"), "corrupt video stream"),
        (("process", ipb_clip, "-o", out, "--style", "26"), "unknown style 26"),
        (("process", ipb_clip, "-o", out, "--style", "blue"), "bad style"),
        (("process", ipb_clip, "-o", str(work / "nodir" / "out.mp4")), "directory"),
        (("process", ipb_clip, "-o", ipb_clip, "--overwrite"), "input"),
        (("process", ipb_clip, "-o", out, "--strength", "2"), "--strength"),
        (("process", ipb_clip, "-o", out, "--codec", "nosuchcodec"), "unknown video codec"),
        (("process", ipb_clip, "-o", out, "--mode", "warp"), "invalid choice"),
        (("styles", str(work / "missing.png"), "-o", str(work / "out.png")), "no such file"),
    ]
    before = open(ipb_clip, "rb").read()
    for args, words in cases:
        assert_user_error(run(*args), words, work)
    assert open(ipb_clip, "rb").read() == before  # the input is never touched


def test_existing_output_needs_overwrite(ipb_clip, tmp_path):
    out = tmp_path / "exists.mp4"
    out.write_bytes(b"keep me")
    result = run("process", ipb_clip, "-o", str(out), "-q")
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"keep me"
