"""Codec motion vectors -> a per-cell field on a regular grid.

The grid has 8x8 coded-pixel cells: the smallest H.264 partition that FFmpeg reports (8x8
partitions report only the top-left 4x4 vector of each quadrant). Each cell gets at most one
list-0 (past) and one list-1 (future) vector; intra blocks appear nowhere, so their cells stay
empty. Vectors are converted to processing pixels with sub-pixel precision
(``motion_x / motion_scale``): pixel p of the cell comes from ``p + v`` in the reference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

CELL = 8  # coded pixels


@dataclass
class CellVectors:
    """Per-cell codec vectors in processing pixels.

    ``has0``/``has1`` ``(Cy, Cx)`` bool: a list-0 / list-1 vector exists; ``v0``/``v1``
    ``(Cy, Cx, 2)`` float32 (dx, dy). ``cell`` is the cell size in processing pixels.
    """

    has0: np.ndarray
    v0: np.ndarray
    has1: np.ndarray
    v1: np.ndarray
    cell: float

    @property
    def shape(self):
        return self.has0.shape

    @property
    def coverage(self) -> float:
        """Share of cells with at least one vector (the rest are intra blocks)."""
        return float((self.has0 | self.has1).mean())


def grid_shape(width: int, height: int, scale: float) -> tuple:
    """``(Cy, Cx)`` for a processing frame of ``width`` x ``height`` at ``scale`` x coded size."""
    cell = CELL * scale
    return int(np.ceil(height / cell)), int(np.ceil(width / cell))


def cell_vectors(mv: Optional[np.ndarray], width: int, height: int, scale: float,
                 zero_b_is_fake: bool = False) -> CellVectors:
    """Rasterise PyAV's motion-vector array onto the cell grid.

    - mv: PyAV's structured array (``source``, ``w``, ``h``, ``dst_x``, ``dst_y`` (block
      centre), ``motion_x``, ``motion_y``, ``motion_scale``) or None.
    - width, height: processing frame size; scale: processing / coded size.
    - zero_b_is_fake: the stream's B-frame vectors are known to be meaningless (MPEG-4 Part 2
      exports all-zero B vectors); drop them so that matching decides alone.
    """
    cy_n, cx_n = grid_shape(width, height, scale)
    has = [np.zeros((cy_n, cx_n), bool), np.zeros((cy_n, cx_n), bool)]
    vec = [np.zeros((cy_n, cx_n, 2), np.float32), np.zeros((cy_n, cx_n, 2), np.float32)]
    cell = CELL * scale
    if mv is not None and len(mv):
        if zero_b_is_fake and not np.any(mv["motion_x"]) and not np.any(mv["motion_y"]):
            mv = mv[:0]
        motion_scale = np.maximum(mv["motion_scale"].astype(np.float32), 1.0)
        dx = mv["motion_x"] / motion_scale * scale
        dy = mv["motion_y"] / motion_scale * scale
        x0 = (mv["dst_x"].astype(np.int32) - mv["w"].astype(np.int32) // 2) // CELL
        y0 = (mv["dst_y"].astype(np.int32) - mv["h"].astype(np.int32) // 2) // CELL
        nx = np.maximum(mv["w"].astype(np.int32) // CELL, 1)
        ny = np.maximum(mv["h"].astype(np.int32) // CELL, 1)
        lst = (mv["source"] > 0).astype(np.int32)
        # one entry per (vector, covered cell), without a Python loop over thousands of vectors
        counts = nx * ny
        which = np.repeat(np.arange(len(mv)), counts)
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        cy = y0[which] + within // nx[which]
        cx = x0[which] + within % nx[which]
        inside = (cy >= 0) & (cy < cy_n) & (cx >= 0) & (cx < cx_n)
        for k in (0, 1):
            sel = inside & (lst[which] == k)
            has[k][cy[sel], cx[sel]] = True
            vec[k][cy[sel], cx[sel], 0] = dx[which[sel]]
            vec[k][cy[sel], cx[sel], 1] = dy[which[sel]]
    return CellVectors(has[0], vec[0], has[1], vec[1], cell)
