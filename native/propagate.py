"""Carrying stylized pixels along a per-cell motion field without re-sampling them every frame.

Each frame keeps, per pixel, *where it was last generated*: a canvas slot (a stylized image made
by the network) and float coordinates in that canvas. Moving a frame along the field composes
these coordinate maps; rendering samples each canvas once. A pixel carried through 50 frames is
therefore interpolated once, not 50 times, and texture does not wash out.
"""
import numpy as np
from numba import njit, prange

from .sampling import clampf, corners, sample_gray


@njit(cache=True, inline="always")
def _smooth_vector(ref_of, vx, vy, cell, y, x, limit):
    """Vector at pixel ``(y, x)``: bilinear between the four nearest cell centres, using only
    cells that share this cell's reference and move within ``limit`` px of it, so the field is
    smooth inside objects (no block seams) and keeps its edges at motion boundaries."""
    cy_n, cx_n = ref_of.shape
    cy = min(int(y / cell), cy_n - 1)
    cx = min(int(x / cell), cx_n - 1)
    r = ref_of[cy, cx]
    own_x = vx[cy, cx]
    own_y = vy[cy, cx]
    gy = y / cell - 0.5
    gx = x / cell - 0.5
    iy = int(np.floor(gy))
    ix = int(np.floor(gx))
    fy = gy - iy
    fx = gx - ix
    sx = 0.0
    sy = 0.0
    for j in range(2):
        for i in range(2):
            wgt = (fy if j else 1.0 - fy) * (fx if i else 1.0 - fx)
            ny = min(max(iy + j, 0), cy_n - 1)
            nx = min(max(ix + i, 0), cx_n - 1)
            ux = vx[ny, nx]
            uy = vy[ny, nx]
            if ref_of[ny, nx] != r or abs(ux - own_x) > limit or abs(uy - own_y) > limit:
                ux = own_x
                uy = own_y
            sx += wgt * ux
            sy += wgt * uy
    return r, sx, sy


@njit(parallel=True, cache=True)
def compose_field(ref_of, vx, vy, cell, limit, ref_gen, ref_coord):
    """Move per-pixel provenance along a per-cell field.

    - ref_of ``(Cy, Cx)`` int32 reference index per cell (every cell must have one);
      vx, vy ``(Cy, Cx)`` float32 vectors: pixel p comes from ``p + v`` in its reference.
    - ref_gen ``(R, H, W)`` int16 canvas slot and ref_coord ``(R, H, W, 2)`` float32 (y, x)
      position in that canvas, for each reference.
    Returns gen ``(H, W)`` int16 and coord ``(H, W, 2)`` float32 for the current frame.
    """
    _, h, w = ref_gen.shape
    gen = np.empty((h, w), dtype=np.int16)
    coord = np.empty((h, w, 2), dtype=np.float32)
    for y in prange(h):
        for x in range(w):
            r, ux, uy = _smooth_vector(ref_of, vx, vy, cell, y + 0.5, x + 0.5, limit)
            qy = clampf(y + uy, 0.0, h - 1.0)
            qx = clampf(x + ux, 0.0, w - 1.0)
            ny = int(qy + 0.5)
            nx = int(qx + 0.5)
            # Nearest provenance plus the sub-pixel remainder: exact for locally rigid motion,
            # and it never blends coordinates that belong to two different canvases.
            gen[y, x] = ref_gen[r, ny, nx]
            coord[y, x, 0] = ref_coord[r, ny, nx, 0] + (qy - ny)
            coord[y, x, 1] = ref_coord[r, ny, nx, 1] + (qx - nx)
    return gen, coord


@njit(parallel=True, cache=True)
def render(canvases, canvas_luma, gen, coord, cur_luma):
    """Sample every pixel once from its canvas, and check it against the decoded frame.

    - canvases ``(S, H, W, 3)`` uint8 stylized slots; canvas_luma ``(S, H, W)`` float32 luma of
      the decoded frame each slot was generated from (0..255).
    - gen ``(H, W)`` int16 slot and coord ``(H, W, 2)`` float32 (y, x) per pixel.
    - cur_luma ``(H, W)`` float32 decoded luma of the current frame.
    Returns the ``(H, W, 3)`` uint8 frame and ``(H, W)`` float32 |carried source luma - decoded
    luma|: where it is large, the pixel shows content that is no longer there (occlusion, wrong
    vector, lighting change, accumulated drift).
    """
    _, ch, cw, _ = canvases.shape
    h, w = gen.shape
    out = np.empty((h, w, 3), dtype=np.uint8)
    err = np.empty((h, w), dtype=np.float32)
    for y in prange(h):
        for x in range(w):
            s = gen[y, x]
            c = canvases[s]
            sy = coord[y, x, 0]
            sx = coord[y, x, 1]
            y0, x0, y1, x1, fy, fx = corners(ch, cw, sy, sx)
            for k in range(3):
                top = c[y0, x0, k] * (1.0 - fx) + c[y0, x1, k] * fx
                bottom = c[y1, x0, k] * (1.0 - fx) + c[y1, x1, k] * fx
                out[y, x, k] = np.uint8(min(255.0, top * (1.0 - fy) + bottom * fy + 0.5))
            err[y, x] = abs(sample_gray(canvas_luma[s], sy, sx) - cur_luma[y, x])
    return out, err
