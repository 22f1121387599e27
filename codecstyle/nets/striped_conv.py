"""Reflect-padded convolution computed in horizontal stripes, to bound its peak memory.

At 720p one 32-channel float32 activation is 118 MB. ``conv2d(F.pad(x, ..., "reflect"))`` on it
holds, besides ``x`` and the output, a padded copy of ``x`` and the convolution library's
(oneDNN's) reordered copy of its input or output: on the style networks' full-resolution layers,
up to 250 MB of transient memory per call, measured, and those layers set a worker's peak.
Computing a few output rows at a time, each from a padded copy of just the input rows they
read, needs only the output plus one stripe's buffers.

The result is the same as the one-piece computation, bit for bit: every output pixel is the same
dot product over the same padded values, computed by the same kernel (checked on the networks'
layer shapes and on real frames; ``tests/test_lean_forward.py``). Reflection at the top and
bottom edges is reproduced by reflecting a stripe only at the edge it touches.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F

#: Padded input (or output, if larger) per stripe, in bytes: large enough that the per-call
#: overhead stays negligible, small against a full-resolution activation. Convolutions up to
#: this size run in one call. Each stripe also gets oneDNN's reordered copies, so this sets the
#: transient memory of every large layer: with 8 MiB stripes a frozen 720p pass's heap peak was
#: 9 MB higher (memray, before the stem and tail were fused).
STRIPE_BYTES = 2 << 20
#: Every stripe's padded input has more elements than this. PyTorch runs small single-image
#: convolutions with small kernels on its native kernel instead of oneDNN (below 20480 input
#: elements in torch 2.x), and the two round differently (measured: up to 2e-6): a stripe must
#: take the path the whole input would have taken.
MIN_STRIPE_ELEMENTS = 1 << 16


def out_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a reflect-padded (``kernel // 2``) convolution along one axis."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def stripes(rows_out: int, out_row_bytes: int, in_row_elements: int,
            budget: Optional[int] = None) -> List[Tuple[int, int]]:
    """Even ``[(y0, y1), ...]`` ranges covering ``rows_out`` output rows, each about ``budget``
    bytes (``STRIPE_BYTES`` by default; ``out_row_bytes`` per output row) and reading more than
    ``MIN_STRIPE_ELEMENTS`` input elements (``in_row_elements`` per output row). One range when
    the whole fits."""
    budget = STRIPE_BYTES if budget is None else budget
    rows = max(1, budget // max(1, out_row_bytes), -(-MIN_STRIPE_ELEMENTS // max(1, in_row_elements)))
    count = -(-rows_out // rows)
    bounds = [i * rows_out // count for i in range(count + 1)]  # even: no small ragged stripe
    return list(zip(bounds[:-1], bounds[1:]))


def rows_read(y0: int, y1: int, kernel: int, stride: int, h: int) -> Tuple[int, int]:
    """Input rows ``[r0, r1)`` (of ``h``) that output rows ``[y0, y1)`` of a reflect-padded
    ``kernel``/``stride`` convolution read."""
    p = kernel // 2
    return max(y0 * stride - p, 0), min((y1 - 1) * stride - p + kernel, h)


def pad_rows(piece: torch.Tensor, y0: int, y1: int, kernel: int, stride: int, h: int) -> torch.Tensor:
    """``piece``, input rows ``rows_read(y0, y1, kernel, stride, h)``, padded as the whole
    input's reflect padding (``kernel // 2``) pads them: reflected only at an image edge it
    touches, where it starts or ends with the image (so the reflection reads the same rows)."""
    p = kernel // 2
    top, bottom = y0 * stride - p, (y1 - 1) * stride - p + kernel
    return F.pad(piece, (p, p, max(-top, 0), max(bottom - h, 0)), mode="reflect")


def rows_out(piece: torch.Tensor, shape: Tuple[int, int, int, int]) -> torch.Tensor:
    """An uninitialised output of ``shape`` for stripes like ``piece`` (a stripe's conv2d
    result), in its memory format. ``F.conv2d`` returns channels-last when torch reads its input's
    strides as channels-last (``Stylizer``'s permuted ``(N, H, W, 3)`` input, and every layer
    after it), and the format picks oneDNN's kernel, whose rounding differs (1e-5 after the
    network). A stripe is read as the whole input would be, so the stripes, gathered in this
    format, keep the following layers on the kernels the one-piece pass used."""
    fmt = torch.contiguous_format if piece.is_contiguous() else torch.channels_last
    return torch.empty(shape, dtype=piece.dtype, device=piece.device, memory_format=fmt)


def upsampled_rows(x: torch.Tensor, r0: int, r1: int) -> torch.Tensor:
    """Rows ``[r0, r1)`` of ``x`` upsampled 2x (nearest): the same values as slicing the whole
    upsampled tensor, without making it."""
    piece = F.interpolate(x[:, :, r0 // 2:(r1 + 1) // 2], scale_factor=2.0, mode="nearest")
    return piece[:, :, r0 % 2:r0 % 2 + r1 - r0]


def reflect_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                   stride: int = 1, upsample: bool = False) -> torch.Tensor:
    """``F.conv2d(F.pad(x, (p,) * 4, mode="reflect"), weight, bias, stride)`` with
    ``p = kernel // 2`` (square, odd kernels), in stripes of output rows. With ``upsample``,
    the input is ``x`` upsampled 2x (nearest), made one stripe at a time: the whole upsampled
    input (4x the size of ``x``) never exists.

    - x: ``(N, C_in, H, W)`` float32, H and W greater than ``p`` (as reflect padding needs).
    - weight: ``(C_out, C_in, k, k)``; bias: ``(C_out,)`` or None.
    - returns ``(N, C_out, H_out, W_out)`` float32, a new tensor in the memory format (contiguous
      or channels-last) the one-piece call returns.
    """
    n, c_in, h, w = x.shape
    if upsample:
        h, w = 2 * h, 2 * w
    k = weight.shape[-1]
    h_out, w_out = out_size(h, k, stride), out_size(w, k, stride)
    in_row = n * c_in * (w + k - 1) * stride  # padded input elements per output row
    parts = stripes(h_out, max(in_row, n * weight.shape[0] * w_out) * x.element_size(), in_row)
    if len(parts) == 1:
        if upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), weight, bias, stride)
    out = None
    for y0, y1 in parts:
        r0, r1 = rows_read(y0, y1, k, stride, h)
        rows = upsampled_rows(x, r0, r1) if upsample else x[:, :, r0:r1]
        piece = F.conv2d(pad_rows(rows, y0, y1, k, stride, h), weight, bias, stride)
        if out is None:
            out = rows_out(piece, (n, weight.shape[0], h_out, w_out))
        out[:, :, y0:y1] = piece
    return out
