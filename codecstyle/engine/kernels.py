"""Where the codec engine's per-pixel work runs: the numba kernels on the CPU, or torch on a GPU.

Both offer the same two calls on a ``CanvasStore``:
- ``match(store, cur_luma, ref_idx, dx, dy, cell)``: ``native.match.candidate_costs`` against
  the store's remembered lumas;
- ``propagate(store, chosen, cell, luma, correction)``: the chosen field (and its second,
  bi-predicted source) composed onto the remembered provenance and rendered from the canvases,
  returning ``gen``, ``coord``, ``out``, ``diff`` as numpy arrays (``native.propagate``).

The engine takes the GPU version (``gpu.device_kernels.DeviceKernels``) when the network runs on
CUDA: the canvases then stay in GPU memory (copied once per change), and the frame's heavy
sampling does not hold the CPU cores that decode and encode.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from codecstyle.native.match import candidate_costs
from codecstyle.native.propagate import compose_field, render

from ..motion.cleaning import ChosenField
from .canvas_store import CanvasStore

#: Pixels within which neighbouring cells' vectors are blended into a smooth field
#: (``native.propagate.compose_field``'s ``limit``).
SMOOTH_LIMIT = 2.0


def cell_weight(has2: np.ndarray, cell: float, h: int, w: int) -> np.ndarray:
    """Per-pixel weight ``(H, W)`` float32 of the second source: 0.5 on bi-predicted cells,
    interpolated between cell centres so averaged and single-source cells meet without a seam."""
    cy_n, cx_n = has2.shape
    big = cv2.resize(has2.astype(np.float32) * 0.5, (int(round(cx_n * cell)), int(round(cy_n * cell))),
                     interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w), np.float32)
    out[:min(h, big.shape[0]), :min(w, big.shape[1])] = big[:h, :w]
    return out


class CpuKernels:
    """The numba kernels (``native``), on the store's numpy arrays."""

    def match(self, store: CanvasStore, cur_luma: np.ndarray, ref_idx: np.ndarray, dx: np.ndarray,
              dy: np.ndarray, cell: float) -> np.ndarray:
        return candidate_costs(cur_luma, store.lumas, ref_idx, dx, dy, cell)

    def propagate(self, store: CanvasStore, chosen: ChosenField, cell: float, luma: np.ndarray,
                  correction: Optional[tuple]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        h, w = luma.shape

        def compose(ref, v):
            return compose_field(ref, np.ascontiguousarray(v[..., 0]), np.ascontiguousarray(v[..., 1]),
                                 cell, SMOOTH_LIMIT, store.gens, store.coords, store.scale)

        gen, coord = compose(chosen.ref, chosen.v)
        second = None
        if chosen.has2.any():
            gen2, coord2 = compose(chosen.ref2, chosen.v2)
            second = (gen2, coord2, cell_weight(chosen.has2, cell, h, w))
        out, diff = render(store.canvas, store.canvas_luma, gen, coord, luma, second, correction,
                           scale=store.scale)
        return gen, coord, out, diff
