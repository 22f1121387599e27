"""Magenta's arbitrary-style networks ported to torch: checked against onnxruntime on the original
QDQ-quantized files, and for the frozen-statistics contract the engines rely on.

Why two references. The ONNX files quantize activations as well as weights (QuantizeLinear after
every layer), while the port computes in float with the dequantized weights. So the port is
compared (1) with the same graph with every activation Quantize/Dequantize pair turned into
Identity, which must agree to float rounding, and (2) with the original int8 graph, whose
difference is the activation quantization itself (measured: 4.5-9.7/255 mean abs on textures and
real frames, 14/255 on white noise, which drives activations past their calibrated ranges).
"""
import av
import numpy as np
import pytest
import torch

from clips import texture
from conftest import media
from codecstyle.errors import CodecStyleError
from codecstyle.nets.arbitrary import EPS, ArbitraryStyleNet, state_from_onnx
from codecstyle.nets.style_predictor import StylePredictor, mix_styles, style_input
from codecstyle.nets.weights import dequantize, load_state_dict, model_path

STYLE_INPUT = "mobilenet_conv/Conv/BiasAdd"


@pytest.fixture
def net(arbitrary_net):
    return arbitrary_net


@pytest.fixture(scope="module")
def predictor():
    return StylePredictor.from_state_dict(load_state_dict("arbitrary_predict"))


def float_activations(model):
    """The graph with activation QuantizeLinear/DequantizeLinear nodes made Identity: weights stay
    int8-dequantized, activations stay float, exactly what the port computes."""
    import onnx

    inits = {t.name for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and node.input[0] not in inits:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    del model.graph.value_info[:]
    for out in model.graph.output:
        out.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    return model


@pytest.fixture(scope="module")
def sessions():
    """``{name: (original int8 session, float-activation session)}`` for both models."""
    ort = pytest.importorskip("onnxruntime")
    import onnx

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the stripped graph leaves unused scales: not worth a warning each
    result = {}
    for name in ("arbitrary_predict", "arbitrary_transform"):
        path = str(model_path(name))
        quantized = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        stripped = float_activations(onnx.load(path)).SerializeToString()
        result[name] = (quantized, ort.InferenceSession(stripped, options, providers=["CPUExecutionProvider"]))
    return result


def nhwc(img: np.ndarray) -> np.ndarray:
    return img[None].astype(np.float32) / 255.0


def nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0


def noise(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def test_predictor_matches_graph_and_int8_onnxruntime(predictor, sessions):
    quantized, stripped = sessions["arbitrary_predict"]
    vectors = []
    for img in (texture(256, 256, seed=1), noise(256, 256)):
        ref_q = quantized.run(None, {"style_image": nhwc(img)})[0].reshape(1, 100)
        ref_f = stripped.run(None, {"style_image": nhwc(img)})[0].reshape(1, 100)
        ours = predictor(nchw(img)).numpy()
        # measured max 1.1e-6: the float port is the graph
        assert np.abs(ours - ref_f).max() < 1e-4
        # measured mean 0.010-0.013, max 0.030-0.041 (the int8 output step alone is 0.0199)
        assert np.abs(ours - ref_q).mean() < 0.03 and np.abs(ours - ref_q).max() < 0.1
        vectors.append(ours)
    # ... far below the distance between two different styles (measured 0.57)
    assert np.abs(vectors[0] - vectors[1]).mean() > 0.3


def test_transformer_matches_graph_and_int8_onnxruntime(net, predictor, sessions):
    quantized, stripped = sessions["arbitrary_transform"]
    content = texture(384, 384, seed=11)
    for style_image in (texture(256, 256, seed=1), texture(300, 300, seed=7)):
        style = predictor(style_input(style_image))
        feed = {"content_image": nhwc(content), STYLE_INPUT: style.numpy().reshape(1, 1, 1, 100)}
        ref_q = quantized.run(None, feed)[0]
        ref_f = stripped.run(None, feed)[0]
        ours = net(nchw(content), style)[0].permute(0, 2, 3, 1).numpy()
        assert ours.shape == ref_q.shape == (1, 384, 384, 3)
        # measured max 3e-5 (0.008/255): the float port is the graph
        assert np.abs(ours - ref_f).max() < 2e-4
        # int8 activations, measured over 5 styles from pictures x 5 contents (textures, frames of
        # three clips, noise): mean 4.7-9.1/255, 99th percentile 19-36/255. (A white-noise *style*
        # is out of distribution: 10-19/255 mean.)
        err = np.abs(ours - ref_q) * 255
        assert err.mean() < 12 and np.percentile(err, 99) < 45, (err.mean(), np.percentile(err, 99))


def test_styles_differ_by_more_than_the_quantization_tolerance(net, predictor):
    content = nchw(texture(128, 128, seed=11))
    a = net(content, predictor(style_input(texture(256, 256, seed=1))))[0]
    b = net(content, predictor(style_input(noise(256, 256))))[0]
    assert float((a - b).abs().mean()) * 255 > 25  # measured about 40/255 at 384x384


def test_epsilon_is_the_graphs():
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_path("arbitrary_transform"))).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    eps_nodes = [n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0].endswith("batchnorm/add/y")]
    assert eps_nodes
    for node in eps_nodes:
        value = dequantize(init[node.input[0]], init[node.input[1]], init[node.input[2]], 1)
        assert float(value.ravel()[0]) == pytest.approx(EPS, rel=1e-5)


