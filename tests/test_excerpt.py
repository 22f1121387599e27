"""``codecstyle process --start T --duration D``: excerpts like ``ffmpeg -ss T -i in -t D``.

The clips move their texture by a known step per frame, so every frame is unlike its
neighbours: with ``--mode frame --strength 0`` the output is the source (re-encoded), and the
source frame closest to an output frame says which frame it was.
"""
import json
import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from clips import make_clip
from conftest import run_cli

from codecstyle.errors import CodecStyleError
from codecstyle.options import ProcessOptions, parse_time

FPS = 25
PASS_THROUGH = ("--mode", "frame", "--strength", "0", "--max-size", "64")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """48 frames (1.92 s) at 25 fps, 128x96, closed GOPs of 12 with B-frames, AAC audio."""
    return make_clip(str(tmp_path_factory.mktemp("excerpt") / "clip.mp4"), frames=48, gop=12, audio=True)


@pytest.fixture(scope="module")
def late_clip(clip, tmp_path_factory):
    """``clip`` remuxed into MPEG-TS, whose timestamps begin at 0.08 s rather than 0."""
    path = str(tmp_path_factory.mktemp("excerpt_ts") / "clip.ts")
    with av.open(clip) as source, av.open(path, "w") as out:
        streams = {s: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream]
                out.mux(packet)
    return path


def process(source, out, *args):
    result = run_cli("process", source, "-o", str(out), "--json", "-q", "-y", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def pictures(path, size=None):
    with av.open(str(path)) as c:
        if size is None:
            return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]
        return [f.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA").astype(np.int16)
                for f in c.decode(video=0)]


def source_index(source, picture):
    """Index of the source frame ``picture`` (a decoded output frame) shows."""
    height, width = picture.shape[:2]
    errors = [np.abs(frame - picture).mean() for frame in pictures(source, (width, height))]
    best = int(np.argmin(errors))
    assert errors[best] < 0.5 * sorted(errors)[1], errors  # clearly that frame, not a neighbour
    return best


def video_times(path):
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def audio_span(path):
    """(first packet's start, last packet's end) of the audio, in seconds, and a packet's length."""
    with av.open(str(path)) as c:
        packets = [p for p in c.demux(audio=0) if p.size and p.pts is not None]
    tb = packets[0].time_base
    return (float(packets[0].pts * tb), float((packets[-1].pts + packets[-1].duration) * tb),
            float(packets[0].duration * tb))


def assert_in_sync(path, frames):
    """Video starts at 0, frames 1/FPS apart; audio starts with it (within one audio packet) and
    lasts as long (within 0.1 s)."""
    times = video_times(path)
    assert len(times) == frames
    assert times == pytest.approx([i / FPS for i in range(frames)], abs=1e-3)
    start, end, packet = audio_span(path)
    assert -packet < start < packet
    assert end == pytest.approx(frames / FPS, abs=0.1)


def one_line_error(result, words, folder):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("codecstyle: error:") and words in lines[0], lines[0]
    assert os.listdir(folder) == []  # no output, no partial file, no manifest folder


@pytest.mark.parametrize("text, seconds", [
    ("12.5", 12.5), ("7", 7.0), (".5", 0.5), ("1:02", 62.0), ("01:02.5", 62.5), ("1:02:03.250", 3723.25),
    ("100:00:00", 360000.0), ("-1", -1.0),
])
def test_parse_time(text, seconds):
    assert parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["abc", "", "1:60", "1:2:60", "1::2", "1:02:03:04", "1e3", "nan", "inf", "12s"])
def test_parse_time_rejects(text):
    with pytest.raises(CodecStyleError, match="--start takes seconds"):
        parse_time(text, "--start")


@pytest.mark.parametrize("fields, words", [
    ({"start": -0.5}, "--start must be 0 or more"),
    ({"start": float("nan")}, "--start"),
    ({"duration": 0.0}, "--duration must be more than 0"),
    ({"duration": float("inf")}, "--duration"),
])
def test_validate(fields, words):
    with pytest.raises(CodecStyleError, match=words):
        ProcessOptions(**fields).validate()


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_excerpt_frames_picture_and_audio(clip, tmp_path, ext):
    # 0.44 s is frame 11, the last of the first GOP; 15 frames end at 1.04 s, inside the third.
    out = tmp_path / f"out.{ext}"
    summary = process(clip, out, "--start", "00:00:00.44", "--duration", "0.6", *PASS_THROUGH)
    assert summary["frames"] == 15 and summary["options"]["start"] == pytest.approx(0.44)
    assert summary["streams_copied"] == ["audio aac"]
    assert_in_sync(out, 15)
    first, last = pictures(out)[0], pictures(out)[-1]
    assert source_index(clip, first) == 11 and source_index(clip, last) == 25


