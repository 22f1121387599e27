"""Carrying stylized pixels along a per-cell motion field without re-sampling them every frame.

Each frame keeps, per pixel, *where it was last generated*: a canvas slot (a stylized image made
by the network) and sub-pixel coordinates in that canvas (int16 fixed point, 1/16 px at sizes up
to 2046 px). Moving a frame along the field composes these coordinate maps; rendering samples
each canvas once. A pixel carried through 50 frames is therefore interpolated once, not 50
times, and texture does not wash out.
"""
import numpy as np
from numba import njit, prange

from .sampling import clampf, sample_gray


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


@njit(cache=True, inline="always")
def _mirror(v, hi):
    """``v`` reflected into ``0..hi``. Content entering the picture has its source beyond the
    edge; clamping would repeat the edge pixel into streaks (which a check on flat content cannot
    see), a mirror continues the texture instead."""
    if v < 0.0:
        v = -v
    if v > hi:
        v = 2.0 * hi - v
    return clampf(v, 0.0, hi)


@njit(cache=True, inline="always")
def _fixed(v):
    """``v`` rounded to an int16 (saturating)."""
    return np.int16(min(max(np.floor(v + 0.5), -32768.0), 32767.0))


@njit(parallel=True, cache=True)
def compose_field(ref_of, vx, vy, cell, limit, ref_gen, ref_coord, scale):
    """Move per-pixel provenance along a per-cell field.

    - ref_of ``(Cy, Cx)`` int32 reference index per cell (every cell must have one);
      vx, vy ``(Cy, Cx)`` float32 vectors: pixel p comes from ``p + v`` in its reference.
    - ref_gen ``(R, H, W)`` uint8 canvas slot and ref_coord ``(R, H, W, 2)`` int16 (y, x) position
      in that canvas, in fixed point (``scale`` steps per pixel), for each reference.
    Returns gen ``(H, W)`` uint8 and coord ``(H, W, 2)`` int16 (same fixed point) for the current
    frame.
    """
    _, h, w = ref_gen.shape
    gen = np.empty((h, w), dtype=np.uint8)
    coord = np.empty((h, w, 2), dtype=np.int16)
    for y in prange(h):
        for x in range(w):
            r, ux, uy = _smooth_vector(ref_of, vx, vy, cell, y + 0.5, x + 0.5, limit)
            qy = _mirror(y + uy, h - 1.0)
            qx = _mirror(x + ux, w - 1.0)
            ny = int(qy + 0.5)
            nx = int(qx + 0.5)
            # Nearest provenance plus the sub-pixel remainder: exact for locally rigid motion,
            # and it never blends coordinates that belong to two different canvases.
            gen[y, x] = ref_gen[r, ny, nx]
            coord[y, x, 0] = _fixed(ref_coord[r, ny, nx, 0] + (qy - ny) * scale)
            coord[y, x, 1] = _fixed(ref_coord[r, ny, nx, 1] + (qx - nx) * scale)
    return gen, coord


#: Keys' cubic convolution parameter. -0.5 (Catmull-Rom) is the most accurate for smooth
#: signals, but at a (0.35, 0.5) px shift it keeps only 53 % of a stylized frame's Laplacian
#: energy; -0.75 keeps 66 %, -1.0 82 % (a 720p network output; values pushed past 0..255: 0.5 %,
#: 0.9 %, 1.6 %). Codec mode, 120 frames, -0.75 -> -1.0: sharpness 0.81 -> 0.88 on Big Buck
#: Bunny, 0.88 -> 0.92 on bikes, 0.98 -> 1.02 on the dim face; the melting measure 0.133 ->
#: 0.124, 0.131 -> 0.124, 0.152 -> 0.150 (vtest_dim: no change); warping error 2-9 % higher
#: (sharper texture changes more between frames); no ringing seen at strong edges at 2x.
CUBIC_A = -1.0
#: Pixels by which a bi-predicted pixel's two sources may lie apart in their canvas and still be
#: averaged (fully up to this, fading out over the next pixel).
AGREE_PX = 0.5


