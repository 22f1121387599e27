"""What the codec engine remembers between frames: stylized canvases and per-pixel provenance.

- **Canvases** (``slots``): stylized images made by the network (a full frame, or a refined
  frame), each with the decoded luma it was generated from.
- **Remembered frames** (``history``): recently processed frames that later frames may refer to,
  each with its decoded luma and, per pixel, the canvas slot and float coordinates the pixel's
  style comes from, plus the per-cell motion its field implied.
- **Refresh cross-fade**: after a full refresh the difference between the propagated picture and
  the new stylization, added back with a weight that fades out over a few frames, so a refresh
  does not pop.

Memory is fixed at allocation: ``slots`` canvases and ``history`` frames of the processing size.
Lumas and slot numbers are kept as uint8: decoded luma is whole levels and there are at most
255 slots. Only a flattened canvas's carried luma (a resampled value) is rounded, by at most half
a level. At 720p this saves 63 of the store's 179 MiB (against float32 lumas, int16 slots).
Canvas positions are int16 fixed point (``coord_scale``: 1/16 px up to 2046 px frames), half the
size of float32: 21 MiB less at 720p, 28 MiB with the identity grid and the current frame's
field. Rounding each carried step to 1/16 px changed no quality figure measurably (``codecstyle
bench``, 120 frames, against float32: Big Buck Bunny warping error 3.525e-3 -> 3.534e-3, PSNR 1/8
21.47 -> 21.46 dB, sharpness 0.687 -> 0.691; bikes 17.653e-3 -> 17.660e-3, 23.24 dB either way,
0.806 -> 0.807).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import cv2
import numpy as np


#: Fixed-point steps per pixel of canvas positions at most (1/16 px).
COORD_STEPS = 16


def coord_scale(h: int, w: int) -> int:
    """Fixed-point steps per pixel for int16 positions in ``(h, w)`` frames: ``COORD_STEPS``,
    halved until every position (up to a pixel beyond the frame) fits."""
    scale = COORD_STEPS
    while scale > 1 and (max(h, w) + 1) * scale > 32767:
        scale //= 2
    return scale


def identity_coords(h: int, w: int, scale: int) -> np.ndarray:
    """``(h, w, 2)`` int16 fixed-point (y, x) of every pixel's own position."""
    yy, xx = np.mgrid[0:h, 0:w]
    return (np.stack([yy, xx], axis=-1) * scale).astype(np.int16)


