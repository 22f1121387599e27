"""Magenta's arbitrary-style transformer (Ghiasi et al. 2017) as a torch module.

Architecture (as exported in ``arbitrary_transform.onnx``): a 9x9 conv and two stride-2 3x3
convs, each with a bias (batch norm folded in) and ReLU, no instance norm; five residual blocks at
1/4 resolution; two nearest-upsample + 3x3 conv stages, a 9x9 conv and a sigmoid. Every conv is
reflect-padded. After the contraction, every conv is followed by conditional instance norm whose
scale (gamma) and shift (beta) are linear functions of the 100-dimensional style vector from
``StylePredictor``: a new picture is a new style, no retraining.

Instance norm here is ``FrozenNorm`` (epsilon 1e-5, biased variance over the frame, exactly as the
graph computes it), so statistics can be captured on a full frame and reused on crops.

Inference only, and lean: the forward pass updates its own activations in place (norm, ReLU,
residual sum) and convolves large inputs in stripes (``striped_conv``).
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .frozen_norm import FrozenNorm, NormStats, StatsCursor
from .inference import InferenceNet
from .striped_conv import reflect_conv2d

STYLE_DIM = 100
#: Epsilon added to the variance in every instance norm (the graph's ``batchnorm/add/y``).
EPS = 1e-5


class StyleConv(nn.Module):
    """Optional 2x nearest upsampling, reflect pad, conv with bias, conditional instance norm.

    ``forward(x, style, cursor)``: x ``(N, C_in, H, W)``; style ``(N or 1, 100)``. The norm's
    scale and shift are ``gamma(style)`` and ``beta(style)`` (the exported 1x1 convs on the style
    vector, as ``nn.Linear``).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, upsample: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel)
        self.gamma = nn.Linear(STYLE_DIM, c_out)
        self.beta = nn.Linear(STYLE_DIM, c_out)
        self.norm = FrozenNorm(c_out, eps=EPS)
        self.register_buffer("_unit_scale", torch.ones(c_out), persistent=False)
        self.register_buffer("_zero_shift", torch.zeros(c_out), persistent=False)
        self.upsample = upsample

    def forward(self, x: torch.Tensor, style: torch.Tensor, cursor: StatsCursor) -> torch.Tensor:
        x = reflect_conv2d(x, self.conv.weight, self.conv.bias, upsample=self.upsample)
        gamma, beta = self.gamma(style), self.beta(style)
        if gamma.shape[0] == 1:
            return self.norm(x, gamma[0], beta[0], cursor)
        # One style per sample: FrozenNorm takes one scale and shift for the whole batch, so
        # normalise with unit ones and apply each sample's own afterwards.
        unit = self.norm(x, self._unit_scale, self._zero_shift, cursor)
        return unit.mul_(gamma[:, :, None, None]).add_(beta[:, :, None, None])


class ResidualBlock(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))`` at constant width."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = StyleConv(channels, channels, 3)
        self.conv2 = StyleConv(channels, channels, 3)

    def forward(self, x: torch.Tensor, style: torch.Tensor, cursor: StatsCursor) -> torch.Tensor:
        # In place into x: the network's own activation, never the caller's image (see
        # ``ArbitraryStyleNet.forward``).
        return x.add_(self.conv2(self.conv1(x, style, cursor).relu_(), style, cursor))