def test_start_between_frames_begins_at_the_next(clip, tmp_path):
    out = tmp_path / "out.mp4"
    summary = process(clip, out, "--start", "0.41", "--duration", "0:00.2", *PASS_THROUGH)
    # frames at 0.44 .. 0.60 are in [0.41, 0.61); the output starts with 0.44's at 0
    assert summary["frames"] == 5 and source_index(clip, pictures(out)[0]) == 11
    assert_in_sync(out, 5)


def test_start_counts_from_the_first_frame(late_clip, clip, tmp_path):
    # MPEG-TS timestamps begin at 0.08 s: --start 0.4 is the frame 0.4 s after the first, frame 10
    out = tmp_path / "out.mp4"
    summary = process(late_clip, out, "--start", "0.4", *PASS_THROUGH)
    assert summary["frames"] == 38 and source_index(clip, pictures(out)[0]) == 10
    assert_in_sync(out, 38)


def test_codec_mode_mid_gop_in_segments_with_frames(clip, tmp_path):
    # 0.6 s is frame 15, mid-GOP (keyframes at 0, 12, 24, 36): decoding and the engine start at
    # frame 12 without writing it; --frames 18 takes frames 15..32 of the excerpt (to 1.8 s),
    # in two segments cut at the keyframe at frame 24 (which warms up from frame 12 too).
    out = tmp_path / "out.mp4"
    summary = process(clip, out, "--start", "0.6", "--duration", "1.2", "--frames", "18", "--mode", "codec",
                      "--strength", "0", "--max-size", "64", "--segment-seconds", "0.3", "--workers", "1")
    r = summary["render"]
    assert summary["frames"] == 18 and r["segments"] == 2 and r["warmup_frames"] == 3 + 12
    assert_in_sync(out, 18)
    shown = pictures(out)
    assert source_index(clip, shown[0]) == 15 and source_index(clip, shown[-1]) == 32


@pytest.mark.parametrize("args, words", [
    (("--start", "1.92"), "--start 1.92 s is past the video's last frame"),
    (("--start", "0:00:05"), "--start 5 s is past the video's last frame"),
    (("--start", "ten"), "--start takes seconds"),
    (("--duration", "1:75"), "--duration takes seconds"),
    (("--duration", "0"), "--duration must be more than 0"),
    (("--start", "-1"), "--start must be 0 or more"),
    (("--start", "0.41", "--duration", "0.02"), "--duration 0.02 s holds no frame"),
])
def test_bad_excerpts_are_one_line_errors(clip, tmp_path, args, words):
    result = run_cli("process", clip, "-o", str(tmp_path / "out.mp4"), "-q", *PASS_THROUGH, *args)
    one_line_error(result, words, tmp_path)


def test_stylize_video_refers_to_render_film(clip, tmp_path):
    from codecstyle.pipeline import stylize_video

    with pytest.raises(CodecStyleError, match="render_film"):
        stylize_video(clip, str(tmp_path / "out.mp4"), ProcessOptions(start=1.0), progress=False)


@pytest.mark.slow
def test_excerpt_resumes(tmp_path):
    source = make_clip(str(tmp_path / "long.mp4"), width=320, height=240, frames=100, gop=10, audio=True)
    work = tmp_path / "work"
    work.mkdir()
    args = ["process", source, "-o", "resume.mp4", "--start", "0.8", "--duration", "2.8", "--segment-seconds",
            "0.4", "--workers", "1", "--json", "-q", "--mode", "frame"]
    manifest = work / ".resume.mp4.codecstyle" / "manifest.json"
    script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
    process = subprocess.Popen([script] + args, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None:
            try:
                if len(json.loads(manifest.read_text())["done"]) >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        assert process.poll() is None, "the render finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    resumed = run_cli(*args, cwd=str(work))
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["frames"] == 70 and summary["render"]["segments_reused"] >= 2
    assert_in_sync(work / "resume.mp4", 70)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_cli(*args, cwd=str(fresh)).returncode == 0
    assert [p.tobytes() for p in pictures(work / "resume.mp4")] == [p.tobytes() for p in pictures(fresh / "resume.mp4")]


def test_an_excerpt_looks_like_the_same_frames_of_the_full_render(tmp_path):
    """A preview must show the film's look: ``--norm global`` statistics come from frames
    sampled across the whole film, not from the excerpt (whose frames here are far brighter)."""
    from clips import texture

    path = str(tmp_path / "ramp.mp4")
    base = texture(64, 96).astype(np.float32)
    with av.open(path, "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "12", "g": "12"}
        for t in range(48):
            rgb = np.clip(np.roll(base, 2 * t, axis=1) * (0.15 + 0.85 * t / 47), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    style = ("--mode", "frame", "--style", "3", "--norm", "global", "--crf", "10")
    process(path, tmp_path / "full.mp4", *style)
    process(path, tmp_path / "part.mp4", *style, "--start", "1.44", "--duration", "0.4")
    full, part = pictures(tmp_path / "full.mp4"), pictures(tmp_path / "part.mp4")
    assert len(part) == 10
    errors = [float(np.abs(a - b).mean()) for a, b in zip(full[36:46], part)]
    assert max(errors) < 3.0, errors
