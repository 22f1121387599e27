"""The torch versions of the codec engine's kernels (``--device cuda``) against the numba ones.

Run here on the CPU: the same torch operations run on a GPU, where no GPU is at hand to test.
"""
import numpy as np
import pytest
import torch

from codecstyle.engine.codec import CodecEngine, CodecSettings
from codecstyle.engine.kernels import cell_weight
from codecstyle.gpu import torch_kernels as tk
from codecstyle.gpu.device_kernels import DeviceKernels
from codecstyle.native.match import candidate_costs
from codecstyle.native.propagate import compose_field, render
from codecstyle.nets.stylizer import Stylizer
from codecstyle.timing import StageTimer
from codecstyle.video.reader import probe, read_frames

from clips import make_clip

T = torch.from_numpy


@pytest.fixture(scope="module")
def store():
    """Random canvases, provenance and a per-cell field over a 100 x 140 frame (cells of 8 px,
    the last row and column partial)."""
    rng = np.random.default_rng(0)
    h, w, refs, slots = 100, 140, 3, 4
    cy, cx = -(-h // 8), -(-w // 8)
    yy, xx = np.mgrid[0:h, 0:w]
    coords = np.stack([yy, xx], -1)[None].repeat(refs, 0) * 16 + rng.integers(-40, 40, (refs, h, w, 2))
    vx, vy = rng.normal(0, 3, (2, cy, cx)).astype(np.float32)
    vx[:5, :5] = 1.25  # a smooth patch: neighbours within the limit are blended
    return dict(canvas=rng.integers(0, 256, (slots, h, w, 3), dtype=np.uint8),
                luma=rng.integers(0, 256, (slots, h, w), dtype=np.uint8),
                gens=rng.integers(0, slots, (refs, h, w)).astype(np.uint8), coords=coords.astype(np.int16),
                ref_of=rng.integers(0, refs, (cy, cx)).astype(np.int32), vx=vx, vy=vy,
                cur=rng.uniform(0, 255, (h, w)).astype(np.float32), rng=rng)


def test_compose_and_render_match_the_numba_kernels(store):
    s = store
    args = (s["ref_of"], s["vx"], s["vy"], 8.0, 2.0, s["gens"], s["coords"], 16)
    gen, coord = compose_field(*args)
    gen_t, coord_t = tk.compose_field(*(T(a) if isinstance(a, np.ndarray) else a for a in args))
    assert np.array_equal(gen, gen_t.numpy()) and np.array_equal(coord, coord_t.numpy())

    rng = s["rng"]
    gen2 = rng.integers(0, 4, gen.shape).astype(np.uint8)
    gen2[::2] = gen[::2]  # half the rows reach the same canvas: averaged where close enough
    coord2 = (coord + rng.integers(-10, 10, coord.shape)).astype(np.int16)
    weight = rng.uniform(0, 1, gen.shape).astype(np.float32)
    corr = rng.normal(0, 10, gen.shape + (3,)).astype(np.float32)
    for second, correction in [(None, None), ((gen2, coord2, weight), (corr, 1, 0.6))]:
        out, diff = render(s["canvas"], s["luma"], gen, coord, s["cur"], second, correction, scale=16)
        out_t, diff_t = tk.render(T(s["canvas"]), T(s["luma"]), T(gen), T(coord), T(s["cur"]),
                                  None if second is None else tuple(T(a) for a in second),
                                  None if correction is None else (T(corr), 1, 0.6), scale=16)
        assert np.array_equal(out, out_t.numpy())
        assert np.abs(diff - diff_t.numpy()).max() < 1e-3


@pytest.mark.parametrize("cell", [8.0, 7.3])
def test_candidate_costs_match_the_numba_kernel(store, cell):
    s, rng = store, store["rng"]
    shape = s["ref_of"].shape + (7,)
    ref_idx = rng.integers(-1, 3, shape).astype(np.int32)
    dx, dy = rng.normal(0, 4, (2,) + shape).astype(np.float32)
    dx[..., 0], dy[..., 0] = np.round(dx[..., 0]), np.round(dy[..., 0])  # whole-pixel candidates too
    want = candidate_costs(s["cur"], s["luma"][:3], ref_idx, dx, dy, cell)
    got = tk.candidate_costs(T(s["cur"]), T(s["luma"][:3]), T(ref_idx), T(dx), T(dy), cell).numpy()
    assert np.array_equal(np.isfinite(want), np.isfinite(got))
    finite = np.isfinite(want)
    assert np.abs(want[finite] - got[finite]).max() < 1e-3


def test_second_source_weights_match():
    has2 = np.random.default_rng(2).random((13, 18)) > 0.5
    want = cell_weight(has2, 8.0, 100, 140)
    got = DeviceKernels(torch.device("cpu"))._cell_weight(has2, 8.0, 100, 140).numpy()
    assert np.abs(want - got).max() < 1e-6


def test_codec_engine_on_torch_kernels_renders_what_numba_renders(tmp_path):
    """A whole clip (B-frames, a refresh after one second faded in) through the engine on each
    set of kernels: the store's copy on the device must follow every change."""
    path = make_clip(str(tmp_path / "move.mp4"), width=192, height=128, frames=40, gop=40)
    info = probe(path)
    stylizer = Stylizer("19", device="cpu")
    outputs = []
    for kernels in (None, DeviceKernels(torch.device("cpu"))):
        engine = CodecEngine(stylizer, StageTimer(), (info.width, info.height), info.codec, CodecSettings(),
                             kernels=kernels)
        frames = []
        for record in read_frames(path):
            frames += engine.push(record)
        frames += engine.flush()
        outputs.append((engine.refresh_frames, [out for _, out in frames]))
    (refresh, want), (refresh_t, got) = outputs
    assert refresh == refresh_t and len(refresh) >= 2  # the one-second refresh happened
    assert len(want) == len(got) == 40
    # numba's colours are summed in float64 under fastmath, torch's in float32: a rare pixel
    # rounds to the other side of a half level
    for a, b in zip(want, got):
        assert np.abs(a.astype(int) - b).max() <= 1 and (a != b).mean() < 1e-3


def test_without_tiles_dirty_blocks_take_the_whole_frame_pass(tmp_path):
    """On CUDA the engine refreshes dirty blocks from one pass over the whole frame (``tiles``
    off): what it pastes is exactly the network's output for the frame, with the film's frozen
    statistics, and every refresh counts a whole frame of network pixels."""
    path = make_clip(str(tmp_path / "move.mp4"), width=192, height=128, frames=12, gop=12)
    info = probe(path)
    stylizer = Stylizer("19", device="cpu")
    engine = CodecEngine(stylizer, StageTimer(), (info.width, info.height), info.codec, CodecSettings(), tiles=False)
    frames = []
    for record in read_frames(path):
        frames += engine.push(record)
    frames += engine.flush()
    refined = [n for n in engine.frame_log if n.get("dirty_share", 0) > 0 and "reason" not in n]
    assert refined, "no frame was refined: the clip does not exercise the path"
    for note in refined:
        assert note["network_share"] == 1.0
        record, out = frames[note["frame"]]
        whole, _ = stylizer.stylize(record.rgb, engine.frozen)
        # at least the dirty blocks (a 16 px grid; the share is logged to 4 decimals) show the
        # whole-frame output
        close = (np.abs(out.astype(int) - whole) <= 1).all(axis=-1).reshape(8, 16, 12, 16).all(axis=(1, 3))
        assert close.mean() >= note["dirty_share"] - 1e-4 > 0
