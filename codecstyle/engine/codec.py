"""``codec`` mode: stylize I-frames, carry the style along the codec's motion vectors, refresh only
what changed.

Per frame, in processing order (see ``order.py``):
1. I-frame, first frame or scene cut: the network on the whole frame; its normalisation
   statistics are frozen for the tiles that follow.
2. Otherwise: codec vectors -> per-cell field -> references resolved and the field cleaned by
   matching decoded originals (``motion.cleaning``) -> per-pixel provenance composed along the
   field (``native.propagate``) -> each pixel sampled once from the canvas it was generated in.
3. Check: the decoded luma each pixel was generated from, carried along the same coordinates, is
   compared with the frame actually decoded. 16x16 blocks that differ (occlusion, intra blocks,
   wrong vectors, lighting, drift) are re-stylized as a few margin-padded tiles with frozen
   statistics and feathered in; the result becomes a new canvas.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from codecstyle.native.propagate import compose_field, render

from ..motion.cleaning import choose_field
from ..motion.field import cell_vectors
from ..nets.stylizer import Stylizer
from ..timing import StageTimer
from ..video.reader import ZERO_B_CODECS, FrameRecord
from .base import Engine, Finished
from .order import ReorderBuffer
from .tiles import feather_mask, plan_tiles



@dataclass(frozen=True)
class CodecSettings:
    """Thresholds derived from the one user knob, ``quality`` (0 = fastest, 1 = most faithful)."""

    quality: float = 0.5
    block: int = 16          # check granularity in pixels
    margin: int = 48         # tile margin: the network's measured effective receptive field
    feather: int = 8         # seam blend width in pixels
    history: int = 6         # processed frames kept as candidate references
    slots: int = 16          # canvases kept

    @property
    def check_threshold(self) -> float:
        """Mean |luma error| (0..255) over a block above which it is re-stylized."""
        return 4.0 + 12.0 * (1.0 - self.quality)

    @property
    def match_tolerance(self) -> float:
        """Luma levels by which zero/neighbour motion may match worse and still be preferred."""
        return 1.0 + 2.0 * (1.0 - self.quality)

    @property
    def full_refresh_share(self) -> float:
        """Dirty share above which one full-frame pass is cheaper than tiles."""
        return 0.35

    @property
    def scene_cut_cost(self) -> float:
        """Median match cost (luma levels) that means a new shot."""
        return 30.0


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 0..255 luma of ``(H, W, 3)`` uint8 RGB."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


class CodecEngine(Engine):
    """See the module docstring. ``coded_size`` is the stream's ``(width, height)``, used to
    scale vectors when frames are processed at a smaller size."""

    name = "codec"

    def __init__(self, stylizer: Stylizer, timer: StageTimer, coded_size: Tuple[int, int],
                 codec_name: str, settings: Optional[CodecSettings] = None):
        super().__init__(timer)
        self.stylizer = stylizer
        self.settings = settings or CodecSettings()
        self.coded_size = coded_size
        self.codec_name = codec_name
        self.order = ReorderBuffer()
        self.ready: Dict[int, Finished] = {}
        self.next_display = 0
        self.frozen = None
        self.shape: Optional[Tuple[int, int]] = None
        self.refresh_frames: List[int] = []
        self.vector_frames = 0

    # -- state ----------------------------------------------------------------------------
    def _allocate(self, h: int, w: int) -> None:
        s = self.settings
        self.shape = (h, w)
        self.lumas = np.zeros((s.history, h, w), np.float32)
        self.gens = np.zeros((s.history, h, w), np.int16)
        self.coords = np.zeros((s.history, h, w, 2), np.float32)
        self.display = np.full(s.history, -1, np.int64)  # display index per history slot
        # Each remembered frame's motion per display frame, per cell (None after a full refresh).
        self.velocity = [None] * s.history
        self.used_slots = [set() for _ in range(s.history)]
        self.canvas = np.zeros((s.slots, h, w, 3), np.uint8)
        self.canvas_luma = np.zeros((s.slots, h, w), np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.identity = np.stack([yy, xx], axis=-1)
        self.step = 0

    def _free_slot(self) -> Optional[int]:
        live = set().union(*self.used_slots)
        for slot in range(self.settings.slots):
            if slot not in live:
                return slot
        return None

    def _remember(self, display_index: int, luma, gen, coord, velocity=None) -> None:
        free = np.flatnonzero(self.display < 0)
        h = int(free[0]) if len(free) else int(np.argmin(self.display))  # a free slot, else the oldest
        self.display[h] = display_index
        self.velocity[h] = velocity
        self.lumas[h], self.gens[h], self.coords[h] = luma, gen, coord
        self.used_slots[h] = set(np.flatnonzero(np.bincount(gen.ravel(), minlength=self.settings.slots)).tolist())

    # -- per frame ------------------------------------------------------------------------
    def push(self, record: FrameRecord) -> List[Finished]:
        for rec in self.order.push(record):
            self._process(rec)
        return self._emit()

    def flush(self) -> List[Finished]:
        for rec in self.order.flush():
            self._process(rec)
        return self._emit(final=True)

    def _emit(self, final: bool = False) -> List[Finished]:
        out = []
        while self.next_display in self.ready:
            out.append(self.ready.pop(self.next_display))
            self.next_display += 1
        if final and self.ready:  # display indices with gaps cannot happen, but never lose a frame
            out.extend(self.ready[k] for k in sorted(self.ready))
            self.ready.clear()
        return out

    def _process(self, rec: FrameRecord) -> None:
        h, w = rec.rgb.shape[:2]
        if self.shape is None:
            self._allocate(h, w)
        luma = luma_of(rec.rgb)
        out = None
        if rec.pict_type != "I" and (self.display >= 0).any():
            out = self._propagate(rec, luma)
        if out is None:
            out = self._full(rec, luma)
        self.stats.frames += 1
        self.stats.pixels += h * w
        self.ready[rec.display_index] = (rec, out)

    def _full(self, rec: FrameRecord, luma) -> np.ndarray:
        with self.timer.stage("network"):
            out, self.frozen = self.stylizer.stylize(rec.rgb)
        self.stats.network_pixels += luma.size
        self.stats.full_frames += 1
        self.refresh_frames.append(rec.display_index)
        self.display[:] = -1  # a full refresh starts a new chain: nothing older is referenced
        for used in self.used_slots:
            used.clear()
        slot = 0
        self.canvas[slot], self.canvas_luma[slot] = out, luma
        self._remember(rec.display_index, luma, np.full(luma.shape, slot, np.int16), self.identity)
        return out

    def _propagate(self, rec: FrameRecord, luma) -> Optional[np.ndarray]:
        s = self.settings
        h, w = luma.shape
        with self.timer.stage("motion"):
            valid = np.flatnonzero(self.display >= 0)
            past = sorted((i for i in valid if self.display[i] < rec.display_index),
                          key=lambda i: -self.display[i])[:3]
            future = sorted((i for i in valid if self.display[i] > rec.display_index),
                            key=lambda i: self.display[i])[:2]
            scale = w / self.coded_size[0]
            cells = cell_vectors(rec.motion_vectors, w, h, scale,
                                 zero_b_is_fake=rec.pict_type == "B" and self.codec_name in ZERO_B_CODECS)
            if rec.motion_vectors is not None:
                self.vector_frames += 1
            distance = (self.display - rec.display_index).astype(np.float32)
            chosen = choose_field(luma, self.lumas, [int(i) for i in past], [int(i) for i in future],
                                  cells, s.match_tolerance, distance, self._nearest_velocity(rec.display_index, valid))
            # motion per display frame (v = velocity * signed distance), for later neighbours
            velocity = chosen.v / distance[chosen.ref][..., None]
            if float(np.median(chosen.cost)) > s.scene_cut_cost:
                return None
        with self.timer.stage("propagate"):
            gen, coord = compose_field(chosen.ref, np.ascontiguousarray(chosen.v[..., 0]),
                                       np.ascontiguousarray(chosen.v[..., 1]), float(cells.cell), 2.0,
                                       self.gens, self.coords)
            out, err = render(self.canvas, self.canvas_luma, gen, coord, luma)
            by, bx = -(-h // s.block), -(-w // s.block)
            padded = np.zeros((by * s.block, bx * s.block), np.float32)
            padded[:h, :w] = err
            block_err = padded.reshape(by, s.block, bx, s.block).mean(axis=(1, 3))
            dirty = block_err > s.check_threshold
        if dirty.mean() > s.full_refresh_share:
            return None
        if dirty.any():
            crops = plan_tiles(dirty, s.block, s.margin, h, w)
            if sum((c[2] - c[0]) * (c[3] - c[1]) for c in crops) > 0.8 * h * w:
                return None  # tiles would cost about as much as the whole frame
            slot = self._free_slot()
            if slot is None:
                return None
            alpha = feather_mask(dirty, s.block, h, w, s.feather)
            out = self._refine(rec, out, alpha, crops)
            fresh = alpha > 0
            gen = np.where(fresh, np.int16(slot), gen)
            coord = np.where(fresh[..., None], self.identity, coord)
            self.canvas[slot], self.canvas_luma[slot] = out, luma
        self._remember(rec.display_index, luma, gen, coord, velocity)
        return out

    def _nearest_velocity(self, display_index: int, valid) -> Optional[np.ndarray]:
        known = [i for i in valid if self.velocity[i] is not None]
        if not known:
            return None
        return self.velocity[min(known, key=lambda i: abs(self.display[i] - display_index))]

    def _refine(self, rec: FrameRecord, out: np.ndarray, alpha: np.ndarray, crops) -> np.ndarray:
        """Run the network on ``crops`` (frozen statistics) and blend the result into ``out`` with
        ``alpha`` ``(H, W)`` float32 0..1 (1 on dirty blocks, feathered around them)."""
        fresh = out.astype(np.float32)
        with self.timer.stage("network"):
            for y0, x0, y1, x1 in crops:
                tile, _ = self.stylizer.stylize(rec.rgb[y0:y1, x0:x1], self.frozen)
                fresh[y0:y1, x0:x1] = tile
                self.stats.network_pixels += (y1 - y0) * (x1 - x0)
        a = alpha[..., None]
        blended = out.astype(np.float32) * (1.0 - a) + fresh * a
        return (blended + 0.5).astype(np.uint8)

    def describe(self) -> Dict[str, object]:
        return {"engine": self.name, "quality": self.settings.quality,
                "motion_source": "codec vectors" if self.vector_frames else "none (zero-motion matching only)",
                "frames_with_vectors": self.vector_frames, "refresh_frames": list(self.refresh_frames)}