@njit(cache=True, inline="always")
def cubic_weights(t):
    """Keys cubic weights of the four taps around a sample ``t`` (0..1) past the second tap."""
    a = CUBIC_A
    u = 1.0 - t
    return (a * ((1.0 + t) ** 3 - 5.0 * (1.0 + t) ** 2 + 8.0 * (1.0 + t) - 4.0),
            (a + 2.0) * t ** 3 - (a + 3.0) * t * t + 1.0,
            (a + 2.0) * u ** 3 - (a + 3.0) * u * u + 1.0,
            a * ((2.0 - t) ** 3 - 5.0 * (2.0 - t) ** 2 + 8.0 * (2.0 - t) - 4.0))


@njit(cache=True, inline="always")
def _sample_rgb(c, sy, sx):
    """Bicubic (Keys, ``CUBIC_A``) sample of the three channels of ``c`` at float ``(sy, sx)``:
    bilinear sampling low-passes the texture (a half-pixel shift averages two pixels), bicubic
    keeps most of its fine detail. The taps' weights are computed once for all channels, and a
    whole-pixel position (static content) is read directly."""
    ch, cw, _ = c.shape
    sy = clampf(sy, 0.0, ch - 1.0)
    sx = clampf(sx, 0.0, cw - 1.0)
    iy = int(sy)
    ix = int(sx)
    ty = sy - iy
    tx = sx - ix
    if ty == 0.0 and tx == 0.0:
        return float(c[iy, ix, 0]), float(c[iy, ix, 1]), float(c[iy, ix, 2])
    wy = cubic_weights(ty)
    wx = cubic_weights(tx)
    r = 0.0
    g = 0.0
    b = 0.0
    if 1 <= iy and iy + 2 < ch and 1 <= ix and ix + 2 < cw:
        # all sixteen taps inside the canvas (nearly every pixel): no clamping per tap
        for j in range(4):
            row = c[iy - 1 + j]
            rr = 0.0
            gg = 0.0
            bb = 0.0
            for i in range(4):
                wgt = wx[i]
                rr += wgt * row[ix - 1 + i, 0]
                gg += wgt * row[ix - 1 + i, 1]
                bb += wgt * row[ix - 1 + i, 2]
            r += wy[j] * rr
            g += wy[j] * gg
            b += wy[j] * bb
        return r, g, b
    for j in range(4):
        yy = min(max(iy - 1 + j, 0), ch - 1)
        rr = 0.0
        gg = 0.0
        bb = 0.0
        for i in range(4):
            xx = min(max(ix - 1 + i, 0), cw - 1)
            wgt = wx[i]
            rr += wgt * c[yy, xx, 0]
            gg += wgt * c[yy, xx, 1]
            bb += wgt * c[yy, xx, 2]
        r += wy[j] * rr
        g += wy[j] * gg
        b += wy[j] * bb
    return r, g, b