class CanvasStore:
    """Fixed-size state for ``(h, w)`` frames. See the module docstring."""

    def __init__(self, h: int, w: int, history: int, slots: int):
        if not 0 < slots <= 255:
            raise ValueError(f"slots must be 1..255, got {slots}")
        self.shape = (h, w)
        self.slots = slots
        self.lumas = np.zeros((history, h, w), np.uint8)
        self.gens = np.zeros((history, h, w), np.uint8)
        self.scale = coord_scale(h, w)
        self.coords = np.zeros((history, h, w, 2), np.int16)  # fixed point, ``scale`` steps per px
        self.display = np.full(history, -1, np.int64)  # display index per history entry, -1 free
        self.velocity: List[Optional[np.ndarray]] = [None] * history  # (Cy, Cx, 2) px per frame
        self.used_slots: List[set] = [set() for _ in range(history)]
        self.canvas = np.zeros((slots, h, w, 3), np.uint8)
        self.canvas_luma = np.zeros((slots, h, w), np.uint8)
        self.identity = identity_coords(h, w, self.scale)
        self.fade_corr: Optional[np.ndarray] = None  # (H, W, 3) float32, in canvas coordinates
        self.fade_slot = 0  # the canvas whose samples get ``fade_corr`` back
        self.fade_center = 0
        self.fade_frames = 0
        # Write counters, so a copy of the store on a GPU (``gpu.device_kernels``) uploads only
        # what changed: every write takes the next number.
        self.writes = 0
        self.slot_version = np.zeros(slots, np.int64)
        self.entry_version = np.zeros(history, np.int64)
        self.fade_version = 0

    # -- remembered frames -------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not (self.display >= 0).any()

    def references(self, display_index: int) -> Tuple[List[int], List[int]]:
        """History entries before (nearest first, at most 3) and after (at most 2) a frame."""
        valid = np.flatnonzero(self.display >= 0)
        past = sorted((int(i) for i in valid if self.display[i] < display_index), key=lambda i: -self.display[i])
        future = sorted((int(i) for i in valid if self.display[i] > display_index), key=lambda i: self.display[i])
        return past[:3], future[:2]

    def nearest_velocity(self, display_index: int) -> Optional[np.ndarray]:
        known = [i for i in np.flatnonzero(self.display >= 0) if self.velocity[i] is not None]
        if not known:
            return None
        return self.velocity[min(known, key=lambda i: abs(self.display[i] - display_index))]

    def remember(self, display_index: int, luma, gen, coord, velocity=None) -> None:
        free = np.flatnonzero(self.display < 0)
        h = int(free[0]) if len(free) else int(np.argmin(self.display))  # a free entry, else the oldest
        self.display[h] = display_index
        self.velocity[h] = velocity
        self.lumas[h], self.gens[h], self.coords[h] = luma, gen, coord
        self.writes += 1
        self.entry_version[h] = self.writes
        # a histogram of the uint8 slots, without np.bincount's int64 copy (7 MB at 720p)
        counts = cv2.calcHist([self.gens[h]], [0], None, [256], [0, 256]).ravel()
        self.used_slots[h] = set(np.flatnonzero(counts).tolist())

    def forget(self, i: int) -> None:
        """Drop history entry ``i``: it is no longer a reference, and its canvases may be reused."""
        self.display[i] = -1
        self.velocity[i] = None
        self.used_slots[i] = set()

    def forget_before(self, display_index: int) -> None:
        """Drop the remembered frames displayed before ``display_index``, unless none displayed
        from it on is left (``claim_slot`` may have dropped it): the store never empties
        within a shot, else the next frame would be a first frame, stylized without a fade."""
        if not (self.display >= display_index).any():
            return
        for i in np.flatnonzero((self.display >= 0) & (self.display < display_index)):
            self.forget(int(i))

    def forget_all(self) -> None:
        for i in range(len(self.display)):
            self.forget(i)

    # -- canvases ----------------------------------------------------------------------
    def put_canvas(self, slot: int, out: np.ndarray, luma: np.ndarray) -> None:
        """Canvas ``slot`` becomes ``out`` ``(H, W, 3)`` uint8, stylized from decoded ``luma``
        ``(H, W)`` (0..255, rounded to whole levels)."""
        self.canvas[slot], self.canvas_luma[slot] = out, luma
        self.writes += 1
        self.slot_version[slot] = self.writes

    def free_slot(self) -> Optional[int]:
        live = set().union(*self.used_slots)
        if self.fade_corr is not None:
            live.add(self.fade_slot)
        for slot in range(self.slots):
            if slot not in live:
                return slot
        return None

    def claim_slot(self, display_index: int) -> Tuple[int, bool]:
        """A canvas slot for the frame being refined, and whether the frame must be flattened
        into it. When every slot is still referenced, remembered frames are forgotten, farthest
        in display order first, until one frees up; the current frame then references only its
        new canvas, so it needs none of the old ones."""
        slot = self.free_slot()
        if slot is not None:
            return slot, False
        self.end_fade()  # the cross-fade's canvas may be the one that has to go
        for i in sorted(np.flatnonzero(self.display >= 0), key=lambda i: -abs(self.display[i] - display_index)):
            self.forget(i)
            slot = self.free_slot()
            if slot is not None:
                return slot, True
        raise AssertionError("no canvas slot free although nothing is remembered")

    def start_over(self, display_index: int, out: np.ndarray, luma: np.ndarray,
                   fade_corr: Optional[np.ndarray] = None, fade_frames: int = 0) -> None:
        """A full refresh: ``out`` becomes canvas 0 and the only remembered frame. With
        ``fade_corr`` (propagated minus fresh, ``(H, W, 3)`` float32), samples of canvas 0 get
        that difference back, fading linearly to nothing ``fade_frames`` display frames away."""
        self.forget_all()
        self.put_canvas(0, out, luma)
        self.start_fade(display_index, 0, fade_corr, fade_frames)
        self.remember(display_index, luma, np.zeros(luma.shape, np.uint8), self.identity)

    def start_fade(self, display_index: int, slot: int, fade_corr: Optional[np.ndarray], fade_frames: int) -> None:
        """Samples of canvas ``slot`` get ``fade_corr`` back, fading linearly to nothing
        ``fade_frames`` display frames away from ``display_index``."""
        self.fade_corr, self.fade_slot = fade_corr, slot
        self.writes += 1
        self.fade_version = self.writes
        self.fade_center, self.fade_frames = display_index, fade_frames

    def end_fade(self) -> None:
        """Drop the cross-fade (its difference is ``(H, W, 3)`` float32)."""
        self.fade_corr = None

    def fade_passed(self, processed_below: int) -> None:
        """Every frame displayed before ``processed_below`` has been processed: drop the
        cross-fade once no frame still to come is close enough to the refresh to use it."""
        if self.fade_corr is not None and processed_below >= self.fade_center + self.fade_frames:
            self.end_fade()

    def correction(self, display_index: int):
        """The cross-fade for a frame, as ``render`` takes it, or None once it has faded out."""
        if self.fade_corr is None or self.fade_frames <= 0:
            return None
        fade = 1.0 - abs(display_index - self.fade_center) / self.fade_frames
        return (self.fade_corr, self.fade_slot, fade) if fade > 0 else None
