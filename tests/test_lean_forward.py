"""The style networks' memory-lean forward passes (in-place activations, striped convolutions)
give exactly what the plain, allocate-everything computation gives, and never touch their inputs.

The references below spell each network out with out-of-place torch ops and one-piece
``conv2d(pad(x))``, as the modules computed before they were made lean. ``STRIPE_BYTES`` is
shrunk (the ``calls`` fixture) so that small test images are convolved in many stripes. Inputs
come in the three memory layouts the networks meet, since torch picks its convolution kernel,
and so its rounding, by layout and size: the striped pass must pick the same ones.
"""
import pytest
import torch
import torch.nn.functional as F

from codecstyle.nets import striped_conv
from codecstyle.nets.frozen_norm import NormStats
from codecstyle.nets.striped_conv import reflect_conv2d
from codecstyle.nets.style_spec import parse_style


@pytest.fixture
def multi(multistyle_net):
    return multistyle_net


@pytest.fixture
def arbitrary(arbitrary_net):
    return arbitrary_net


@pytest.fixture
def calls(monkeypatch):
    """Small stripes, and a count of the conv2d calls made."""
    monkeypatch.setattr(striped_conv, "STRIPE_BYTES", 20_000)
    count = [0]
    conv2d = F.conv2d

    def counting(*args, **kwargs):
        count[0] += 1
        return conv2d(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d", counting)
    return count


def _conv(x, weight, bias=None, stride=1, upsample=False):
    if upsample:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    return F.conv2d(F.pad(x, (weight.shape[-1] // 2,) * 4, mode="reflect"), weight, bias, stride)


class _Norm:
    """Plain instance norm with live or frozen statistics, recording what it used."""

    def __init__(self, stats, eps):
        self.frozen = iter(stats.layers) if stats is not None else None
        self.eps = eps
        self.used = []

    def __call__(self, x, gamma, beta):
        if self.frozen is None:
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)
        else:
            mean, var = next(self.frozen)
        self.used.append((mean, var))
        return (x - mean) * (gamma * torch.rsqrt(var + self.eps)) + beta


def _pad4(image):
    h, w = image.shape[-2:]
    ph, pw = (-h) % 4, (-w) % 4
    return (F.pad(image, (0, pw, 0, ph), mode="reflect") if (ph or pw) else image), h, w


def reference_multi(net, image, style, stats=None):
    x, h, w = _pad4(image)
    norm = _Norm(stats, 1e-5)

    def layer(m, x):
        g = (style @ m.norm.gamma).view(1, -1, 1, 1)
        b = (style @ m.norm.beta).view(1, -1, 1, 1)
        return norm(_conv(x, m.w, None, m.stride, m.upsample), g, b)

    for m in net.contract:
        x = F.relu(layer(m, x))
    for first, second in net.res:
        x = x + layer(second, F.relu(layer(first, x)))
    x = F.relu(layer(net.expand[0], x))
    x = F.relu(layer(net.expand[1], x))
    x = torch.sigmoid(layer(net.expand[2], x))
    return x[..., :h, :w], NormStats(norm.used)


def reference_arbitrary(net, image, style, stats=None):
    x, h, w = _pad4(image)
    norm = _Norm(stats, 1e-5)

    def layer(m, x):
        y = _conv(x, m.conv.weight, m.conv.bias, 1, m.upsample)
        gamma, beta = m.gamma(style)[:, :, None, None], m.beta(style)[:, :, None, None]
        if style.shape[0] == 1:
            return norm(y, gamma, beta)
        return norm(y, torch.ones_like(gamma[:1]), torch.zeros_like(beta[:1])) * gamma + beta

    for conv in net.contract:
        x = F.relu(_conv(x, conv.weight, conv.bias, conv.stride[0]))
    for block in net.residual:
        x = x + layer(block.conv2, F.relu(layer(block.conv1, x)))
    x = F.relu(layer(net.expand[0], x))
    x = F.relu(layer(net.expand[1], x))
    x = torch.sigmoid(layer(net.expand[2], x))
    return x[..., :h, :w], NormStats(norm.used)


def _same_stats(a, b):
    return len(a.layers) == len(b.layers) and all(
        torch.equal(ma, mb) and torch.equal(va, vb) for (ma, va), (mb, vb) in zip(a.layers, b.layers))


def image_batch(n, h, w, layout, c=3):
    """Random ``(n, c, h, w)`` in one of the layouts the networks get, which torch runs on
    different convolution kernels: ``"nchw"`` (contiguous); ``"nhwc"``, channels-last, as
    ``Stylizer`` makes its input (a permuted ``(N, H, W, 3)``); ``"hwc"``, one permuted
    ``(H, W, 3)`` image with a new batch axis, whose strides torch does not read as channels-last.
    """
    if layout == "nhwc":
        return torch.rand(n, h, w, c).permute(0, 3, 1, 2)
    if layout == "hwc":
        assert n == 1, "a single image"
        return torch.rand(h, w, c).permute(2, 0, 1)[None]
    return torch.rand(n, c, h, w)


def _batch_layout(layout):
    """The layout of a batch of crops made the way ``layout`` makes one image."""
    return "nchw" if layout == "nchw" else "nhwc"


def same_layout(a, b):
    return all(a.is_contiguous(memory_format=f) == b.is_contiguous(memory_format=f)
               for f in (torch.contiguous_format, torch.channels_last))


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "hwc"])
@pytest.mark.parametrize("n,h,w,stride,k,c_in,c_out", [
    (1, 137, 253, 1, 9, 3, 32), (1, 137, 253, 2, 3, 32, 32), (2, 96, 141, 2, 3, 8, 16),
    (1, 229, 120, 1, 3, 16, 8), (1, 181, 340, 1, 9, 4, 3), (1, 61, 700, 2, 3, 8, 16)])
def test_reflect_conv2d_matches_pad_then_conv(calls, n, h, w, stride, k, c_in, c_out, layout):
    if layout == "hwc" and n > 1:
        pytest.skip("that layout is a single image")
    torch.manual_seed(h * w)
    x = image_batch(n, h, w, layout, c_in)
    weight, bias = torch.randn(c_out, c_in, k, k), torch.randn(c_out)
    before = x.clone()
    with torch.inference_mode():
        out = reflect_conv2d(x, weight, bias, stride)
        assert calls[0] >= 2  # striped
        ref = F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), weight, bias, stride)
    assert out.shape == ref.shape and same_layout(out, ref)
    assert torch.equal(out, ref)
    assert torch.equal(x, before)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("n,h,w,k,c_in,c_out", [(1, 45, 80, 3, 32, 8), (1, 91, 60, 3, 8, 4), (2, 73, 101, 9, 4, 3)])
