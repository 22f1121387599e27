"""The codec engine's per-pixel kernels as torch operations, for ``--device cuda``.

Each function computes what its numba twin in ``native/`` computes (same arguments and value
ranges, tensors instead of arrays, on whatever device they live), whole frames at a time instead
of pixel by pixel: ``candidate_costs`` (``native.match``), ``compose_field`` and ``render``
(``native.propagate``). Results agree with the numba kernels to rounding (``tests/test_torch_
kernels.py``): positions are computed in float64 like numba's, colours in float32.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from codecstyle.native.propagate import AGREE_PX, cubic_weights


def _grid(n: int, device: torch.device) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float64, device=device)


def _bilinear(img: torch.Tensor, plane: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bilinear samples float64 of ``img`` ``(N, H, W)`` (uint8 or float) at float64 ``(y, x)``
    (clamped to the border) of image ``plane`` (int64, broadcast with ``y`` and ``x``). In
    float64, as numba computes them: match costs that differ in the last float32 bit change
    which of two near-equal candidates wins."""
    _, h, w = img.shape
    flat = img.reshape(-1)
    y = y.clamp(0.0, h - 1.0)
    x = x.clamp(0.0, w - 1.0)
    y0 = y.floor()
    x0 = x.floor()
    fy = y - y0
    fx = x - x0
    y0 = y0.long()
    x0 = x0.long()
    y1 = (y0 + 1).clamp(max=h - 1)
    x1 = (x0 + 1).clamp(max=w - 1)
    base = plane * h

    def at(yy, xx):
        return flat[(base + yy) * w + xx].double()

    top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx
    return top * (1.0 - fy) + bottom * fy


def _cell_of(n: int, cells: int, cell: float, device: torch.device) -> torch.Tensor:
    """``(n,)`` int64 cell index of each pixel row (or column), -1 where no cell covers it:
    cell ``c`` covers ``int(c * cell) .. min(n, int((c + 1) * cell)) - 1``, as in numba."""
    out = torch.full((n,), -1, dtype=torch.int64)
    for c in range(cells):
        lo, hi = int(c * cell), min(n, int((c + 1) * cell))
        if hi > lo:
            out[lo:hi] = c
    return out.to(device)


def candidate_costs(cur: torch.Tensor, refs: torch.Tensor, ref_idx: torch.Tensor, dx: torch.Tensor,
                    dy: torch.Tensor, cell: float) -> torch.Tensor:
    """Mean absolute difference per cell and candidate (``native.match.candidate_costs``).

    - cur ``(H, W)`` float32 luma (0..255); refs ``(R, H, W)`` uint8 or float32 luma.
    - ref_idx ``(Cy, Cx, K)`` int (-1 = no candidate); dx, dy ``(Cy, Cx, K)`` float32 px: the
      cell's pixel ``(y, x)`` is predicted by ``refs[r]`` at ``(y + dy, x + dx)``.
    Returns ``(Cy, Cx, K)`` float32 (``inf`` where there is no candidate).
    """
    device = cur.device
    h, w = cur.shape
    cy_n, cx_n, k_n = ref_idx.shape
    row = _cell_of(h, cy_n, cell, device)
    col = _cell_of(w, cx_n, cell, device)
    rows, cols = torch.nonzero(row >= 0).squeeze(1), torch.nonzero(col >= 0).squeeze(1)
    cy, cx = row[rows][:, None], col[cols][None, :]
    y = _grid(h, device)[rows][:, None]
    x = _grid(w, device)[cols][None, :]
    target = cur[rows][:, cols]
    flat_cell = (cy * cx_n + cx).reshape(-1)
    count = torch.zeros(cy_n * cx_n, dtype=torch.float64, device=device)
    count.index_add_(0, flat_cell, torch.ones_like(flat_cell, dtype=torch.float64))
    covered = count.reshape(cy_n, cx_n) > 0
    count = count.clamp(min=1.0)
    out = torch.full((cy_n, cx_n, k_n), float("inf"), dtype=torch.float32, device=device)
    for k in range(k_n):
        r = ref_idx[..., k].long()
        plane = r.clamp(min=0)[cy, cx]
        vx = dx[..., k].double()[cy, cx]
        vy = dy[..., k].double()[cy, cx]
        err = (target.double() - _bilinear(refs, plane, y + vy, x + vx)).abs().reshape(-1)
        total = torch.zeros(cy_n * cx_n, dtype=torch.float64, device=device).index_add_(0, flat_cell, err)
        mean = (total / count).float().reshape(cy_n, cx_n)
        out[..., k] = torch.where((r >= 0) & covered, mean, out[..., k])
    return out


