"""The check: where does the propagated frame no longer show what was decoded?

Propagation carries, with every stylized pixel, the decoded luma it was generated from. Comparing
that carried luma with the frame actually decoded finds occlusions, intra-coded new content,
wrong vectors, lighting changes and accumulated drift. The raw per-pixel difference also holds
what does not matter: sub-pixel interpolation error on fine texture and coding noise. Both are
zero-mean over a few pixels, while real changes shift the local mean, so the difference is
low-passed before it is taken absolute. A textured block whose texture is merely resampled stays
clean; a block whose content changed does not.

The threshold is in luma levels, but the network responds to contrast relative to the
neighbourhood: in a dim, flat face an eye opening or a mouth moving changes luma by a few levels
only, and the strokes the network paints there change completely. So where the neighbourhood's
contrast is low the threshold falls with it (``contrast_thresholds``).
"""
from __future__ import annotations

import cv2
import numpy as np


def block_errors(diff: np.ndarray, block: int, sigma: float) -> np.ndarray:
    """Per-block error ``(ceil(H/block), ceil(W/block))`` float32 in luma levels (0..255).

    diff: ``(H, W)`` float32 carried luma minus decoded luma (signed). sigma: the low-pass width
    in pixels (0 takes the raw absolute difference). Each block's figure is the mean of
    ``|blur(diff)|`` over its pixels; partial edge blocks average only their real pixels.
    """
    if sigma > 0:
        diff = cv2.GaussianBlur(diff, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return block_means(np.abs(diff), block)


def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """``(ceil(H/block), ceil(W/block))`` float32 means of ``(H, W)`` float32 ``values`` per
    ``block`` x ``block`` block; partial edge blocks average only their real pixels."""
    h, w = values.shape
    by, bx = -(-h // block), -(-w // block)
    padded = np.zeros((by * block, bx * block), np.float32)
    padded[:h, :w] = values
    counts = np.zeros_like(padded)
    counts[:h, :w] = 1.0
    total = padded.reshape(by, block, bx, block).sum(axis=(1, 3))
    return total / counts.reshape(by, block, bx, block).sum(axis=(1, 3))


def dirty_blocks(errors: np.ndarray, threshold: float, halo_factor: float) -> np.ndarray:
    """``(By, Bx)`` bool: blocks to re-stylize, from ``block_errors``' figures.

    A block is dirty when its error exceeds ``threshold``. The network's output at a pixel
    depends on some 40 px around it, so where content changed strongly (error above
    ``halo_factor * threshold``: someone walked in or out, not mere drift) the old stylization of
    the neighbouring blocks still shows the halo of what was there, although their own luma did
    not change: they are refreshed too.
    """
    dirty = errors > threshold
    strong = (errors > halo_factor * threshold).astype(np.uint8)
    if strong.any():
        dirty |= cv2.dilate(strong, np.ones((3, 3), np.uint8)).astype(bool)
    return dirty


def contrast_thresholds(luma: np.ndarray, block: int, threshold: float, floor: float,
                        window: int = 33) -> np.ndarray:
    """Per-block thresholds ``(ceil(H/block), ceil(W/block))`` float32 in luma levels:
    ``threshold * clip(std / (2 * threshold), floor, 1)``, where ``std`` is the luma's standard
    deviation over ``window`` px around each pixel, averaged over the block. Neighbourhoods with
    contrast of twice the threshold or more keep it; flat ones get ``floor * threshold``.

    luma: ``(H, W)`` float32 0..255 decoded luma. floor: 0..1.
    """
    mean = cv2.blur(luma, (window, window), borderType=cv2.BORDER_REFLECT)
    square = cv2.blur(luma * luma, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(square - mean * mean, 0.0))
    return threshold * np.clip(block_means(std, block) / (2.0 * threshold), floor, 1.0)
