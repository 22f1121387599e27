"""Block matching costs: how well a candidate (reference, vector) predicts each cell of a frame."""
import numpy as np
from numba import njit, prange

from .sampling import sample_gray


@njit(parallel=True, cache=True)
def candidate_costs(cur, refs, ref_idx, dx, dy, cell):
    """Mean absolute difference per cell and candidate.

    - cur: ``(H, W)`` float32 luma of the frame being predicted (0..255).
    - refs: ``(R, H, W)`` uint8 (or float32) luma of the candidate reference frames.
    - ref_idx, dx, dy: ``(Cy, Cx, K)`` candidate reference index (-1 = none), and vector in
      pixels: the cell's pixel ``(y, x)`` is predicted by ``refs[r]`` at ``(y + dy, x + dx)``.
    - cell: cell size in pixels (float; cells may be fractional when the frame was scaled).
    Returns ``(Cy, Cx, K)`` float32 costs (``inf`` where there is no candidate).
    """
    cy_n, cx_n, k_n = ref_idx.shape
    h, w = cur.shape
    out = np.full((cy_n, cx_n, k_n), np.inf, dtype=np.float32)
    for cy in prange(cy_n):
        y0 = int(cy * cell)
        y1 = min(h, int((cy + 1) * cell))
        for cx in range(cx_n):
            x0 = int(cx * cell)
            x1 = min(w, int((cx + 1) * cell))
            if y1 <= y0 or x1 <= x0:
                continue
            for k in range(k_n):
                r = ref_idx[cy, cx, k]
                if r < 0:
                    continue
                vx = dx[cy, cx, k]
                vy = dy[cy, cx, k]
                # Neighbours, the local mean and the codec's own vector often coincide: one
                # match per distinct candidate.
                same = -1
                for k2 in range(k):
                    if ref_idx[cy, cx, k2] == r and dx[cy, cx, k2] == vx and dy[cy, cx, k2] == vy:
                        same = k2
                        break
                if same >= 0:
                    out[cy, cx, k] = out[cy, cx, same]
                    continue
                ref = refs[r]
                total = 0.0
                ix = int(np.floor(vx))
                iy = int(np.floor(vy))
                if ix == vx and iy == vy and y0 + iy >= 0 and y1 + iy <= h and x0 + ix >= 0 and x1 + ix <= w:
                    # whole-pixel vector inside the frame: no interpolation needed
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            total += abs(cur[y, x] - ref[y + iy, x + ix])
                elif y0 + iy >= 0 and y1 + iy + 1 < h and x0 + ix >= 0 and x1 + ix + 1 < w:
                    # fractional vector, footprint inside the frame: the same bilinear weights
                    # for every pixel of the cell (what ``sample_gray`` computes, without its
                    # per-pixel clamping)
                    fy = vy - iy
                    fx = vx - ix
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            top = ref[y + iy, x + ix] * (1.0 - fx) + ref[y + iy, x + ix + 1] * fx
                            bottom = ref[y + iy + 1, x + ix] * (1.0 - fx) + ref[y + iy + 1, x + ix + 1] * fx
                            total += abs(cur[y, x] - (top * (1.0 - fy) + bottom * fy))
                else:
                    for y in range(y0, y1):
                        for x in range(x0, x1):
                            total += abs(cur[y, x] - sample_gray(ref, y + vy, x + vx))
                out[cy, cx, k] = total / ((y1 - y0) * (x1 - x0))
    return out
