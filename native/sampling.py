"""Bilinear sampling helpers shared by the kernels (numba, inlined into callers)."""
from numba import njit


@njit(cache=True, inline="always")
def clampf(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@njit(cache=True, inline="always")
def corners(h, w, y, x):
    """Bilinear footing of float ``(y, x)`` in an ``h`` x ``w`` grid, clamped to the border:
    ``(y0, x0, y1, x1, fy, fx)``, the four neighbours and the weights of the second ones."""
    y = clampf(y, 0.0, h - 1.0)
    x = clampf(x, 0.0, w - 1.0)
    y0 = int(y)
    x0 = int(x)
    return y0, x0, min(y0 + 1, h - 1), min(x0 + 1, w - 1), y - y0, x - x0


@njit(cache=True, inline="always")
def sample_gray(img, y, x):
    """Bilinear sample of ``img`` (H, W) float32 or uint8 at float ``(y, x)``, clamped to the border."""
    h, w = img.shape
    y0, x0, y1, x1, fy, fx = corners(h, w, y, x)
    top = img[y0, x0] * (1.0 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1.0 - fx) + img[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy
