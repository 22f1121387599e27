"""Magenta's arbitrary-style predictor (Ghiasi et al. 2017) as a torch module: image -> style vector.

A MobileNetV2 (width 1.0) body, global average pooling and a 1x1 conv to a 100-dimensional
"style bottleneck". The transformer in ``arbitrary.py`` turns that vector into the scale and shift
of every conditional instance norm, so any picture can be a style, and styles mix linearly.

Batch norm is folded into the convs' biases by the exporter; activations are ReLU6. Convolutions
follow TensorFlow's "SAME" padding, which pads the bottom/right more than the top/left on
stride-2 layers: that asymmetry is kept so the port matches the original numerically.
"""
from __future__ import annotations

import re
from typing import Dict

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .inference import InferenceNet

STYLE_DIM = 100
#: The style image size the exported model was made for (it works on others, but this is the
#: size the style vectors were trained and verified on).
STYLE_SIZE = 256

# MobileNetV2 inverted-residual stages: (expansion, output channels, repeats, first stride).
_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1))


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad ``x`` as TensorFlow's "SAME" does: output size ``ceil(size / stride)``, with the
    odd pixel of padding at the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class InvertedResidual(nn.Module):
    """1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear projection, plus the input when the
    shape allows. ``expand`` is absent when the expansion factor is 1."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int):
        super().__init__()
        hidden = c_in * expansion
        self.expand = nn.Conv2d(c_in, hidden, 1) if expansion != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = nn.Conv2d(hidden, c_out, 1)
        self.stride = stride
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = F.relu6(self.depthwise(same_pad(y, 3, self.stride)))
        y = self.project(y)
        return x + y if self.residual else y


class StylePredictor(InferenceNet):
    """``forward(image) -> style``.

    - image: ``(N, 3, H, W)`` float32 RGB in 0..1, normally 256x256 (see ``style_input``); any
      size of at least 32x32 runs.
    - returns ``(N, 100)`` float32 style vectors for ``ArbitraryStyleNet``.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, stride=2)
        blocks, c_in = [], 32
        for expansion, c_out, repeats, stride in _STAGES:
            for i in range(repeats):
                blocks.append(InvertedResidual(c_in, c_out, expansion, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(c_in, 1280, 1)
        self.bottleneck = nn.Conv2d(1280, STYLE_DIM, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be (N, 3, H, W), got {tuple(image.shape)}")
        if min(image.shape[-2:]) < 32:
            raise ValueError(f"style image too small: {tuple(image.shape[-2:])}, need at least 32x32")
        x = F.relu6(self.stem(same_pad(image, 3, 2)))
        for block in self.blocks:
            x = block(x)
        x = F.relu6(self.head(x)).mean(dim=(2, 3), keepdim=True)
        return self.bottleneck(x).flatten(1)


def state_from_onnx(params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our parameter names for the ONNX conv parameters of ``arbitrary_predict.onnx`` (as given by
    ``weights.onnx_conv_params``): ``MobilenetV2/expanded_conv_<i>/<part>/weight`` ->
    ``blocks.<i>.<part>.weight`` and so on. Raises ``KeyError`` on a name it does not know."""
    state = {}
    for key, value in params.items():
        scope, kind = key.rsplit("/", 1)
        block = re.fullmatch(r"MobilenetV2/expanded_conv(?:_(\d+))?/(expand|depthwise|project)", scope)
        if block:
            name = f"blocks.{int(block.group(1) or 0)}.{block.group(2)}"
        else:
            name = {"MobilenetV2/Conv": "stem", "MobilenetV2/Conv_1": "head",
                    "mobilenet_conv/Conv": "bottleneck"}[scope]
        state[f"{name}.{kind}"] = value
    return state


def style_input(rgb: np.ndarray, size: int = STYLE_SIZE, square_crop: bool = True) -> torch.Tensor:
    """A ``(H, W, 3)`` uint8 RGB picture as the predictor's input: ``(1, 3, h, w)`` float32 0..1.

    As Magenta does, the shorter side is resized to ``size`` (area averaging when shrinking, so
    fine texture does not alias; bilinear when enlarging) and, with ``square_crop``, the centre
    ``size x size`` square is kept (the exported model's fixed shape). Without it the aspect ratio
    is kept: the predictor ends in a global average, so any shape gives a vector.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=method)
    if square_crop:
        y0, x0 = (new_h - size) // 2, (new_w - size) // 2
        resized = resized[y0:y0 + size, x0:x0 + size]
    tensor = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1)[None]
    return tensor.float().div_(255.0)


def mix_styles(style: torch.Tensor, content_style: torch.Tensor, content_ratio: float) -> torch.Tensor:
    """Magenta's strength control: ``(1 - content_ratio) * style + content_ratio * content_style``,
    where ``content_style`` is the vector predicted from the content image itself. 0 is the full
    style; 1 gives the content's own "style" (a near-identity look). Shapes ``(N or 1, 100)``."""
    if not 0.0 <= float(content_ratio) <= 1.0:
        raise ValueError(f"content_ratio must be in 0..1, got {content_ratio}")
    return torch.lerp(style, content_style, float(content_ratio))
