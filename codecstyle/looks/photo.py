"""The photo-realistic look: grade footage toward the colours of a reference photo, no network.

Reinhard et al. (2001) colour transfer in CIE Lab: every channel of the frame is shifted and
scaled so that its mean and standard deviation become the reference's. Lab separates lightness
from the two opponent colour axes and is roughly perceptually uniform, so matching them channel
by channel moves the mood (warmth, contrast, saturation) without inventing structure.

Video needs one more thing: the *source* statistics must not be re-measured every frame, or the
grade follows every passing car and the picture pumps. ``PhotoLook`` measures them once per shot
(pooled over the shot's first few frames) and detects shot changes with a cheap histogram
signature of a thumbnail.

Arrays: frames and photos are ``(H, W, 3)`` uint8 RGB. Lab values are float, L in 0..100 and
a, b in about -128..127 (OpenCV's float conversion, D65 white, sRGB gamma).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

#: Statistics are measured on a thumbnail of at most this side: plenty for six numbers, and cheap.
STATS_SIDE = 256
#: Fraction of each channel's values clipped at either end before measuring (specular highlights,
#: black borders, a logo), so a few extreme pixels do not set the grade.
TRIM = 0.01
#: Smallest source standard deviation per Lab channel. A channel flatter than this (a grey wall,
#: a fade to black) holds mostly noise, which a plain std ratio would blow up.
STD_FLOOR = np.array([4.0, 2.0, 2.0])
#: Limits on the std ratio (target / source): beyond about 2x a grade bands and amplifies noise,
#: below about 0.5x it flattens the picture to mud.
RATIO_RANGE = (0.5, 2.0)
#: Shot signature: joint RGB histogram of a thumbnail of this size, with this many bins per axis.
SIGNATURE_SIZE = (128, 72)
SIGNATURE_BINS = 8
#: Signature distances that start a new shot, frame to frame and from the shot's first frame.
#: Measured on the sample clips (640x360): within a shot, consecutive frames differ by 0.03
#: (median) and at most 0.17 (a bus crossing the frame); the five cuts in bikes.mp4 measure 0.26
#: to 0.66 and cuts between different clips 0.44 to 0.86. Steady shots stay within 0.22 of their
#: first frame.
CUT_THRESHOLD = 0.22
DRIFT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ColorStats:
    """Per-channel Lab statistics: ``mean`` and ``std``, each ``(3,)`` float64 (L, a, b)."""

    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def pool(stats: Sequence["ColorStats"]) -> "ColorStats":
        """Statistics of several equally weighted measurements taken together (pooled mean; the
        variance is the mean of ``std**2 + mean**2`` minus the pooled mean squared)."""
        if not stats:
            raise ValueError("pool needs at least one measurement")
        means = np.stack([s.mean for s in stats])
        second = np.stack([s.std ** 2 + s.mean ** 2 for s in stats])
        mean = means.mean(axis=0)
        return ColorStats(mean, np.sqrt(np.maximum(second.mean(axis=0) - mean ** 2, 0.0)))


def check_rgb(rgb: np.ndarray, name: str = "frame") -> None:
    """Raise ``ValueError`` unless ``rgb`` is a non-empty ``(H, W, 3)`` uint8 array."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got "
                         f"{getattr(rgb, 'shape', None)} {getattr(rgb, 'dtype', type(rgb).__name__)}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"{name} is empty: {rgb.shape}")


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32 Lab of ``(H, W, 3)`` uint8 RGB (float conversion: no 8-bit Lab
    rounding, which costs up to 27 RGB levels on saturated colours)."""
    return cv2.cvtColor(rgb.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2Lab)


def thumbnail(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` shrunk by area averaging so that its longer side is at most ``max_side``."""
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def color_stats(rgb: np.ndarray, trim: float = TRIM, max_side: int = STATS_SIDE) -> ColorStats:
    """Lab mean and standard deviation of ``rgb`` (``(H, W, 3)`` uint8), measured on a thumbnail
    of at most ``max_side``, with the ``trim`` fraction of values at either end of each channel
    clipped to the trim quantiles (0 <= trim < 0.5; 0 measures plain statistics)."""
    check_rgb(rgb, "image")
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim must be in [0, 0.5), got {trim}")
    lab = to_lab(thumbnail(rgb, max_side)).reshape(-1, 3).astype(np.float64)
    if trim > 0:
        lo, hi = np.quantile(lab, [trim, 1.0 - trim], axis=0)
        # Clip rather than drop: every channel keeps all pixels (a winsorised mean/std), so the
        # three channels stay measured on the same pixels and a flat channel stays flat.
        lab = np.clip(lab, lo, hi)
    return ColorStats(lab.mean(axis=0), lab.std(axis=0))