def test_any_frame_size(net):
    torch.manual_seed(0)
    style = torch.randn(1, 100) * 0.5
    for h, w in [(127, 95), (8, 8), (33, 130)]:
        out, stats = net(torch.rand(1, 3, h, w), style)
        assert out.shape == (1, 3, h, w)
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
        assert len(stats.layers) == ArbitraryStyleNet.NORM_LAYERS


def test_one_style_per_sample_equals_separate_runs(net):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 40, 56)
    styles = torch.randn(2, 100) * 0.5
    both, stats = net(x, styles)
    for i in range(2):
        alone, alone_stats = net(x[i:i + 1], styles[i:i + 1])
        assert torch.allclose(both[i:i + 1], alone, atol=1e-5)
        assert torch.allclose(stats.layers[0][1][i:i + 1], alone_stats.layers[0][1], atol=1e-6)


def test_bad_inputs(net, predictor):
    with pytest.raises(ValueError):
        net(torch.rand(1, 4, 32, 32), torch.zeros(1, 100))
    with pytest.raises(ValueError):
        net(torch.rand(2, 3, 32, 32), torch.zeros(3, 100))
    with pytest.raises(ValueError):
        net(torch.rand(1, 3, 32, 32), torch.zeros(1, 26))
    with pytest.raises(ValueError):
        net(torch.rand(1, 3, 4, 32), torch.zeros(1, 100))
    with pytest.raises(ValueError):
        predictor(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError):
        style_input(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        mix_styles(torch.zeros(1, 100), torch.zeros(1, 100), 1.5)
    with pytest.raises(KeyError):
        state_from_onnx({"transformer/somewhere/else/weight": torch.zeros(1)})
    with pytest.raises(CodecStyleError):
        load_state_dict("no-such-model")


def test_style_input_and_mixing():
    img = texture(300, 400, seed=3)
    square = style_input(img)
    assert square.shape == (1, 3, 256, 256) and square.dtype == torch.float32
    assert 0.0 <= float(square.min()) and float(square.max()) <= 1.0
    assert style_input(img, square_crop=False).shape == (1, 3, 256, 341)
    a, b = torch.zeros(1, 100), torch.ones(1, 100)
    assert torch.equal(mix_styles(a, b, 0.0), a) and torch.equal(mix_styles(a, b, 1.0), b)
    assert torch.allclose(mix_styles(a, b, 0.25), torch.full((1, 100), 0.25))


def test_frozen_stats_reproduce_live_output(net):
    torch.manual_seed(0)
    x, style = torch.rand(1, 3, 64, 96), torch.randn(1, 100) * 0.5
    live, stats = net(x, style)
    frozen, _ = net(x, style, stats)
    assert torch.allclose(live, frozen, atol=1e-6)


def crop_errors(net, x, style, stats, full, margin, boxes):
    """Mean and max abs error (0..1) of crops expanded by ``margin`` (starting on multiples of the
    stride) against the full-frame output, over the boxes' interiors."""
    h, w = x.shape[-2:]
    s = ArbitraryStyleNet.STRIDE
    errors = []
    for y0, x0, y1, x1 in boxes:
        cy0, cx0 = max(0, (y0 - margin) // s * s), max(0, (x0 - margin) // s * s)
        out, _ = net(x[..., cy0:min(h, y1 + margin), cx0:min(w, x1 + margin)], style, stats)
        errors.append((out[..., y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0] - full[..., y0:y1, x0:x1]).abs())
    return max(float(e.mean()) for e in errors), max(float(e.max()) for e in errors)


def test_crop_with_margin_and_frozen_stats_matches_full_frame(net, predictor):
    # Receptive field radius by the architecture, in input pixels: 9x9 conv 4, stride-2 convs
    # 1 + 2, ten 3x3 convs at 1/4 resolution 40, decoder 2 + 1 + 4, plus nearest-upsampling
    # phase: 54-60. Measured on 8x8 boxes: max error 4e-3/255 at 48, 7e-4/255 at 52, 0 from 56.
    x = nchw(texture(160, 224, seed=4))
    style = predictor(style_input(texture(300, 400, seed=3)))
    full, stats = net(x, style)
    boxes = [(70, 90, 102, 138), (0, 0, 32, 48), (128, 176, 160, 224)]
    mean64, max64 = crop_errors(net, x, style, stats, full, 64, boxes)
    assert max64 < 1e-4  # beyond the receptive field: exact up to float rounding
    mean16, _ = crop_errors(net, x, style, stats, full, 16, boxes[:1])
    assert mean16 * 255 > 0.5  # and a margin inside it really does change the interior (measured 4.1)


def test_crop_margin_on_a_real_frame(net, predictor):
    """bikes.mp4 frame 0 (640x272), 12 random 32x48 boxes. Measured here (mean / max, /255):
    M=16 1.95-4.2 / 45; M=32 0.25-0.40 / 8-15; M=48 0.002 / 0.35 (uint8 max 1); M=64 and 96 0."""
    with av.open(media("bikes.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    x = nchw(frame)
    style = predictor(style_input(texture(300, 400, seed=3)))
    full, stats = net(x, style)
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(6):
        y0, x0 = int(rng.integers(0, 272 - 32)), int(rng.integers(0, 640 - 48))
        boxes.append((y0, x0, y0 + 32, x0 + 48))
    mean48, max48 = crop_errors(net, x, style, stats, full, 48, boxes)
    assert mean48 * 255 < 0.05 and max48 * 255 < 1.5
    _, max64 = crop_errors(net, x, style, stats, full, 64, boxes)
    assert max64 < 1e-4
