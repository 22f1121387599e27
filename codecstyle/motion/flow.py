"""Dense optical flow (OpenCV DIS) -> the same per-cell field the codec vectors give.

Used by ``flow`` mode (the optical-flow baseline) and by ``codec`` mode as its fallback where a
codec exports no vectors (HEVC, VP8/VP9, AV1, intra-only codecs). Flow is computed on luma scaled
down to at most ``max_side`` pixels (DIS costs grow with the pixel count, and the cell field is
coarse anyway), then averaged over each cell and scaled back to processing pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from .field import CELL, CellVectors, grid_shape


class FlowField:
    """``cells(cur_luma, ref_luma)``: DIS flow from the current frame to one reference, per cell.

    - max_side: longer side (px) at which flow is computed.
    - preset: an OpenCV ``DISOPTICAL_FLOW_PRESET_*`` value.
    """

    def __init__(self, max_side: int = 640, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self.max_side = int(max_side)
        self._dis = cv2.DISOpticalFlow_create(preset)

    def flow(self, cur_luma: np.ndarray, ref_luma: np.ndarray) -> np.ndarray:
        """``(H, W, 2)`` float32 (dx, dy) in processing pixels: pixel p of the current frame shows
        what the reference shows at ``p + flow[p]``. Inputs ``(H, W)`` luma, 0..255."""
        h, w = cur_luma.shape
        scale = min(1.0, self.max_side / max(h, w))
        # DIS refuses images under 12 px on both sides: tiny frames are scaled up
        size = (max(16, int(round(w * scale))), max(16, int(round(h * scale))))
        a = cv2.resize(np.clip(cur_luma, 0, 255).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(np.clip(ref_luma, 0, 255).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
        small = self._dis.calc(a, b, None)
        full = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        full[..., 0] *= w / size[0]
        full[..., 1] *= h / size[1]
        return full

    def cells(self, cur_luma: np.ndarray, ref_luma: np.ndarray, scale: float = 1.0) -> CellVectors:
        """The flow averaged over the codec engine's cells (``CELL * scale`` processing pixels),
        as list-0 vectors on every cell (flow has no intra holes)."""
        h, w = cur_luma.shape
        cy_n, cx_n = grid_shape(w, h, scale)
        cell = CELL * scale
        flow = self.flow(cur_luma, ref_luma)
        pad_h, pad_w = int(np.ceil(cy_n * cell)), int(np.ceil(cx_n * cell))
        padded = cv2.copyMakeBorder(flow, 0, max(0, pad_h - h), 0, max(0, pad_w - w), cv2.BORDER_REPLICATE)
        v0 = cv2.resize(padded, (cx_n, cy_n), interpolation=cv2.INTER_AREA).astype(np.float32)
        has0 = np.ones((cy_n, cx_n), bool)
        return CellVectors(has0, v0, np.zeros_like(has0), np.zeros_like(v0), cell)