def grade_transform(source: ColorStats, target: ColorStats, strength: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """The per-channel Lab affine map ``lab * scale + shift`` (``(3,)`` float32 each) that moves
    ``source`` statistics to ``target``'s, with the std ratio clamped (``STD_FLOOR``,
    ``RATIO_RANGE``). ``strength`` in 0..1 interpolates the map from identity to the full grade."""
    if not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must be in 0..1, got {strength}")
    ratio = np.clip(target.std / np.maximum(source.std, STD_FLOOR), *RATIO_RANGE)
    scale = 1.0 + strength * (ratio - 1.0)
    # The source mean maps to the (interpolated) target mean: shift = mean' - scale * source.mean.
    shift = source.mean + strength * (target.mean - source.mean) - scale * source.mean
    return scale.astype(np.float32), shift.astype(np.float32)


def lab8_lut(scale: np.ndarray, shift: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``lab * scale + shift`` on OpenCV's 8-bit Lab encoding (``L * 255/100``, ``a + 128``,
    ``b + 128``): a ``(1, 256, 3)`` uint8 table for ``cv2.LUT`` (rounded, saturated), and per
    channel the lowest and highest codes (``(3,)`` int) whose result fits in 0..255 unsaturated.
    ``scale`` must be positive, so each such range is one interval."""
    code = np.arange(256, dtype=np.float64)[:, None]
    decoded = np.where([True, False, False], code * (100.0 / 255.0), code - 128.0)
    graded = decoded * scale.astype(np.float64) + shift.astype(np.float64)
    encoded = np.rint(np.where([True, False, False], graded * (255.0 / 100.0), graded + 128.0))
    fits = (encoded >= 0) & (encoded <= 255)
    low = np.where(fits.any(axis=0), fits.argmax(axis=0), 256)
    high = np.where(fits.any(axis=0), 255 - fits[::-1].argmax(axis=0), -1)
    return np.clip(encoded, 0, 255).astype(np.uint8)[None], low, high


def apply_transform(frame: np.ndarray, scale: np.ndarray, shift: np.ndarray, precise: bool = False) -> np.ndarray:
    """``frame`` (``(H, W, 3)`` uint8 RGB) with ``lab * scale + shift`` applied in Lab; uint8 RGB
    out, out-of-gamut colours clipped per RGB channel.

    ``precise`` converts to float Lab and back (exact to a level). The default goes through
    OpenCV's 8-bit Lab and a per-channel table, faster (640x360, 2 busy cores here: 2.8 ms
    against 4.5 ms, with 13% of the pixels redone by a hard grade; about 3x without any);
    pixels whose graded Lab leaves the 8-bit range (a highlight pushed past L = 100) are redone
    the precise way, since 8-bit Lab would clip L alone and turn them into saturated colour
    instead of white. What remains is 8-bit Lab rounding: measured 1 level on average against
    ``precise`` on real footage (see tests)."""
    if np.all(scale == 1) and np.all(shift == 0):
        return frame.copy()  # strength 0: no round trip through Lab at all
    if precise:
        return _apply_float(frame, scale, shift)
    lut, low, high = lab8_lut(scale, shift)
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2Lab)
    out = cv2.cvtColor(cv2.LUT(lab, lut), cv2.COLOR_Lab2RGB)
    inside = cv2.inRange(lab, tuple(int(v) for v in low), tuple(int(v) for v in high))
    if cv2.countNonZero(inside) < inside.size:
        overflow = np.flatnonzero(inside.ravel() == 0)
        pixels = frame.reshape(-1, 3)[overflow][None]  # a 1 x n image
        out.reshape(-1, 3)[overflow] = _apply_float(pixels, scale, shift).reshape(-1, 3)
    return out


def _apply_float(rgb: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> np.ndarray:
    matrix = np.zeros((3, 4), np.float32)
    matrix[[0, 1, 2], [0, 1, 2]] = scale
    matrix[:, 3] = shift
    lab = cv2.transform(to_lab(rgb), matrix)
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    # Negatives to 0 first (convertScaleAbs takes absolute values; it then rounds and saturates
    # at 255). np.maximum, not cv2.max: OpenCV would read a tiny 1 x n array as a scalar.
    return cv2.convertScaleAbs(np.maximum(out, 0.0, out=out), alpha=255.0)


def grade(frame: np.ndarray, source: ColorStats, target: ColorStats, strength: float = 1.0,
          precise: bool = False) -> np.ndarray:
    """Reinhard colour transfer: ``frame`` (``(H, W, 3)`` uint8 RGB) whose Lab statistics were
    ``source``, moved toward ``target`` by ``strength`` (0..1). Returns ``(H, W, 3)`` uint8 RGB.
    ``precise``: see ``apply_transform``."""
    check_rgb(frame)
    scale, shift = grade_transform(source, target, strength)
    return apply_transform(frame, scale, shift, precise)


def shot_signature(rgb: np.ndarray) -> np.ndarray:
    """A cheap fingerprint of a frame's content: the joint RGB histogram (``SIGNATURE_BINS``
    per axis) of a ``SIGNATURE_SIZE`` thumbnail, ``(bins**3,)`` float32 summing to 1."""
    small = cv2.resize(rgb, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    bins = SIGNATURE_BINS
    hist = cv2.calcHist([small], [0, 1, 2], None, [bins] * 3, [0, 256] * 3).ravel()
    return hist / max(float(hist.sum()), 1.0)


def signature_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance between two signatures: 0 for the same colours, 1 for disjoint."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


class PhotoLook:
    """Grade a video toward a reference photo's colours, steady within each shot.

    - target_rgb: the reference, ``(H, W, 3)`` uint8 RGB (any size).
    - strength: 0..1, from untouched to the full grade.
    - cut_threshold: signature distance between consecutive frames that starts a new shot.
    - drift_threshold: distance from the shot's first frame that also starts one (a slow pan or
      dissolve into different content, which no single frame-to-frame step reveals).
    - settle_frames: the source statistics are pooled over this many first frames of a shot
      (so one odd frame right after a cut does not set the whole shot's grade), then frozen; the
      grade may shift slightly over those first frames, never after.
    - precise: float Lab conversion instead of the faster 8-bit one (see ``apply_transform``).

    ``apply(frame)`` takes frames in display order and returns each graded, same shape, uint8.
    ``shot_starts`` lists the frame indices where shots began; ``source`` is the current shot's
    (frozen) statistics.
    """

    def __init__(self, target_rgb: np.ndarray, strength: float = 1.0, cut_threshold: float = CUT_THRESHOLD,
                 drift_threshold: float = DRIFT_THRESHOLD, settle_frames: int = 3, precise: bool = False):
        check_rgb(target_rgb, "target")
        if not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be in 0..1, got {strength}")
        if not 0.0 < cut_threshold <= drift_threshold <= 1.0:
            raise ValueError("need 0 < cut_threshold <= drift_threshold <= 1")
        if settle_frames < 1:
            raise ValueError(f"settle_frames must be at least 1, got {settle_frames}")
        self.target = color_stats(target_rgb)
        self.strength = float(strength)
        self.cut_threshold = float(cut_threshold)
        self.drift_threshold = float(drift_threshold)
        self.settle_frames = int(settle_frames)
        self.precise = bool(precise)
        self.shot_starts: List[int] = []
        self.source: Optional[ColorStats] = None
        self._frame_index = 0
        self._previous: Optional[np.ndarray] = None  # signature of the last frame
        self._reference: Optional[np.ndarray] = None  # signature of the shot's first frame
        self._samples: List[ColorStats] = []
        self._transform: Tuple[np.ndarray, np.ndarray] = (np.ones(3, np.float32), np.zeros(3, np.float32))

    def reset(self) -> None:
        """Forget the current shot (e.g. after a seek): the next frame starts a new one."""
        self._previous = self._reference = None

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The graded ``frame`` (``(H, W, 3)`` uint8 RGB in, same out)."""
        check_rgb(frame)
        signature = shot_signature(frame)
        if self._is_new_shot(signature):
            self.shot_starts.append(self._frame_index)
            self._reference = signature
            self._samples = []
        if len(self._samples) < self.settle_frames:
            self._samples.append(color_stats(frame))
            self.source = ColorStats.pool(self._samples)
            self._transform = grade_transform(self.source, self.target, self.strength)
        self._previous = signature
        self._frame_index += 1
        return apply_transform(frame, *self._transform, precise=self.precise)

    def _is_new_shot(self, signature: np.ndarray) -> bool:
        if self._previous is None or self._reference is None:
            return True
        return (signature_distance(self._previous, signature) > self.cut_threshold
                or signature_distance(self._reference, signature) > self.drift_threshold)
