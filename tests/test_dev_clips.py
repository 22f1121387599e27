"""Development clips and strips (``codecstyle.bench.dev_clips``)."""
import av
import cv2
import numpy as np

from clips import make_clip
from codecstyle.bench.dev_clips import degrade, dim, strips


def test_dim_darkens_and_flattens():
    rgb = np.random.default_rng(0).integers(0, 256, (32, 48, 3)).astype(np.uint8)
    out = dim(rgb, 2.2, 0.45, 2.0, np.random.default_rng(1))
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert out.mean() < 0.7 * rgb.mean() and out.std() < 0.5 * rgb.std()


def test_degrade_and_strips(tmp_path):
    src = make_clip(str(tmp_path / "src.mp4"), frames=25)
    dst = str(tmp_path / "dim.mp4")
    assert degrade(src, dst, frames=21) == 21
    with av.open(dst) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(src) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert len(frames) == 21 and frames[0].mean() < 0.7 * first.mean()
    pngs = strips(str(tmp_path / "strips"), [src, dst], every=10)
    assert [p.rsplit("_", 1)[1] for p in pngs] == ["00000.png", "00010.png", "00020.png"]
    assert cv2.imread(pngs[0]).shape == (96, 2 * 128, 3)  # side by side, full resolution


def test_degrade_can_enlarge_a_small_clip(tmp_path):
    src = make_clip(str(tmp_path / "small.mp4"), width=64, height=48, frames=5)
    dst = str(tmp_path / "close_up.mp4")
    assert degrade(src, dst, scale=2.5) == 5
    with av.open(dst) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (160, 120)
