"""Feathered block masks: how much of a refreshed block's output each pixel takes."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def feather_blocks(dirty, block, height, width, feather):
    """``(height, width)`` float32 0..1: 1 on dirty blocks, falling linearly to 0 at ``feather``
    px (Euclidean distance to the nearest dirty pixel) outside them.

    dirty: ``(By, Bx)`` bool per ``block`` x ``block`` pixel block. Only the blocks within
    ``ceil(feather / block)`` of a pixel's own block can be that close, so the cost is a few
    comparisons per pixel, not a distance transform of the whole frame.
    """
    by_n, bx_n = dirty.shape
    reach = (feather + block - 1) // block if feather > 0 else -1
    out = np.zeros((height, width), dtype=np.float32)
    for by in prange(by_n):
        y0 = by * block
        y1 = min(y0 + block, height)
        for bx in range(bx_n):
            x0 = bx * block
            x1 = min(x0 + block, width)
            if dirty[by, bx]:
                out[y0:y1, x0:x1] = 1.0
                continue
            near = False
            for j in range(max(by - reach, 0), min(by + reach + 1, by_n)):
                for i in range(max(bx - reach, 0), min(bx + reach + 1, bx_n)):
                    near = near or dirty[j, i]
            if not near:
                continue  # stays 0: most blocks of a sparse map
            for y in range(y0, y1):
                for x in range(x0, x1):
                    best = feather * feather
                    for j in range(max(by - reach, 0), min(by + reach + 1, by_n)):
                        for i in range(max(bx - reach, 0), min(bx + reach + 1, bx_n)):
                            if dirty[j, i]:
                                dy = max(j * block - y, 0, y - (j * block + block - 1))
                                dx = max(i * block - x, 0, x - (i * block + block - 1))
                                best = min(best, dy * dy + dx * dx)
                    out[y, x] = 1.0 - np.sqrt(np.float32(best)) / feather
    return out