def test_upsampling_conv_matches_upsample_then_conv(calls, n, h, w, k, c_in, c_out, layout):
    torch.manual_seed(h + w)
    x = image_batch(n, h, w, layout, c_in)
    weight = torch.randn(c_out, c_in, k, k)
    with torch.inference_mode():
        out = reflect_conv2d(x, weight, upsample=True)
        assert calls[0] >= 2  # striped: the upsampled input is made a stripe at a time
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
        ref = F.conv2d(F.pad(up, (k // 2,) * 4, mode="reflect"), weight)
    assert out.shape == ref.shape and same_layout(out, ref)
    assert torch.equal(out, ref)


def test_small_inputs_are_convolved_in_one_piece(calls):
    with torch.inference_mode():
        reflect_conv2d(torch.rand(1, 32, 20, 30), torch.rand(32, 32, 3, 3))
    assert calls[0] == 1


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "hwc"])
@pytest.mark.parametrize("stripes", [False, True])
def test_multistyle_lean_forward_is_exact(multi, request, stripes, layout):
    if stripes:
        request.getfixturevalue("calls")
    torch.manual_seed(1)
    image = image_batch(1, 181, 242, layout)
    style = torch.from_numpy(parse_style("3:0.5,19:0.5"))
    before = image.clone()
    with torch.inference_mode():
        out, stats = multi(image, style)
        ref, ref_stats = reference_multi(multi, image, style)
        assert torch.equal(out, ref) and same_layout(out, ref) and _same_stats(stats, ref_stats)
        out, _ = multi(image, style, stats)  # frozen statistics: the striped first layers
        assert torch.equal(out, ref)
        crops = image_batch(2, 90, 134, _batch_layout(layout))  # frozen statistics, two crops
        out, _ = multi(crops, style, stats.batch(2))
        ref, _ = reference_multi(multi, crops, style, ref_stats.batch(2))
        assert torch.equal(out, ref)
    assert torch.equal(image, before)


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "hwc"])
@pytest.mark.parametrize("stripes", [False, True])
def test_arbitrary_lean_forward_is_exact(arbitrary, request, stripes, layout):
    if stripes:
        request.getfixturevalue("calls")
    torch.manual_seed(2)
    image = image_batch(1, 181, 242, layout)
    style = torch.randn(1, 100) * 0.3
    before = image.clone()
    with torch.inference_mode():
        out, stats = arbitrary(image, style)
        ref, ref_stats = reference_arbitrary(arbitrary, image, style)
        assert torch.equal(out, ref) and same_layout(out, ref) and _same_stats(stats, ref_stats)
        crops = image_batch(2, 90, 134, _batch_layout(layout))
        styles = torch.randn(2, 100) * 0.3  # one style per crop
        for frozen, ref_frozen in ((None, None), (stats.batch(2), ref_stats.batch(2))):
            out, _ = arbitrary(crops, styles, frozen)
            ref, _ = reference_arbitrary(arbitrary, crops, styles, ref_frozen)
            assert torch.equal(out, ref)
    assert torch.equal(image, before)
