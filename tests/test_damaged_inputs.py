"""End-to-end: the real-world files of issue 15 (reordered timestamps, cut-short and damaged files)
through the real CLI, with exact answers: which frames, at which times, with how much audio."""
import json

import av
import numpy as np
import pytest

from clips import make_clip
from conftest import run_cli


def _remux_pts_from_dts(src, dst):
    """Copy ``src`` with every video packet's pts set to its dts (shifted to start at 0), as some
    muxers write: the decoder then hands out frames carrying decode-order times."""
    with av.open(src) as inp, av.open(dst, "w") as out:
        targets = {s: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        offset = None
        for packet in inp.demux():
            if packet.dts is None:
                continue
            if packet.stream.type == "video":
                offset = -packet.dts if offset is None else offset
                packet.dts += offset
                packet.pts = packet.dts
            packet.stream = targets[packet.stream]
            out.mux(packet)
    return dst


def _decoded(path):
    """(times in seconds, frames as int arrays) of ``path``'s video."""
    with av.open(path) as c:
        v = c.streams.video[0]
        frames = [(float(f.pts * v.time_base), f.to_ndarray(format="rgb24").astype(int)) for f in c.decode(v)]
    return [t for t, _ in frames], [a for _, a in frames]


def _audio_end(path):
    with av.open(path) as c:
        return max(float((p.pts + p.duration) * p.time_base) for p in c.demux(audio=0) if p.pts is not None)


def test_decode_order_timestamps_render_in_display_order(tmp_path):
    """pts == dts on a B-frame stream: same frames, same times, same pictures as the clean file,
    in segments (which seek) as in one piece."""
    clean = make_clip(str(tmp_path / "clean.mp4"), frames=60, gop=12, bframes=3, audio=True)
    broken = _remux_pts_from_dts(clean, str(tmp_path / "ptsdts.mp4"))
    common = ("--mode", "frame", "-q", "--json", "--segment-seconds", "0.5")
    ref = run_cli("process", clean, "-o", str(tmp_path / "ref.mp4"), *common)
    out = run_cli("process", broken, "-o", str(tmp_path / "out.mp4"), *common)
    assert ref.returncode == 0 and out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["decode"]["timestamps"] == "reordered" and summary["render"]["segments"] > 1
    ref_times, ref_frames = _decoded(str(tmp_path / "ref.mp4"))
    times, frames = _decoded(str(tmp_path / "out.mp4"))
    assert times == ref_times and len(times) == 60
    assert max(np.abs(a - b).mean() for a, b in zip(frames, ref_frames)) < 0.5
    assert _audio_end(str(tmp_path / "out.mp4")) == pytest.approx(60 / 25, abs=0.05)
    for command in (("inspect", broken), ("bench", broken, "--modes", "frame,codec", "--repeat", "1",
                                           "--warmup", "0", "-q", "--json")):
        result = run_cli(*command)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_cut_short_download_renders_what_decodes(tmp_path):
    """A fast-start MP4 cut at 70 %: the frames before the cut render, one warning says how many
    were lost and where, the audio stops with the video; --strict refuses it cleanly."""
    clean = make_clip(str(tmp_path / "clean.mp4"), frames=48, gop=12, audio=True)
    fast = str(tmp_path / "fast.mp4")
    with av.open(clean) as inp, av.open(fast, "w", options={"movflags": "+faststart"}) as out:
        targets = {s: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = targets[packet.stream]
                out.mux(packet)
    data = open(fast, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:int(len(data) * 0.7)])
    result = run_cli("process", str(cut), "-o", str(tmp_path / "out.mp4"), "-q", "--json")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("codecstyle: warning:")]
    assert len(warnings) == 1 and "ends early" in warnings[0], result.stderr
    summary = json.loads(result.stdout)
    times, _ = _decoded(str(tmp_path / "out.mp4"))
    assert 1 <= len(times) < 48 and summary["frames"] == len(times)
    assert f"{48 - len(times)} frames could not be decoded" in warnings[0]
    assert times == [i / 25 for i in range(len(times))]  # the frames that decode keep their times
    # cut at the video's end; it may stop a little before, where the download cut the audio too
    assert len(times) / 25 - 0.15 <= _audio_end(str(tmp_path / "out.mp4")) <= len(times) / 25 + 0.03
    strict = run_cli("process", str(cut), "-o", str(tmp_path / "strict.mp4"), "-q", "--strict")
    assert strict.returncode == 2 and strict.stderr.count("\n") == 1 and "ends early" in strict.stderr
    assert not (tmp_path / "strict.mp4").exists()


def test_damaged_middle_keeps_every_other_frame_at_its_time(tmp_path):
    """Random bytes over the middle third: the frames that decode keep their own times (none is
    shifted into the hole) and the warning names where the hole is."""
    clip = make_clip(str(tmp_path / "clip.mp4"), frames=48, gop=12)
    data = bytearray(open(clip, "rb").read())
    third = len(data) // 3
    data[third:2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    (tmp_path / "bad.mp4").write_bytes(bytes(data))
    result = run_cli("process", str(tmp_path / "bad.mp4"), "-o", str(tmp_path / "out.mp4"), "-q", "--json",
                     "--mode", "frame")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    times, _ = _decoded(str(tmp_path / "out.mp4"))
    lost = summary["decode"]["lost_times"]
    assert 0 < len(times) < 48 and len(times) + summary["decode"]["lost_frames"] == 48
    assert sorted(times + lost) == pytest.approx([i / 25 for i in range(48)])
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and f"at {lost[0]:.2f}" in warning[0]


@pytest.mark.parametrize("size", [(2, 2), (6, 4)])
def test_tiny_frames_render(tmp_path, size):
    clip = make_clip(str(tmp_path / "tiny.mp4"), width=size[0], height=size[1], frames=8, dx=0, dy=0)
    result = run_cli("process", clip, "-o", str(tmp_path / "out.mp4"), "-q")
    assert result.returncode == 0, result.stderr
    with av.open(str(tmp_path / "out.mp4")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 8 and (frames[0].width, frames[0].height) == size
