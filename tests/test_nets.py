import numpy as np
import pytest
import torch

from clips import texture
from codecstyle.errors import CodecStyleError
from codecstyle.nets.style_spec import parse_style
from codecstyle.nets.stylizer import Stylizer, resolve_device
from codecstyle.nets.weights import model_path


@pytest.fixture
def net(multistyle_net):
    return multistyle_net


@pytest.fixture(scope="module")
def stylizer():
    return Stylizer(style="19", device="cpu")


def test_port_matches_onnxruntime(net):
    ort = pytest.importorskip("onnxruntime")
    sess = ort.InferenceSession(str(model_path("multistyle26")), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for h, w, style in [(64, 96, "19"), (100, 132, "3:0.5,12:0.5"), (72, 72, "0")]:
        x = rng.random((1, 3, h, w), dtype=np.float32)
        weights = parse_style(style)
        ref = sess.run(None, {"image": x, "style_weights": weights})[0]
        out, _ = net(torch.from_numpy(x), torch.from_numpy(weights))
        mae = float(np.abs(out.numpy() - ref).mean())
        assert out.shape == ref.shape
        assert mae < 1e-4, (h, w, style, mae)


def test_any_frame_size(net):
    for h, w in [(33, 47), (50, 70), (17, 130)]:
        out, _ = net(torch.rand(1, 3, h, w), torch.from_numpy(parse_style("5")))
        assert out.shape == (1, 3, h, w)
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_frozen_stats_reproduce_live_output(net):
    x = torch.rand(1, 3, 64, 96)
    style = torch.from_numpy(parse_style("7"))
    live, stats = net(x, style)
    frozen, _ = net(x, style, stats)
    assert len(stats.layers) == 18
    assert torch.allclose(live, frozen, atol=1e-6)


def test_frozen_stats_change_crop_colours_less_than_live(net):
    # A crop normalised with its own statistics drifts from the full frame; frozen ones do not.
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 128)
    x[..., :, 64:] *= 0.3  # a dark right half gives the crop very different statistics
    style = torch.from_numpy(parse_style("19"))
    full, stats = net(x, style)
    crop = x[..., 8:56, 8:72]
    own, _ = net(crop, style)
    frozen, _ = net(crop, style, stats)
    ref = full[..., 8:56, 8:72]
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))
    assert float((frozen - ref)[inner].abs().mean()) < 0.5 * float((own - ref)[inner].abs().mean())


def test_parse_style():
    assert parse_style("19")[19] == 1.0
    w = parse_style("3:0.5,12:1.5")
    assert w[3] == pytest.approx(0.25) and w[12] == pytest.approx(0.75)
    assert parse_style({1: 2.0, 2: 2.0})[1] == pytest.approx(0.5)
    for bad in ["26", "-1", "x", "3:-1", "3:0", ""]:
        with pytest.raises(CodecStyleError):
            parse_style(bad)


def test_stylizer_strength_and_preserve_color():
    img = texture(48, 64, seed=1)
    zero = Stylizer(style="19", strength=0.0, device="cpu").stylize(img)[0]
    assert np.abs(zero.astype(int) - img).max() <= 1
    full = Stylizer(style="19", device="cpu").stylize(img)[0]
    kept = Stylizer(style="19", preserve_color=True, device="cpu").stylize(img)[0]
    luma = np.array([0.299, 0.587, 0.114])
    # preserve-color keeps the stylized brightness (up to clipping at 0 and 255) ...
    assert np.abs(kept @ luma - full @ luma).mean() < 3.0
    # ... and the original's colour differences (chroma), unlike the plain stylized output
    chroma = lambda a: a.astype(float) - (a @ luma)[..., None]  # noqa: E731
    assert np.abs(chroma(kept) - chroma(img)).mean() < 0.5 * np.abs(chroma(full) - chroma(img)).mean()


def test_device_errors():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(CodecStyleError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(CodecStyleError):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_matches_cpu(stylizer):
    img = (np.random.default_rng(2).random((64, 96, 3)) * 255).astype(np.uint8)
    gpu = Stylizer(style="19", device="cuda").stylize(img)[0]
    assert np.abs(gpu.astype(int) - stylizer.stylize(img)[0]).mean() < 1.0


def test_pooled_stats_equal_stats_of_frames_side_by_side():
    from codecstyle.nets.frozen_norm import NormStats

    def stats(x):
        return NormStats([(x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False))])

    a, b = torch.randn(1, 4, 10, 10), torch.randn(1, 4, 10, 10) * 3 + 1
    pooled = NormStats.pool([stats(a), stats(b)])
    whole = stats(torch.cat([a, b], dim=3))
    assert torch.allclose(pooled.layers[0][0], whole.layers[0][0], atol=1e-5)
    assert torch.allclose(pooled.layers[0][1], whole.layers[0][1], atol=1e-4)


def test_shared_stats_give_every_frame_the_same_normalisation():
    stylizer = Stylizer("19", device="cpu")
    a, b = texture(64, 96, seed=1), texture(64, 96, seed=2)
    _, stats_a = stylizer.stylize(a)
    stylizer.shared_stats = stats_a
    _, used = stylizer.stylize(b)
    assert all(torch.equal(m1, m2) for (m1, _), (m2, _) in zip(stats_a.layers, used.layers))
