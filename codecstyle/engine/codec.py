"""``codec`` mode: stylize I-frames, carry the style along the codec's motion vectors, refresh only
what changed.

Per frame, in processing order (see ``order.py``):
1. Predict: codec vectors (or DIS flow where the codec exports none) -> per-cell field ->
   references resolved and the field cleaned by matching decoded originals (``motion.cleaning``)
   -> per-pixel provenance composed along the field (``native.propagate``) -> each pixel sampled
   once from the canvas it was generated in; bi-predicted cells average their two sources.
2. Check: the decoded luma each pixel was generated from, carried along the same coordinates, is
   compared with the frame actually decoded (``check.py``). 16x16 blocks that differ (occlusion,
   intra blocks, wrong vectors, lighting, drift) are re-stylized as a few margin-padded tiles with
   frozen statistics (on CUDA, one pass over the whole frame) and feathered in; the result
   becomes a new canvas.
3. Full refresh at I-frames, scene cuts, where tiles would cost about a whole frame, and once
   texture was carried ``carry_seconds``. Unless the shot changed, the propagated picture fades
   into the new one over ``fade_seconds``, and the remembered frames stay references until every
   frame displayed before the refresh is done (B-frames before it are predicted from both sides).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from codecstyle.native.distortion import block_distortion

from ..motion.cleaning import choose_field
from ..motion.field import CellVectors, cell_vectors
from ..motion.flow import FlowField
from ..nets.stylizer import Stylizer
from ..timing import StageTimer
from ..video.reader import VECTOR_CODECS, ZERO_B_CODECS, FrameRecord
from .base import Engine, Finished
from .canvas_store import CanvasStore
from .check import block_errors, contrast_thresholds, dirty_blocks
from .kernels import CpuKernels
from .order import ReorderBuffer
from .tiles import feather_mask, plan_tiles


@dataclass(frozen=True)
class CodecSettings:
    """Thresholds derived from the one user knob, ``quality`` (0 = fastest, 1 = most faithful)."""

    quality: float = 0.5
    block: int = 16          # check granularity in pixels
    feather: int = 8         # seam blend width in pixels
    history: int = 6         # processed frames kept as candidate references
    slots: int = 16          # canvases kept
    check_sigma: float = 2.0  # low-pass (px) of the check's difference, see check.py
    frame_rate: float = 25.0  # the video's frames per second
    fade_seconds: float = 0.3  # a refresh's cross-fade

    @property
    def check_threshold(self) -> float:
        """Mean |low-passed luma error| (0..255) over a block above which it is re-stylized."""
        return 4.0 + 12.0 * (1.0 - self.quality)

    @property
    def contrast_floor(self) -> float:
        """The share of ``check_threshold`` a block's threshold falls to where its neighbourhood
        is flat (``check.contrast_thresholds``). On the dim face clip (carphone made dim and 4x
        larger, 120 frames, default quality) 0.5 took the network share from 6 % to 12 %, the
        melting measure from 0.164 to 0.152 and the patchwork measure from 1.144 to 1.136 (frame
        mode: 0.115, 1.079), and the frames before a refresh show the jaw's outline and an open
        mouth where they showed blue patches and a dark smudge; on Big Buck Bunny the share went
        from 20 % to 27 % for little change (strokes 0.135 -> 0.133). A threshold scaled by the
        whole frame's contrast instead doubled the share for nothing."""
        return 0.5

    @property
    def margin(self) -> int:
        """Tile margin in pixels. Measured on real frames (style 19, frozen statistics), mean/max
        error inside a 16 px block: margin 32 -> 1.4/17-31 levels, 40 -> 0.25/3-9, 48 -> 0.02/1."""
        return 32 if self.quality < 0.3 else 40 if self.quality < 0.7 else 48

    @property
    def match_tolerance(self) -> float:
        """Luma levels by which zero/neighbour motion may match worse and still be preferred."""
        return 1.0 + 2.0 * (1.0 - self.quality)

    @property
    def halo_factor(self) -> float:
        """Blocks whose error exceeds this many check thresholds (a real content change, not
        drift) also refresh the blocks around them."""
        return 3.0

    @property
    def distortion_threshold(self) -> float:
        """Mean per-pixel tear/stretch (``native.distortion``, 0..1) above which a block is
        re-stylized although its luma matches. Where the codec cannot tell motions apart (a flat
        surface moving: bikes' white vehicle roof, coded as still) cells take different sources
        and the texture becomes a patchwork of 8 px squares that the luma check does not see.
        Looked at on bikes' roof: 0.1 removes the patchwork, 0.25 and 0.55 leave most of it.
        Re-stylizing it is costly (bikes, 60 frames, other settings default: network share
        36 % -> 85 % at 0.1, 65 % at 0.25; Big Buck Bunny 30 % -> 86 % / 54 %), so only the top
        of the quality range does: 0.1 at quality 1, 0.46 at 0.8, off (1.0 or more) from 0.5
        down."""
        return 0.1 + 1.8 * (1.0 - self.quality)

    @property
    def carry_seconds(self) -> float:
        """Seconds after a full pass at which the next frame is stylized whole again (and faded
        in), however well its check went: carried texture decays in ways no check sees (strokes
        of a turning face stretched and re-sampled frame after frame). On a dim face clip
        (carphone made dim and 4x larger, 120 frames at 30 fps, default quality) a full pass every
        second cut the melting measure from 0.196 to 0.162 and the patchwork measure from 1.205 to
        1.145 (frame mode: 0.115 and 1.08) for 0.9 % more pixels through the network; every 16 or
        8 frames did no better (most frames then show a cross-fade, softer than either picture).
        1.75 s at quality 0, 1 s at 0.5, 0.25 s at 1."""
        return 0.25 + 1.5 * (1.0 - self.quality)

    @property
    def full_refresh_share(self) -> float:
        """Dirty share above which one full-frame pass is cheaper than tiles."""
        return 0.35

    @property
    def scene_cut_cost(self) -> float:
        """Median match cost (luma levels) that means a new shot."""
        return 30.0

    @property
    def fade_frames(self) -> int:
        """Display frames over which a refresh fades in (0: it replaces the picture at once):
        ``fade_seconds`` at ``frame_rate``. Counted in frames, a 10 fps clip spent most of its
        one-second carry inside a cross-fade, softer than either picture."""
        # clamped: a variable-rate file may claim a rate of thousands
        return int(round(self.fade_seconds * min(max(self.frame_rate, 1.0), 120.0)))