def _mirror(v: torch.Tensor, hi: float) -> torch.Tensor:
    """``v`` reflected into ``0..hi`` (``native.propagate._mirror``)."""
    v = v.abs()
    v = torch.where(v > hi, 2.0 * hi - v, v)
    return v.clamp(0.0, hi)


def _fixed(v: torch.Tensor) -> torch.Tensor:
    """``v`` rounded to int16, saturating."""
    return (v + 0.5).floor().clamp(-32768.0, 32767.0).to(torch.int16)


def compose_field(ref_of: torch.Tensor, vx: torch.Tensor, vy: torch.Tensor, cell: float, limit: float,
                  ref_gen: torch.Tensor, ref_coord: torch.Tensor, scale: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel provenance moved along a per-cell field (``native.propagate.compose_field``).

    - ref_of ``(Cy, Cx)`` int reference per cell; vx, vy ``(Cy, Cx)`` float32 px.
    - ref_gen ``(R, H, W)`` uint8 slots, ref_coord ``(R, H, W, 2)`` int16 fixed point
      (``scale`` steps per px).
    Returns gen ``(H, W)`` uint8 and coord ``(H, W, 2)`` int16.
    """
    device = ref_gen.device
    _, h, w = ref_gen.shape
    cy_n, cx_n = ref_of.shape
    ref_of = ref_of.long()
    vx, vy = vx.double(), vy.double()
    ys, xs = _grid(h, device) + 0.5, _grid(w, device) + 0.5
    own_cy = (ys / cell).floor().long().clamp(max=cy_n - 1)[:, None]
    own_cx = (xs / cell).floor().long().clamp(max=cx_n - 1)[None, :]
    r = ref_of[own_cy, own_cx]
    own_x, own_y = vx[own_cy, own_cx], vy[own_cy, own_cx]
    gy, gx = ys / cell - 0.5, xs / cell - 0.5
    iy, ix = gy.floor(), gx.floor()
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    iy, ix = iy.long(), ix.long()
    sx = torch.zeros((h, w), dtype=torch.float64, device=device)
    sy = torch.zeros_like(sx)
    for j in range(2):
        ny = (iy + j).clamp(0, cy_n - 1)[:, None]
        wy = fy if j else 1.0 - fy
        for i in range(2):
            nx = (ix + i).clamp(0, cx_n - 1)[None, :]
            wgt = wy * (fx if i else 1.0 - fx)
            ux, uy = vx[ny, nx], vy[ny, nx]
            apart = (ref_of[ny, nx] != r) | ((ux - own_x).abs() > limit) | ((uy - own_y).abs() > limit)
            sx += wgt * torch.where(apart, own_x, ux)
            sy += wgt * torch.where(apart, own_y, uy)
    qy = _mirror(_grid(h, device)[:, None] + sy, h - 1.0)
    qx = _mirror(_grid(w, device)[None, :] + sx, w - 1.0)
    ny, nx = (qy + 0.5).long(), (qx + 0.5).long()
    at = (r * h + ny) * w + nx
    gen = ref_gen.reshape(-1)[at]
    coord_flat = ref_coord.reshape(-1, 2)[at].double()
    coord = torch.stack([_fixed(coord_flat[..., 0] + (qy - ny) * scale),
                         _fixed(coord_flat[..., 1] + (qx - nx) * scale)], dim=-1)
    return gen, coord


#: Keys cubic weights (``CUBIC_A``) of the four taps around ``t`` (0..1) past the second: the
#: numba kernel's own formula, whose plain arithmetic works on tensors as it is.
_cubic_weights = cubic_weights.py_func


def _bicubic_rgb(canvases: torch.Tensor, slot: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
    """``(H, W, 3)`` float32 bicubic samples of ``canvases`` ``(S, H, W, 3)`` uint8 at float
    ``(sy, sx)`` (clamped to the canvas, taps clamped to its border) of canvas ``slot``."""
    _, ch, cw, _ = canvases.shape
    flat = canvases.reshape(-1, 3)
    sy = sy.clamp(0.0, ch - 1.0)
    sx = sx.clamp(0.0, cw - 1.0)
    iy, ix = sy.floor(), sx.floor()
    wy, wx = _cubic_weights((sy - iy).float()), _cubic_weights((sx - ix).float())
    iy, ix = iy.long(), ix.long()
    base = slot.long() * ch
    out = torch.zeros(sy.shape + (3,), dtype=torch.float32, device=canvases.device)
    for j in range(4):
        yy = base + (iy - 1 + j).clamp(0, ch - 1)
        for i in range(4):
            xx = (ix - 1 + i).clamp(0, cw - 1)
            out += (wy[j] * wx[i])[..., None] * flat[yy * cw + xx].float()
    return out


def _fade_term(corr: Optional[torch.Tensor], corr_slot: int, fade: float, slot: torch.Tensor,
               sy: torch.Tensor, sx: torch.Tensor) -> Optional[torch.Tensor]:
    """``fade * corr`` at the nearest canvas pixel where ``slot`` is the faded canvas, else 0."""
    if corr is None or fade <= 0.0:
        return None
    ch, cw, _ = corr.shape
    cy = (sy + 0.5).floor().long().clamp(0, ch - 1)
    cx = (sx + 0.5).floor().long().clamp(0, cw - 1)
    term = corr.reshape(-1, 3)[cy * cw + cx] * fade
    return term * (slot == corr_slot)[..., None]


def render(canvases: torch.Tensor, canvas_luma: torch.Tensor, gen: torch.Tensor, coord: torch.Tensor,
           cur_luma: torch.Tensor, second: Optional[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = None,
           correction: Optional[Tuple[torch.Tensor, int, float]] = None, *,
           scale: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each pixel sampled once from its canvas and checked (``native.propagate.render``: the same
    arguments as tensors). Returns the ``(H, W, 3)`` uint8 frame and ``(H, W)`` float32 carried
    minus decoded luma."""
    inv = 1.0 / scale
    sy = coord[..., 0].double() * inv
    sx = coord[..., 1].double() * inv
    corr, corr_slot, fade = correction if correction is not None else (None, -1, 0.0)
    px = _bicubic_rgb(canvases, gen, sy, sx)
    term = _fade_term(corr, int(corr_slot), float(fade), gen, sy, sx)
    if term is not None:
        px += term
    lum = _bilinear(canvas_luma, gen.long(), sy, sx)
    if second is not None:
        gen2, coord2, weight2 = second
        ty = coord2[..., 0].double() * inv
        tx = coord2[..., 1].double() * inv
        # the same rule as the numba kernel: two sources are averaged only where they reach the
        # same place of the same canvas
        apart = torch.maximum((ty - sy).abs(), (tx - sx).abs())
        apart = torch.where(gen2 == gen, apart, torch.full_like(apart, AGREE_PX + 1.0))
        a = weight2.double() * (AGREE_PX + 0.5 - apart).clamp(0.0, 1.0)
        q = _bicubic_rgb(canvases, gen2, ty, tx)
        term = _fade_term(corr, int(corr_slot), float(fade), gen2, ty, tx)
        if term is not None:
            q += term
        af = a.float()[..., None]
        px = (1.0 - af) * px + af * q
        lum = (1.0 - a) * lum + a * _bilinear(canvas_luma, gen2.long(), ty, tx)
    out = (px + 0.5).clamp(0.0, 255.0).to(torch.uint8)
    return out, (lum - cur_luma.double()).float()
