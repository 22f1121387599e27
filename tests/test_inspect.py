"""``codecstyle inspect``: GOP, frame types, vector coverage and the fallback, through the real CLI."""
import json
from collections import Counter

import av
import numpy as np

from conftest import run_cli
from codecstyle.inspect_video import block_coverage, gop_lengths, motion_grid, parse_x264_options


def run(*args, cwd=None):
    return run_cli(*args, cwd=cwd)


def pict_types(path):
    with av.open(path) as c:
        return [{1: "I", 2: "P", 3: "B"}.get(int(f.pict_type), "?") for f in c.decode(video=0)]


def test_inspect_ipb_clip(ipb_clip):
    result = run("inspect", ipb_clip, "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    expected = Counter(pict_types(ipb_clip))
    assert r["frames"] == 24
    assert {t: r["frame_types"].get(t, 0) for t in "IPB"} == {t: expected.get(t, 0) for t in "IPB"}
    assert r["frame_types"]["I"] == 2 and r["frame_types"]["B"] > 0
    assert r["keyframes"] == [0, 12] and r["gop"] == 12 and r["gop_lengths"] == [12, 12]
    assert r["exports_vectors"] and r["vector_source"].startswith("codec vectors")
    # A translating texture: nearly every block of every P/B frame is predicted.
    assert r["vector_coverage"] > 0.9 and abs(r["intra_share"] + r["vector_coverage"] - 1) < 1e-9
    assert r["codec_settings"]["x264"]["keyint"] == "12" and r["codec_settings"]["x264"]["bframes"] == "3"
    text = run("inspect", ipb_clip)
    assert text.returncode == 0 and "GOP          length 12" in text.stdout and "x264" in text.stdout


def test_inspect_vp9_reports_the_fallback(vp9_clip):
    result = run("inspect", vp9_clip, "--json")
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["codec"] == "vp9" and not r["exports_vectors"]
    assert r["vector_source"].startswith("fallback") and r["vector_coverage"] is None
    assert any("exports no motion vectors" in n for n in r["notes"])


def test_inspect_plot_and_errors(ipb_clip, tmp_path):
    png = tmp_path / "mv.png"
    result = run("inspect", ipb_clip, "--plot", str(png), "--frame", "4")
    assert result.returncode == 0, result.stderr
    assert png.stat().st_size > 20_000 and "frame 4" in result.stderr
    for args, words in [(("inspect", str(tmp_path / "missing.mp4")), "no such file"),
                        (("inspect", ipb_clip, "--plot", str(png), "--frame", "99"), "--frame 99"),
                        (("inspect", ipb_clip, "--frame", "3"), "--plot")]:
        bad = run(*args)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
        assert bad.stderr.strip().splitlines()[-1].startswith("codecstyle: error:") and words in bad.stderr


def _mvs(rows):
    dtype = [("source", "i4"), ("w", "u1"), ("h", "u1"), ("src_x", "i2"), ("src_y", "i2"), ("dst_x", "i2"),
             ("dst_y", "i2"), ("flags", "u8"), ("motion_x", "i4"), ("motion_y", "i4"), ("motion_scale", "u2")]
    return np.array([tuple(r) for r in rows], dtype=dtype)


def test_block_coverage_and_motion_grid():
    # 32x32 frame: one 16x16 block at the top left (centre 8,8) and a bi-predicted 8x8 pair at (20,20).
    mvs = _mvs([(-1, 16, 16, 0, 0, 8, 8, 0, -8, 0, 4),
                (-1, 8, 8, 0, 0, 20, 20, 0, 4, 4, 4), (1, 8, 8, 0, 0, 20, 20, 0, -4, -4, 4)])
    mask = block_coverage(mvs, 32, 32)
    assert mask.shape == (8, 8)
    assert mask[:4, :4].all() and mask[4:6, 4:6].all() and mask.sum() == 16 + 4  # the pair counts once
    assert block_coverage(None, 32, 32).sum() == 0
    u, v, n = motion_grid(mvs, 32, 32, cell=16)
    # past reference, source 2 px left: content moved right by 2 px
    assert n[0, 0] == 1 and (u[0, 0], v[0, 0]) == (2.0, 0.0)
    assert n[1, 1] == 2 and (u[1, 1], v[1, 1]) == (-1.0, -1.0)  # both say: moving up-left by 1 px
    assert n[0, 1] == 0


def test_gop_lengths_and_x264_string():
    assert gop_lengths([0, 12], 24) == [12, 12]
    assert gop_lengths([0, 30, 76], 100) == [30, 46, 24]
    opts = parse_x264_options("x264 - core 164 r3095 - H.264/MPEG-4 AVC codec - options: cabac=1 ref=3 "
                              "deblock=1:0:0 bframes=3 keyint=250")
    assert opts["core"] == "164" and opts["ref"] == "3" and opts["deblock"] == "1:0:0" and opts["keyint"] == "250"
    assert parse_x264_options("Lavc62 libvpx") == {}