class ArbitraryStyleNet(InferenceNet):
    """``forward(image, style, stats=None) -> (stylized, stats)``, the contract of ``MultiStyleNet``.

    - image: ``(N, 3, H, W)`` float32 RGB in 0..1, any H and W of at least 8 (reflect-padded to a
      multiple of ``STRIDE`` inside, cropped back after).
    - style: ``(N, 100)`` or ``(1, 100)`` float32 style vectors from ``StylePredictor`` (one row
      is shared by the whole batch).
    - stats: ``None`` to measure the 13 instance norms' statistics on this input, or a
      ``NormStats`` captured earlier to reuse them (frozen mode).
    - returns the stylized ``(N, 3, H, W)`` float32 in 0..1 and the statistics that were used.
    """

    #: Total down/up-sampling factor: inputs are padded to a multiple of this, and crops that must
    #: match a full frame start on multiples of it.
    STRIDE = 4
    #: Number of instance norms, i.e. ``len(stats.layers)``.
    NORM_LAYERS = 13

    def __init__(self):
        super().__init__()
        self.contract = nn.ModuleList([nn.Conv2d(3, 8, 9), nn.Conv2d(8, 16, 3, stride=2),
                                       nn.Conv2d(16, 32, 3, stride=2)])
        self.residual = nn.ModuleList([ResidualBlock(32) for _ in range(5)])
        self.expand = nn.ModuleList([StyleConv(32, 16, 3, upsample=True), StyleConv(16, 8, 3, upsample=True),
                                     StyleConv(8, 3, 9)])

    def forward(self, image: torch.Tensor, style: torch.Tensor,
                stats: Optional[NormStats] = None) -> Tuple[torch.Tensor, NormStats]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be (N, 3, H, W), got {tuple(image.shape)}")
        if style.dim() != 2 or style.shape[1] != STYLE_DIM or style.shape[0] not in (1, image.shape[0]):
            raise ValueError(f"style must be (N or 1, {STYLE_DIM}), got {tuple(style.shape)} for N={image.shape[0]}")
        h, w = image.shape[-2:]
        if min(h, w) < 8:
            raise ValueError(f"image too small: {h}x{w}, need at least 8x8")
        ph, pw = (-h) % self.STRIDE, (-w) % self.STRIDE
        x = F.pad(image, (0, pw, 0, ph), mode="reflect") if (ph or pw) else image
        # Activations are updated in place (norm, ReLU, residual sum, sigmoid): every tensor
        # changed is one this pass made, never ``image``, and no autograd runs (inference only).
        for conv in self.contract:
            x = reflect_conv2d(x, conv.weight, conv.bias, conv.stride[0]).relu_()
        cursor = StatsCursor(stats)
        for block in self.residual:
            x = block(x, style, cursor)
        x = self.expand[0](x, style, cursor).relu_()
        x = self.expand[1](x, style, cursor).relu_()
        x = self.expand[2](x, style, cursor).sigmoid_()
        return x[..., :h, :w], cursor.result()


def state_from_onnx(params: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our parameter names for the ONNX conv parameters of ``arbitrary_transform.onnx`` (as given
    by ``weights.onnx_conv_params``). The style projections are 1x1 convs ``(C, 100, 1, 1)`` there
    and ``nn.Linear`` ``(C, 100)`` here; ``StyleNorm/Conv_1`` is gamma (it multiplies the
    normalised activations in the graph), ``StyleNorm/Conv`` is beta. Raises ``KeyError`` on a
    name it does not know."""
    state = {}
    for key, value in params.items():
        scope, kind = key.rsplit("/", 1)
        norm = re.fullmatch(r"style_params/(.+)/StyleNorm/(Conv|Conv_1)", scope)
        layer = _layer_name(norm.group(1) if norm else scope)
        if norm:
            part = "gamma" if norm.group(2) == "Conv_1" else "beta"
            state[f"{layer}.{part}.{kind}"] = value.reshape(value.shape[0], -1) if kind == "weight" else value
        else:
            state[f"{layer}.{kind}" if layer.startswith("contract") else f"{layer}.conv.{kind}"] = value
    return state


def _layer_name(scope: str) -> str:
    """``transformer/contract/conv2`` -> ``contract.1``; ``transformer/residual/residual3/conv1``
    -> ``residual.2.conv1``; ``transformer/expand/conv1/conv`` -> ``expand.0``."""
    match = re.fullmatch(r"transformer/contract/conv(\d)", scope)
    if match:
        return f"contract.{int(match.group(1)) - 1}"
    match = re.fullmatch(r"transformer/residual/residual(\d)/conv(\d)", scope)
    if match:
        return f"residual.{int(match.group(1)) - 1}.conv{match.group(2)}"
    match = re.fullmatch(r"transformer/expand/conv(\d)/conv", scope)
    if match:
        return f"expand.{int(match.group(1)) - 1}"
    raise KeyError(f"unexpected ONNX conv scope {scope!r}")
