import numpy as np
import pytest

from clips import make_clip
from codecstyle.errors import CodecStyleError
from codecstyle.video.reader import fit_size, probe, read_frames


def test_probe_ipb(ipb_clip):
    info = probe(ipb_clip)
    assert (info.codec, info.width, info.height, info.frame_count) == ("h264", 128, 96, 24)
    assert info.exports_vectors and not info.has_audio and info.rotation == 0
    assert info.duration == pytest.approx(0.96, abs=0.05)


def test_picture_types_and_vectors(ipb_clip):
    frames = list(read_frames(ipb_clip))
    assert [f.display_index for f in frames] == list(range(24))
    types = [f.pict_type for f in frames]
    assert types[0] == "I" and types[12] == "I"  # keyint=12
    assert types.count("B") >= 8 and types.count("P") >= 2
    for f in frames:
        assert f.rgb.shape == (96, 128, 3) and f.rgb.dtype == np.uint8
        if f.pict_type == "I":
            assert f.motion_vectors is None
        else:
            mv = f.motion_vectors
            assert mv is not None and len(mv) > 0
            assert set(mv.dtype.names) >= {"source", "w", "h", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale"}
    # The pattern moves +2 px right, +1 px down per frame. For a P-frame vector pointing to the
    # previous anchor (source -1), src = dst + motion / scale, so motion ~ -(2, 1) * distance.
    p = next(f for f in frames if f.pict_type == "P")
    mv = p.motion_vectors
    past = mv[mv["source"] < 0]
    dx = np.median(past["motion_x"] / past["motion_scale"])
    dy = np.median(past["motion_y"] / past["motion_scale"])
    assert dx < 0 and dy < 0 and dx / dy == pytest.approx(2.0, rel=0.25)


def test_pts_increase_in_display_order(ipb_clip):
    pts = [f.pts for f in read_frames(ipb_clip, vectors=False)]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)


def test_resize_and_max_frames(ipb_clip):
    frames = list(read_frames(ipb_clip, size=(64, 48), max_frames=5))
    assert len(frames) == 5 and frames[0].rgb.shape == (48, 64, 3)
    assert frames[1].motion_vectors is not None  # vectors stay in coded units


def test_no_vectors_codec(vp9_clip):
    info = probe(vp9_clip)
    assert info.codec == "vp9" and not info.exports_vectors
    frames = list(read_frames(vp9_clip))
    assert len(frames) == 24 and all(f.motion_vectors is None for f in frames)


def test_odd_size(tmp_path):
    path = make_clip(str(tmp_path / "odd.mp4"), width=127, height=95, pix_fmt="yuv444p")
    frames = list(read_frames(path))
    assert frames[0].rgb.shape == (95, 127, 3) and len(frames) == 24


def test_ten_bit(tmp_path):
    path = make_clip(str(tmp_path / "ten.mp4"), pix_fmt="yuv420p10le")
    assert probe(path).pix_fmt == "yuv420p10le"
    frames = list(read_frames(path))
    assert len(frames) == 24 and frames[3].rgb.dtype == np.uint8 and frames[3].rgb.std() > 10


def test_rotation(tmp_path):
    path = make_clip(str(tmp_path / "rot.mp4"), rotation=90)
    assert probe(path).rotation == 90
    assert next(read_frames(path)).rgb.shape == (96, 128, 3)  # coded orientation


def test_variable_frame_rate(tmp_path):
    times = [0, 0.04, 0.1, 0.12, 0.2, 0.3, 0.31, 0.4]
    path = make_clip(str(tmp_path / "vfr.mp4"), frames=8, frame_times=times)
    got = [f.time for f in read_frames(path, vectors=False)]
    assert got == pytest.approx(times, abs=1e-3)


def test_errors(tmp_path):
    with pytest.raises(CodecStyleError, match="no such file"):
        probe(str(tmp_path / "missing.mp4"))
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a video\n" * 50)
    with pytest.raises(CodecStyleError):
        probe(str(text))


def test_fit_size():
    assert fit_size(1280, 720, 640) == (640, 360)
    assert fit_size(127, 95, None) == (128, 96)
    w, h = fit_size(1920, 1080, 500)
    assert max(w, h) <= 500 and w % 2 == 0 and h % 2 == 0