# fastmath: 30 -> 22 ms at 720p here, the same uint8 frames (inputs are never NaN or infinite)
@njit(parallel=True, cache=True, fastmath=True)
def _render(canvases, canvas_luma, gen, coord, inv_scale, cur_luma, gen2, coord2, weight2, corr, corr_slot, fade):
    _, ch, cw, _ = canvases.shape
    h, w = gen.shape
    two = weight2.shape[0] == h and weight2.shape[1] == w
    faded = fade > 0.0 and corr.shape[0] == ch and corr.shape[1] == cw
    out = np.empty((h, w, 3), dtype=np.uint8)
    err = np.empty((h, w), dtype=np.float32)
    for y in prange(h):
        px = np.empty(3, dtype=np.float32)
        for x in range(w):
            s = gen[y, x]
            sy = coord[y, x, 0] * inv_scale
            sx = coord[y, x, 1] * inv_scale
            px[0], px[1], px[2] = _sample_rgb(canvases[s], sy, sx)
            if faded and s == corr_slot:
                cy = min(max(int(sy + 0.5), 0), ch - 1)
                cx = min(max(int(sx + 0.5), 0), cw - 1)
                for k in range(3):
                    px[k] += fade * corr[cy, cx, k]
            lum = sample_gray(canvas_luma[s], sy, sx)
            a = weight2[y, x] if two else 0.0
            if a > 0.0:
                s2 = gen2[y, x]
                ty = coord2[y, x, 0] * inv_scale
                tx = coord2[y, x, 1] * inv_scale
                # Two sources that reach the same place of the same canvas agree: their average
                # only evens out drift. Two that reach different places hold two copies of the
                # strokes, and their average is neither (half the texture's energy: mush); the
                # first source alone is shown there.
                apart = max(abs(ty - sy), abs(tx - sx)) if s2 == s else AGREE_PX + 1.0
                a *= min(1.0, max(0.0, AGREE_PX + 0.5 - apart))
                # everything about the second source stays inside this block: with its sample
                # taken under a second ``if a > 0.0`` numba compiled a kernel whose bi-predicted,
                # cross-faded pixels differed from the Python function's by up to 63 levels
                if a > 0.0:
                    q0, q1, q2 = _sample_rgb(canvases[s2], ty, tx)
                    if faded and s2 == corr_slot:
                        cy = min(max(int(ty + 0.5), 0), ch - 1)
                        cx = min(max(int(tx + 0.5), 0), cw - 1)
                        q0 += fade * corr[cy, cx, 0]
                        q1 += fade * corr[cy, cx, 1]
                        q2 += fade * corr[cy, cx, 2]
                    px[0] = (1.0 - a) * px[0] + a * q0
                    px[1] = (1.0 - a) * px[1] + a * q1
                    px[2] = (1.0 - a) * px[2] + a * q2
                    lum = (1.0 - a) * lum + a * sample_gray(canvas_luma[s2], ty, tx)
            for k in range(3):
                out[y, x, k] = np.uint8(min(255.0, max(0.0, px[k] + 0.5)))
            err[y, x] = lum - cur_luma[y, x]
    return out, err


_NO_GEN = np.zeros((1, 1), np.uint8)
_NO_COORD = np.zeros((1, 1, 2), np.int16)
_NO_WEIGHT = np.zeros((1, 1), np.float32)
_NO_CORR = np.zeros((1, 1, 3), np.float32)


def render(canvases, canvas_luma, gen, coord, cur_luma, second=None, correction=None, *, scale):
    """Sample every pixel once from its canvas, and check it against the decoded frame.

    - canvases ``(S, H, W, 3)`` uint8 stylized slots; canvas_luma ``(S, H, W)`` uint8 (or
      float32) luma of the decoded frame each slot was generated from (0..255).
    - gen ``(H, W)`` uint8 slot and coord ``(H, W, 2)`` int16 (y, x) per pixel, in fixed point:
      ``scale`` steps per pixel (``compose_field``'s).
    - cur_luma ``(H, W)`` float32 decoded luma of the current frame.
    - second: ``(gen2, coord2, weight2)`` a second source per pixel (bi-prediction) and its
      weight ``(H, W)`` float32 0..1; the two samples are averaged with that weight where both
      reach the same canvas within ``AGREE_PX`` (else the first source alone is taken).
    - correction: ``(corr, slot, fade)``: ``corr`` ``(H, W, 3)`` float32 is added, times ``fade``
      (0..1), to every sample taken from canvas ``slot`` (the cross-fade after a refresh).
    Returns the ``(H, W, 3)`` uint8 frame and ``(H, W)`` float32 carried source luma minus decoded
    luma (signed, -255..255): where it is large, the pixel shows content that is no longer there
    (occlusion, wrong vector, lighting change, accumulated drift).
    """
    gen2, coord2, weight2 = second if second is not None else (_NO_GEN, _NO_COORD, _NO_WEIGHT)
    corr, slot, fade = correction if correction is not None else (_NO_CORR, -1, 0.0)
    return _render(canvases, canvas_luma, gen, coord, 1.0 / scale, cur_luma, gen2, coord2, weight2,
                   corr, int(slot), float(fade))
