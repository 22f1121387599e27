"""``DeviceKernels``: the codec engine's per-pixel work (``engine.kernels``) on a torch device.

The store (``engine.canvas_store.CanvasStore``) stays the one source of truth in host memory; a
copy of its canvases and remembered frames lives on the device and is refreshed entry by entry
when the store's write counters say an entry changed. Per 720p frame that is typically one
remembered frame (luma, slots, positions: 5.5 MB) and at most one canvas (3.6 MB) up, and the
frame, its check difference and its provenance (11 MB) down.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.canvas_store import CanvasStore
from ..engine.kernels import SMOOTH_LIMIT
from ..motion.cleaning import ChosenField
from . import torch_kernels as tk


class DeviceKernels:
    """``CpuKernels``' calls, computed with ``torch_kernels`` on ``device``."""

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self._store_id: Optional[int] = None
        self._seen_slots = self._seen_entries = None
        self._seen_fade = -1
        self._fade: Optional[torch.Tensor] = None
        self._cur: Tuple[Optional[np.ndarray], Optional[torch.Tensor]] = (None, None)

    def _put(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, non_blocking=False)

    def _sync(self, store: CanvasStore) -> None:
        """Copy what changed in ``store`` since the last call to the device."""
        if self._store_id != id(store):
            self._store_id = id(store)
            self.canvas = torch.empty(store.canvas.shape, dtype=torch.uint8, device=self.device)
            self.canvas_luma = torch.empty(store.canvas_luma.shape, dtype=torch.uint8, device=self.device)
            self.lumas = torch.empty(store.lumas.shape, dtype=torch.uint8, device=self.device)
            self.gens = torch.empty(store.gens.shape, dtype=torch.uint8, device=self.device)
            self.coords = torch.empty(store.coords.shape, dtype=torch.int16, device=self.device)
            self._seen_slots = np.full_like(store.slot_version, -1)
            self._seen_entries = np.full_like(store.entry_version, -1)
            self._seen_fade = -1
        for s in np.flatnonzero(store.slot_version != self._seen_slots):
            self.canvas[s] = self._put(store.canvas[s])
            self.canvas_luma[s] = self._put(store.canvas_luma[s])
            self._seen_slots[s] = store.slot_version[s]
        for e in np.flatnonzero(store.entry_version != self._seen_entries):
            self.lumas[e] = self._put(store.lumas[e])
            self.gens[e] = self._put(store.gens[e])
            self.coords[e] = self._put(store.coords[e])
            self._seen_entries[e] = store.entry_version[e]
        if store.fade_version != self._seen_fade:
            self._fade = None if store.fade_corr is None else self._put(store.fade_corr)
            self._seen_fade = store.fade_version

    def _current(self, luma: np.ndarray) -> torch.Tensor:
        """The frame's luma on the device, copied once per frame (match and propagate share it)."""
        if self._cur[0] is not luma:
            self._cur = (luma, self._put(luma))
        return self._cur[1]

    def match(self, store: CanvasStore, cur_luma: np.ndarray, ref_idx: np.ndarray, dx: np.ndarray,
              dy: np.ndarray, cell: float) -> np.ndarray:
        self._sync(store)
        costs = tk.candidate_costs(self._current(cur_luma), self.lumas, self._put(ref_idx), self._put(dx),
                                   self._put(dy), cell)
        return costs.cpu().numpy()

    def _cell_weight(self, has2: np.ndarray, cell: float, h: int, w: int) -> torch.Tensor:
        """``engine.kernels.cell_weight`` on the device (the same bilinear upsampling)."""
        cy_n, cx_n = has2.shape
        small = self._put(has2.astype(np.float32) * 0.5)[None, None]
        big = F.interpolate(small, size=(int(round(cy_n * cell)), int(round(cx_n * cell))), mode="bilinear",
                            align_corners=False)[0, 0]
        out = torch.zeros((h, w), dtype=torch.float32, device=self.device)
        bh, bw = min(h, big.shape[0]), min(w, big.shape[1])
        out[:bh, :bw] = big[:bh, :bw]
        return out

    def propagate(self, store: CanvasStore, chosen: ChosenField, cell: float, luma: np.ndarray,
                  correction: Optional[tuple]) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        self._sync(store)
        h, w = luma.shape

        def compose(ref, v):
            return tk.compose_field(self._put(ref), self._put(v[..., 0]), self._put(v[..., 1]), cell,
                                    SMOOTH_LIMIT, self.gens, self.coords, store.scale)

        gen, coord = compose(chosen.ref, chosen.v)
        second = None
        if chosen.has2.any():
            gen2, coord2 = compose(chosen.ref2, chosen.v2)
            second = (gen2, coord2, self._cell_weight(chosen.has2, cell, h, w))
        fade = None
        if correction is not None and self._fade is not None:
            _, slot, amount = correction
            fade = (self._fade, slot, amount)
        out, diff = tk.render(self.canvas, self.canvas_luma, gen, coord, self._current(luma), second, fade,
                              scale=store.scale)
        return gen.cpu().numpy(), coord.cpu().numpy(), out.cpu().numpy(), diff.cpu().numpy()