@dataclass
class Prediction:
    """A frame rebuilt from earlier canvases: ``out`` ``(H, W, 3)`` uint8, ``diff`` ``(H, W)``
    float32 carried minus decoded luma, ``dirty`` ``(By, Bx)`` bool blocks that failed the check,
    the provenance ``gen`` ``(H, W)`` uint8 and ``coord`` ``(H, W, 2)`` int16 (fixed point,
    ``CanvasStore.scale`` steps per pixel) and the per-cell ``velocity`` (px per display frame)."""

    out: np.ndarray
    diff: np.ndarray
    dirty: np.ndarray
    gen: np.ndarray
    coord: np.ndarray
    velocity: np.ndarray


#: Rows blended at once when tiles are pasted (bounds the float copies, not the result).
_BLEND_ROWS = 64


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 0..255 luma of ``(H, W, 3)`` uint8 RGB."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


class CodecEngine(Engine):
    """See the module docstring.

    - coded_size: the stream's ``(width, height)``, used to scale vectors when frames are
      processed at a smaller size.
    - motion: ``"vectors"``, ``"flow"`` or ``"auto"`` (vectors where the codec exports them,
      else DIS optical flow).
    - keyframes: refresh fully at I-frames (the codec's own refresh points).
    - kernels: where matching and propagation run (``engine.kernels``): by default torch on the
      GPU when the network runs on CUDA, else the numba kernels.
    - tiles: refresh dirty blocks through margin-padded tiles (the default on a CPU, where the
      network's cost follows the pixels it sees), or through one pass over the whole frame with
      the dirty blocks pasted (the default on CUDA: a GPU stylizes a 720p frame in a few
      milliseconds, and every tile would pay a whole pass's fixed cost of kernel launches).
    """

    name = "codec"

    def __init__(self, stylizer: Stylizer, timer: StageTimer, coded_size: Tuple[int, int],
                 codec_name: str, settings: Optional[CodecSettings] = None, motion: str = "auto",
                 keyframes: bool = True, kernels=None, tiles: Optional[bool] = None):
        super().__init__(timer)
        self.stylizer = stylizer
        if kernels is None:
            kernels = CpuKernels()
            if stylizer.device.type == "cuda":
                from ..gpu.device_kernels import DeviceKernels
                kernels = DeviceKernels(stylizer.device)
        self.kernels = kernels
        self.tiles = stylizer.device.type != "cuda" if tiles is None else tiles
        self.settings = settings or CodecSettings()
        self.coded_size = coded_size
        self.codec_name = codec_name
        if motion == "auto":
            motion = "vectors" if codec_name in VECTOR_CODECS else "flow"
        self.motion = motion
        self.flow = FlowField() if motion == "flow" else None
        self.keyframes = keyframes
        self.order = ReorderBuffer() if motion == "vectors" else ReorderBuffer(max_held=0)
        self.ready: Dict[int, Finished] = {}
        self.next_display = 0
        self.frozen = None
        self.store: Optional[CanvasStore] = None
        self.refresh_frames: List[int] = []
        self.refreshed_at = float("-inf")  # time (s) of the last full pass
        self.kept_refresh: Optional[int] = None  # display index of a refresh that kept references
        self.refresh_reasons: Dict[str, int] = {}
        self.frame_log: List[Dict[str, object]] = []  # per processed frame: type, reason, shares
        self.vector_frames = 0

    # -- ordering -------------------------------------------------------------------------
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
        if self.store is not None:
            self.store.fade_passed(self.next_display)
            if self.kept_refresh is not None and self.next_display > self.kept_refresh:
                # every frame displayed before a refresh that kept references is done: what
                # those frames were carried from is not carried any further
                self.store.forget_before(self.kept_refresh)
                self.kept_refresh = None
        if final and self.ready:  # display indices with gaps cannot happen, but never lose a frame
            out.extend(self.ready[k] for k in sorted(self.ready))
            self.ready.clear()
        return out

    # -- per frame ------------------------------------------------------------------------
    def _process(self, rec: FrameRecord) -> None:
        h, w = rec.rgb.shape[:2]
        if self.store is None:
            s = self.settings
            self.store = CanvasStore(h, w, s.history, s.slots)
        luma = luma_of(rec.rgb)
        self._note = {"frame": rec.display_index, "type": rec.pict_type}
        before = self.stats.network_pixels
        out = pred = None
        if self.store.empty:
            self._note["reason"] = "first frame"
        else:
            pred = self._predict(rec, luma)
            if pred is None:
                self._note["reason"] = "scene cut"
            elif self.keyframes and rec.pict_type == "I":
                self._note["reason"] = "I-frame"
            elif rec.time - self.refreshed_at >= self.settings.carry_seconds:
                self._note["reason"] = "carried too long"
            else:
                out = self._refine(rec, luma, pred)
        if out is None:
            # Only the picture and its failed blocks are faded from: the provenance fields and the
            # check's difference (~12 MB at 720p) are freed before the network's peak.
            kept = (pred.out, pred.dirty) if pred is not None else None
            # A refresh within a shot keeps the references: B-frames displayed before it may still
            # be to come, predicted from both sides (forgotten, their past ones are lost).
            velocity = pred.velocity if pred is not None else None
            pred = None
            out = self._full(rec, luma, kept, velocity)
            reason = str(self._note.get("reason", "?"))
            self.refresh_reasons[reason] = self.refresh_reasons.get(reason, 0) + 1
        self.stats.frames += 1
        self.stats.pixels += h * w
        self._note["network_share"] = round((self.stats.network_pixels - before) / (h * w), 4)
        self.frame_log.append(self._note)
        self.ready[rec.display_index] = (rec, out)

    def _full(self, rec: FrameRecord, luma, kept: Optional[Tuple[np.ndarray, np.ndarray]],
              velocity: Optional[np.ndarray] = None) -> np.ndarray:
        """The network on the whole frame. With ``kept``, the prediction's ``(out, dirty)`` (same
        shot), the propagated picture is kept on its clean blocks and fades into the new
        stylization: no pop. With ``velocity`` (the prediction's per-cell motion) the new picture
        becomes a canvas of its own beside the remembered frames, which stay references;
        without, it starts the store over."""
        s = self.settings
        self.store.end_fade()  # replaced below; freed first, not held through the network pass
        with self.timer.stage("network"):
            out, self.frozen = self.stylizer.stylize(rec.rgb)
        self.stats.network_pixels += luma.size
        self.stats.full_frames += 1
        self.refresh_frames.append(rec.display_index)
        self.refreshed_at = rec.time
        corr = None
        if kept is not None and s.fade_frames > 0:
            h, w = luma.shape
            kept_out, dirty = kept
            keep = 1.0 - feather_mask(dirty, s.block, h, w, s.feather)
            corr = kept_out.astype(np.float32)
            corr -= out
            corr *= keep[..., None]
        if velocity is None:
            self.store.start_over(rec.display_index, out, luma, corr, s.fade_frames)
            self.kept_refresh = None
        else:
            slot, _ = self.store.claim_slot(rec.display_index)
            self.store.put_canvas(slot, out, luma)
            self.store.start_fade(rec.display_index, slot, corr, s.fade_frames)
            self.store.remember(rec.display_index, luma, np.full(luma.shape, slot, np.uint8),
                                self.store.identity, velocity)
            self.kept_refresh = rec.display_index
        if corr is None:
            return out
        shown = corr + out
        shown += 0.5
        return np.clip(shown, 0, 255, out=shown).astype(np.uint8)

    def _cells(self, rec: FrameRecord, luma, past, future, scale: float) -> CellVectors:
        if self.motion == "flow":
            ref = (past or future)[0]
            return self.flow.cells(luma, self.store.lumas[ref], scale)
        if rec.motion_vectors is not None:
            self.vector_frames += 1
        h, w = luma.shape
        return cell_vectors(rec.motion_vectors, w, h, scale,
                            zero_b_is_fake=rec.pict_type == "B" and self.codec_name in ZERO_B_CODECS)

    def _predict(self, rec: FrameRecord, luma) -> Optional[Prediction]:
        """Rebuild the frame from remembered canvases; None when it belongs to a new shot."""
        s, store = self.settings, self.store
        h, w = luma.shape
        with self.timer.stage("motion"):
            past, future = store.references(rec.display_index)
            cells = self._cells(rec, luma, past, future, w / self.coded_size[0])
            distance = (store.display - rec.display_index).astype(np.float32)
            # Temporally scaled velocities stand in for the zero vectors decoders export on many
            # B-blocks; measured flow needs no stand-in, and scaling its error would add drift.
            velocity = None if self.motion == "flow" else store.nearest_velocity(rec.display_index)
            chosen = choose_field(luma, store.lumas, past, future, cells, s.match_tolerance, distance, velocity,
                                  costs=lambda *candidates: self.kernels.match(store, luma, *candidates))
            if float(np.median(chosen.cost)) > s.scene_cut_cost:
                return None
            # motion per display frame (v = velocity * signed distance), for later neighbours
            velocity = chosen.v / distance[chosen.ref][..., None]
        with self.timer.stage("propagate"):
            gen, coord, out, diff = self.kernels.propagate(store, chosen, float(cells.cell), luma,
                                                           store.correction(rec.display_index))
            errors = block_errors(diff, s.block, s.check_sigma)
            dirty = dirty_blocks(errors, s.check_threshold, s.halo_factor)
            dirty |= errors > contrast_thresholds(luma, s.block, s.check_threshold, s.contrast_floor)
            if s.distortion_threshold < 1.0:
                dirty |= block_distortion(gen, coord, s.block, store.scale) > s.distortion_threshold
        self._note["dirty_share"] = round(float(dirty.mean()), 4)
        return Prediction(out, diff, dirty, gen, coord, velocity)

    def _refine(self, rec: FrameRecord, luma, pred: Prediction) -> Optional[np.ndarray]:
        """Re-stylize the dirty blocks of a prediction as tiles; None when a full pass is cheaper."""
        s, store = self.settings, self.store
        h, w = luma.shape
        out, gen, coord = pred.out, pred.gen, pred.coord
        if pred.dirty.mean() > s.full_refresh_share:
            self._note["reason"] = "mostly dirty"
            return None
        if pred.dirty.any():
            crops = [(0, 0, h, w)]
            if self.tiles:
                crops = plan_tiles(pred.dirty, s.block, s.margin, h, w)
                if sum((c[2] - c[0]) * (c[3] - c[1]) for c in crops) > 0.8 * h * w:
                    self._note["reason"] = "tiles cover the frame"
                    return None
            slot, flatten = store.claim_slot(rec.display_index)
            alpha = feather_mask(pred.dirty, s.block, h, w, s.feather)
            out = self._paste_tiles(rec, out, alpha, crops)
            fresh = alpha > 0
            if flatten:
                # Every pixel now lives in the new canvas: one extra resampling instead of a full
                # network pass, when all canvases are still referenced.
                self._note["flattened"] = True
                # the carried luma is fractional; whole levels are what the store keeps
                store.put_canvas(slot, out, np.where(fresh, luma, np.clip(np.rint(pred.diff + luma), 0, 255)))
                gen = np.full((h, w), slot, np.uint8)
                coord = store.identity
            else:
                store.put_canvas(slot, out, luma)
                gen = np.where(fresh, np.uint8(slot), gen)
                coord = np.where(fresh[..., None], store.identity, coord)
        store.remember(rec.display_index, luma, gen, coord, pred.velocity)
        return out

    def _paste_tiles(self, rec: FrameRecord, out: np.ndarray, alpha: np.ndarray, crops) -> np.ndarray:
        """Run the network on ``crops`` (frozen statistics) and blend the result into ``out`` with
        ``alpha`` ``(H, W)`` float32 0..1 (1 on dirty blocks, feathered around them)."""
        # Only the box around alpha > 0 changes, and it is blended a band of rows at a time:
        # float copies of a whole 720p frame were ~40 MB of transient memory per frame.
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        by0, by1 = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        bx0, bx1 = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)
        result = out.copy()
        fresh = result[by0:by1, bx0:bx1]  # a view: tiles land in the result, then get blended
        with self.timer.stage("network"):
            for y0, x0, y1, x1 in crops:
                tile, _ = self.stylizer.stylize(rec.rgb[y0:y1, x0:x1], self.frozen)
                iy0, ix0, iy1, ix1 = max(y0, by0), max(x0, bx0), min(y1, by1), min(x1, bx1)
                if iy0 < iy1 and ix0 < ix1:
                    fresh[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0] = tile[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
                self.stats.network_pixels += (y1 - y0) * (x1 - x0)
        for r0 in range(by0, by1, _BLEND_ROWS):
            r1 = min(by1, r0 + _BLEND_ROWS)
            a = alpha[r0:r1, bx0:bx1, None]
            blended = out[r0:r1, bx0:bx1].astype(np.float32) * (1.0 - a) + result[r0:r1, bx0:bx1] * a
            result[r0:r1, bx0:bx1] = (blended + 0.5).astype(np.uint8)
        return result

    def describe(self) -> Dict[str, object]:
        if self.motion == "vectors":
            source = "codec vectors"
        elif self.name == "flow":
            source = "DIS optical flow"
        else:
            source = f"DIS optical flow (fallback: {self.codec_name} exports no motion vectors)"
        return {"engine": self.name, "quality": self.settings.quality, "motion_source": source,
                "frames_with_vectors": self.vector_frames, "refresh_frames": list(self.refresh_frames),
                "refresh_reasons": dict(self.refresh_reasons)}
