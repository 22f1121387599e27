"""The 26-style conditional-instance-norm network (Dumoulin et al. 2017) as a torch module.

Architecture (166k parameters): 9x9 conv, two stride-2 3x3 convs, six residual blocks at 1/4
resolution, two nearest-upsample + 3x3 conv stages, a 9x9 conv and a sigmoid. Every conv is
reflect-padded, bias-free and followed by conditional instance norm, whose per-style scale and
shift are blended by the style weights.

Inference only, and lean: the forward pass updates its own activations in place and convolves
large inputs in stripes (``striped_conv``); with frozen statistics the full-resolution first
layer never exists whole. Measured at 720p (one thread, ``Stylizer``'s channels-last input, a
render worker's malloc settings, three passes), the process grew by 615-1080 MB with live
statistics and 550-590 MB with frozen ones when every op allocated its result; now by 225-265 MB
and 110-140 MB, at the same speed and with bit-identical results.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .frozen_norm import FrozenNorm, NormStats, StatsCursor
from .inference import InferenceNet
from .striped_conv import out_size, pad_rows, reflect_conv2d, rows_out, rows_read, stripes

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

    def forward(self, x: torch.Tensor, style: torch.Tensor, cursor: StatsCursor) -> torch.Tensor:
        x = reflect_conv2d(x, self.w, stride=self.stride, upsample=self.upsample)
        return self.norm(x, style @ self.norm.gamma, style @ self.norm.beta, cursor)


class MultiStyleNet(InferenceNet):
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
        # Activations are updated in place (norm, ReLU, residual sum, sigmoid): every tensor
        # changed is one this pass made, never ``image``, and no autograd runs (inference only).
        stem = self._frozen_stem(x, style, cursor) if stats is not None else None
        x, start = (x, 0) if stem is None else (stem, 2)
        del stem  # no second reference: the stem output is freed as x moves on
        for layer in self.contract[start:]:
            x = layer(x, style, cursor).relu_()
        for first, second in self.res:
            x = x.add_(second(first(x, style, cursor).relu_(), style, cursor))
        x = self.expand[0](x, style, cursor).relu_()
        x = self.expand[1](x, style, cursor).relu_()
        x = self.expand[2](x, style, cursor).sigmoid_()
        return x[..., :h, :w], cursor.result()

    def _frozen_stem(self, x: torch.Tensor, style: torch.Tensor,
                     cursor: StatsCursor) -> Optional[torch.Tensor]:
        """The first two layers (conv, norm, ReLU each) in stripes of the second one's output
        rows, or None when ``x`` is small enough to run whole.

        The first layer's output is the network's largest activation (32 channels at full
        resolution: 118 MB at 720p). With frozen statistics it needs no whole-frame pass, so
        only a stripe of it exists at a time. Bit-identical to the layer-by-layer pass: every
        stripe is convolved (``striped_conv``) and normalised (elementwise) exactly as the
        whole would be.
        """
        first, second = self.contract[0], self.contract[1]
        n, _, h, w = x.shape
        k0, k1, s = first.w.shape[-1], second.w.shape[-1], second.stride
        read = n * first.w.shape[0] * (w + k1 - 1) * s  # padded first-layer elements per output row
        parts = stripes(out_size(h, k1, s), read * x.element_size(), read)
        if len(parts) == 1:
            return None
        mean, var = cursor.next(x, first.norm.eps)  # frozen: x is not measured
        gamma, beta = style @ first.norm.gamma, style @ first.norm.beta
        out = None
        for y0, y1 in parts:
            r0, r1 = rows_read(y0, y1, k1, s, h)  # rows of the first layer's output needed
            a0, a1 = rows_read(r0, r1, k0, 1, h)  # and the image rows those read
            act = F.conv2d(pad_rows(x[:, :, a0:a1], r0, r1, k0, 1, h), first.w)
            first.norm.apply_stats(act, gamma, beta, mean, var).relu_()
            piece = F.conv2d(pad_rows(act, y0, y1, k1, s, h), second.w, stride=s)
            if out is None:
                out = rows_out(piece, (n, second.w.shape[0], out_size(h, k1, s), out_size(w, k1, s)))
            out[:, :, y0:y1] = piece
        return second.norm(out, style @ second.norm.gamma, style @ second.norm.beta, cursor).relu_()
