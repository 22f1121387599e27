"""How far carried texture is torn or stretched: the check the luma comparison cannot make."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def block_distortion(gen, coord, block, scale):
    """Per-block mean geometric distortion ``(ceil(H/block), ceil(W/block))`` float32, 0..1.

    - gen ``(H, W)`` uint8 canvas slot and coord ``(H, W, 2)`` int16 (y, x) canvas position of
      each pixel's style, in fixed point (``scale`` steps per pixel).
    Carried rigidly, neighbouring pixels come from neighbouring canvas positions: one step right
    is ``(0, 1)`` in the canvas, one step down ``(1, 0)``. Each pixel scores how far its two
    steps deviate from that (L1, px, capped at 1): 0 for a translation, the stretch for a zoom
    or a smear, 1 along a tear where neighbouring cells took different sources (a patchwork of
    8-px squares on textures whose motion the codec could not tell apart). Steps between two
    canvases score 0: those are refresh seams, and the refresh feathers them.
    """
    h, w = gen.shape
    by_n = (h + block - 1) // block
    bx_n = (w + block - 1) // block
    inv = 1.0 / scale
    total = np.zeros((by_n, bx_n), dtype=np.float32)
    count = np.zeros((by_n, bx_n), dtype=np.float32)
    for by in prange(by_n):
        for y in range(by * block, min(h, by * block + block)):
            for x in range(w):
                s = 0.0
                if x + 1 < w and gen[y, x + 1] == gen[y, x]:
                    s += (abs(np.int32(coord[y, x + 1, 0]) - coord[y, x, 0]) * inv
                          + abs((np.int32(coord[y, x + 1, 1]) - coord[y, x, 1]) * inv - 1.0))
                if y + 1 < h and gen[y + 1, x] == gen[y, x]:
                    s += (abs((np.int32(coord[y + 1, x, 0]) - coord[y, x, 0]) * inv - 1.0)
                          + abs(np.int32(coord[y + 1, x, 1]) - coord[y, x, 1]) * inv)
                total[by, x // block] += min(s, 1.0)
                count[by, x // block] += 1.0
    return total / count
