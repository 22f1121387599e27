"""The 26-style conditional-instance-norm network (Dumoulin et al. 2017) as a torch module.

Architecture (166k parameters): 9x9 conv, two stride-2 3x3 convs, six residual blocks at 1/4
resolution, two nearest-upsample + 3x3 conv stages, a 9x9 conv and a sigmoid. Every conv is
reflect-padded, bias-free and followed by conditional instance norm, whose per-style scale and
shift are blended by the style weights.

Inference only, and lean: the forward pass updates its own activations in place and convolves
large inputs in stripes (``striped_conv``); with frozen statistics the stem's three layers and
the last two run fused, a stripe at a time, so their full-resolution activations never exist
whole. Measured at 720p (one thread, ``Stylizer``'s channels-last input, a render worker's
malloc settings, three passes), the process grew by 615-1080 MB with live statistics and
550-590 MB with frozen ones when every op allocated its result; then by 225-265 MB and
110-140 MB, with bit-identical results. Fusing the whole stem and the tail, with 2 MiB stripes,
took a frozen pass's heap peak down by another 21 MB (memray, 156 -> 136 MB for the process),
for some speed: a frozen 720p pass, one thread, 0.282 s against 0.263 s (medians of three
interleaved runs of 30 passes; larger stem stripes measured slower, not faster).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .frozen_norm import FrozenNorm, NormStats, StatsCursor
from .inference import InferenceNet
from . import striped_conv
from .striped_conv import out_size, pad_rows, reflect_conv2d, rows_out, rows_read, stripes, upsampled_rows

NUM_STYLES = 26
#: The frozen stem's stripes are this many ``STRIPE_BYTES`` large: each recomputes the first
#: layer's rows its neighbour also needs (3 of every ~51 at 720p with 4), and that full-resolution
#: 9x9 layer is ~40 % of the network's multiply-adds.
STEM_STRIPES = 4


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
        frozen, stripe = stats is not None, striped_conv.STRIPE_BYTES
        stem = self._frozen_chain(x, self.contract, style, cursor, STEM_STRIPES * stripe) if frozen else None
        x, start = (x, 0) if stem is None else (stem.relu_(), len(self.contract))
        del stem  # no second reference: the stem output is freed as x moves on
        for layer in self.contract[start:]:
            x = layer(x, style, cursor).relu_()
        for first, second in self.res:
            x = x.add_(second(first(x, style, cursor).relu_(), style, cursor))
        x = self.expand[0](x, style, cursor).relu_()
        tail = self._frozen_chain(x, self.expand[1:], style, cursor, stripe) if frozen else None
        if tail is None:
            x = self.expand[1](x, style, cursor).relu_()
            tail = self.expand[2](x, style, cursor)
        del x
        return tail.sigmoid_()[..., :h, :w], cursor.result()

    def _frozen_chain(self, x: torch.Tensor, layers, style: torch.Tensor, cursor: StatsCursor,
                      budget: int) -> Optional[torch.Tensor]:
        """``layers[-1](relu(... relu(layers[0](x))))`` (each a ``ConvNorm``; no activation after
        the last) in stripes of the last layer's output rows, or None when ``x`` is small enough
        to run whole. ``budget``: bytes of the largest buffer a stripe makes.

        The activations inside a chain are the largest of the pass: at 720p the stem's first
        layer (32 channels at full resolution, 118 MB) and its second (32 at half, 29 MB), and
        the tail's ``expand[1]`` (4 at full, 15 MB). With frozen statistics no norm needs a
        whole activation, so only a stripe of each exists at a time. Bit-identical to the
        layer-by-layer pass: every stripe is convolved (``striped_conv``) and normalised
        (elementwise) exactly as the whole would be; the rows a stripe's neighbours also need
        are computed twice.
        """
        n = x.shape[0]
        dims, factors = [], []  # per layer: (upsampled) input size, and output rows per last-layer row
        h, w = x.shape[-2:]
        for m in layers:
            h, w = (2 * h, 2 * w) if m.upsample else (h, w)
            dims.append((h, w))
            h, w = out_size(h, m.w.shape[-1], m.stride), out_size(w, m.w.shape[-1], m.stride)
        factor = 1.0
        for i in range(len(layers) - 1, -1, -1):
            factors.insert(0, factor)
            factor *= layers[i].stride / (2 if layers[i].upsample else 1)
        # per last-layer output row: each layer's padded input and output elements
        reads = [n * f * m.w.shape[1] * (d[1] + m.w.shape[-1] - 1) * m.stride
                 for m, d, f in zip(layers, dims, factors)]
        writes = [n * f * m.w.shape[0] * d[1] / m.stride for m, d, f in zip(layers, dims, factors)]
        parts = stripes(h, int(max(reads + writes)) * x.element_size(), int(min(reads)), budget)
        if len(parts) == 1:
            return None
        norms = [(cursor.next(x, m.norm.eps), style @ m.norm.gamma, style @ m.norm.beta)  # frozen: x unread
                 for m in layers[:-1]]
        out = None
        for y0, y1 in parts:
            need = [(y0, y1)]  # output rows per layer, last layer first
            for m, (h_in, _) in zip(layers[:0:-1], dims[:0:-1]):
                a0, a1 = rows_read(*need[-1], m.w.shape[-1], m.stride, h_in)
                need.append((a0 // 2, (a1 + 1) // 2) if m.upsample else (a0, a1))
            need.reverse()
            piece, offset = x, 0  # piece holds rows offset.. of the current layer's input
            for i, (m, (h_in, _), (p0, p1)) in enumerate(zip(layers, dims, need)):
                a0, a1 = rows_read(p0, p1, m.w.shape[-1], m.stride, h_in)
                if m.upsample:
                    rows = upsampled_rows(piece, a0 - 2 * offset, a1 - 2 * offset)
                else:
                    rows = piece[:, :, a0 - offset:a1 - offset]
                piece = F.conv2d(pad_rows(rows, p0, p1, m.w.shape[-1], m.stride, h_in), m.w, stride=m.stride)
                offset = p0
                if i < len(norms):
                    (mean, var), gamma, beta = norms[i]
                    m.norm.apply_stats(piece, gamma, beta, mean, var).relu_()
            if out is None:
                out = rows_out(piece, (n, layers[-1].w.shape[0], h, w))
            out[:, :, y0:y1] = piece
        last = layers[-1]
        return last.norm(out, style @ last.norm.gamma, style @ last.norm.beta, cursor)
