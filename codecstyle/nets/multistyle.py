"""The 26-style conditional-instance-norm network (Dumoulin et al. 2017) as a torch module.

Architecture (166k parameters): 9x9 conv, two stride-2 3x3 convs, six residual blocks at 1/4
resolution, two nearest-upsample + 3x3 conv stages, a 9x9 conv and a sigmoid. Every conv is
reflect-padded, bias-free and followed by conditional instance norm, whose per-style scale and
shift are blended by the style weights.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .frozen_norm import FrozenNorm, NormStats, StatsCursor

NUM_STYLES = 26


class ConvNorm(nn.Module):
    """Reflect pad, conv (no bias), conditional instance norm. Parameter names follow the ONNX
    initializers: ``w``, ``norm.gamma`` ``(26, C)``, ``norm.beta`` ``(26, C)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: bool = False):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(c_out, c_in, kernel, kernel))
        self.norm = FrozenNorm(c_out)
        self.norm.gamma = nn.Parameter(torch.ones(NUM_STYLES, c_out))
        self.norm.beta = nn.Parameter(torch.zeros(NUM_STYLES, c_out))
        self.stride = stride
        self.upsample = upsample
        self.pad = kernel // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor, cursor: StatsCursor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.pad(x, (self.pad,) * 4, mode="reflect")
        x = F.conv2d(x, self.w, stride=self.stride)
        return self.norm(x, style @ self.norm.gamma, style @ self.norm.beta, cursor)


class MultiStyleNet(nn.Module):
    """``forward(image, style, stats=None) -> (stylized, stats)``.

    - image: ``(N, 3, H, W)`` float32 RGB in 0..1, any H and W (reflect-padded to a multiple
      of 4 inside, cropped back after).
    - style: ``(26,)`` float32 weights summing to 1.
    - stats: ``None`` to measure instance-norm statistics on this input, or a ``NormStats``
      captured earlier to reuse them (frozen mode).
    - returns the stylized ``(N, 3, H, W)`` float32 in 0..1 and the statistics that were used.
    """

    #: Total down/up-sampling factor: inputs are padded to a multiple of this.
    STRIDE = 4

    def __init__(self):
        super().__init__()
        self.contract = nn.ModuleList([ConvNorm(3, 32, 9), ConvNorm(32, 32, 3, 2), ConvNorm(32, 32, 3, 2)])
        self.res = nn.ModuleList([nn.ModuleList([ConvNorm(32, 32, 3), ConvNorm(32, 32, 3)]) for _ in range(6)])
        self.expand = nn.ModuleList([ConvNorm(32, 8, 3, upsample=True), ConvNorm(8, 4, 3, upsample=True),
                                     ConvNorm(4, 3, 9)])

    def forward(self, image: torch.Tensor, style: torch.Tensor,
                stats: Optional[NormStats] = None) -> Tuple[torch.Tensor, NormStats]:
        h, w = image.shape[-2:]
        ph, pw = (-h) % self.STRIDE, (-w) % self.STRIDE
        x = F.pad(image, (0, pw, 0, ph), mode="reflect") if (ph or pw) else image
        cursor = StatsCursor(stats)
        for layer in self.contract:
            x = F.relu(layer(x, style, cursor))
        for first, second in self.res:
            x = x + second(F.relu(first(x, style, cursor)), style, cursor)
        x = F.relu(self.expand[0](x, style, cursor))
        x = F.relu(self.expand[1](x, style, cursor))
        x = torch.sigmoid(self.expand[2](x, style, cursor))
        return x[..., :h, :w], cursor.result()

    @staticmethod
    def from_state_dict(state: Dict[str, torch.Tensor]) -> "MultiStyleNet":
        net = MultiStyleNet()
        net.load_state_dict(state, strict=True)
        return net.eval().requires_grad_(False)
