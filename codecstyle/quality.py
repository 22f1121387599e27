"""Quality metrics shared by the benchmark and the tests: temporal warping error, PSNR, sharpness.

Pure functions on numpy arrays; no I/O. Conventions used throughout:

* Images are ``(H, W, 3)`` uint8 RGB unless stated otherwise; metric values use the 0..1 scale.
* A flow field is ``(H, W, 2)`` float32 in pixels, channel 0 = dx, channel 1 = dy, defined on the
  grid of the frame it starts from. ``flow_ab = dis_flow(a, b)`` means ``a[y, x] ~ b[y+dy, x+dx]``,
  so ``warp(b, flow_ab) ~ a``: backward warping pulls the other frame onto this frame's grid.
* To bring frame t-1 onto frame t we therefore need the flow *from t to t-1*.
"""

from __future__ import annotations

from typing import Iterable, List, Optional

import cv2
import numpy as np

__all__ = ["dis_flow", "warp", "occlusion_mask", "WarpingError", "warping_error", "psnr",
           "sharpness", "QualityAccumulator"]

# Thresholds of the occlusion test (Ruder et al. 2016, reused by Lai et al. 2018).
FB_REL = 0.01
FB_ABS = 0.5
MB_REL = 0.01
MB_ABS = 0.002


def _check_rgb(name: str, a) -> None:
    if not isinstance(a, np.ndarray) or a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        desc = (f"shape {a.shape} dtype {a.dtype}" if isinstance(a, np.ndarray)
                else f"type {type(a).__name__}")
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {desc}")


def _check_flow(name: str, f, shape: Optional[tuple] = None) -> None:
    if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 2:
        desc = f"shape {f.shape}" if isinstance(f, np.ndarray) else f"type {type(f).__name__}"
        raise ValueError(f"{name} must be an (H, W, 2) flow array, got {desc}")
    if shape is not None and f.shape[:2] != shape:
        raise ValueError(f"{name} is {f.shape[:2]} but must match the image size {shape}")


def _same_shape(what: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: the two images differ in shape: {a.shape} vs {b.shape}")


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _grid(h: int, w: int):
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def _dis():
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)


#: DIS refuses images under 12 px on both sides: tinier ones are edge-padded to this.
_DIS_MIN_SIDE = 16


def _calc(dis, a_gray: np.ndarray, b_gray: np.ndarray) -> np.ndarray:
    """``dis.calc(a, b)`` for any size: ``(H, W, 2)`` float32 flow on ``a``'s grid."""
    h, w = a_gray.shape
    grow_h, grow_w = max(0, _DIS_MIN_SIDE - h), max(0, _DIS_MIN_SIDE - w)
    if not (grow_h or grow_w):
        return dis.calc(a_gray, b_gray, None)
    a = cv2.copyMakeBorder(a_gray, 0, grow_h, 0, grow_w, cv2.BORDER_REPLICATE)
    b = cv2.copyMakeBorder(b_gray, 0, grow_h, 0, grow_w, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(dis.calc(a, b, None)[:h, :w])


def dis_flow(a_rgb: np.ndarray, b_rgb: np.ndarray) -> np.ndarray:
    """Dense optical flow from ``a`` to ``b``: OpenCV DIS, preset MEDIUM, on grayscale.

    a_rgb, b_rgb: (H, W, 3) uint8 RGB, same shape.
    Returns (H, W, 2) float32 in pixels on a's grid: ``flow[y, x] = (dx, dy)`` such that
    ``a[y, x] ~ b[y + dy, x + dx]``. Hence ``warp(b_rgb, flow) ~ a_rgb``.
    """
    _check_rgb("a_rgb", a_rgb)
    _check_rgb("b_rgb", b_rgb)
    _same_shape("dis_flow", a_rgb, b_rgb)
    return _calc(_dis(), _gray(a_rgb), _gray(b_rgb))


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: ``out[y, x] = image[y + flow[y, x, 1], x + flow[y, x, 0]]``.

    image: (H, W) or (H, W, C), uint8 or float32, any range. flow: (H, W, 2) float32 pixels.
    Bilinear sampling; positions outside the frame take the nearest border pixel (replicate),
    so callers that care must mask them (``occlusion_mask`` does). Returns the dtype and shape
    of ``image``.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f"image must be an (H, W) or (H, W, C) array, got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    _check_flow("flow", flow, image.shape[:2])
    h, w = image.shape[:2]
    gx, gy = _grid(h, w)
    map_x = gx + flow[..., 0].astype(np.float32)
    map_y = gy + flow[..., 1].astype(np.float32)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # remap drops a trailing channel axis of length 1; give the caller back what it passed.
    return out.reshape(image.shape)


def occlusion_mask(fwd: np.ndarray, bwd: np.ndarray, *, out_of_frame: bool = True) -> np.ndarray:
    """Valid (non-occluded) pixels of one frame, from a forward-backward flow pair.

    fwd: (H, W, 2) flow *out of* this frame into the other one, on this frame's grid
         (for warping error at t: flow t -> t-1, what ``warp`` needs).
    bwd: (H, W, 2) flow from the other frame back into this one, on the other frame's grid.
    Returns (H, W) bool, True where the pixel is VALID.

    Rules of Ruder et al. 2016 as used by Lai et al. 2018 (their detect_occlusion), with
    w = fwd and w~ = bwd sampled at x + w(x) (``warp(bwd, fwd)``). Squared magnitudes throughout.
    A pixel is occluded where
      * forward-backward check: |w + w~|^2 > 0.01 (|w|^2 + |w~|^2) + 0.5, or
      * motion boundary:        |grad w|^2  > 0.01 |w|^2 + 0.002,
        with grad w the forward differences of both components along x and y (zero at the last
        column/row), i.e. the gradient of the flow defined on this frame's grid, as Lai does.
    Addition (``out_of_frame=True``): a pixel whose x + w(x) lies outside the frame is also
    occluded; its content is not in the other frame, and replicate-border sampling would
    otherwise compare it against an unrelated edge pixel. Pass False for the bare paper rules.
    """
    _check_flow("fwd", fwd)
    _check_flow("bwd", bwd, fwd.shape[:2])
    w = fwd.astype(np.float32)
    w_t = warp(bwd.astype(np.float32), w)
    w_mag = (w ** 2).sum(-1)
    fb = ((w + w_t) ** 2).sum(-1) > FB_REL * (w_mag + (w_t ** 2).sum(-1)) + FB_ABS

    grad = np.zeros(w.shape[:2], np.float32)
    dx = np.diff(w, axis=1)
    dy = np.diff(w, axis=0)
    grad[:, :-1] += (dx ** 2).sum(-1)
    grad[:-1, :] += (dy ** 2).sum(-1)
    mb = grad > MB_REL * w_mag + MB_ABS

    occluded = fb | mb
    if out_of_frame:
        h, wd = w.shape[:2]
        gx, gy = _grid(h, wd)
        x, y = gx + w[..., 0], gy + w[..., 1]
        # Bilinear sampling up to the last pixel centre is still inside; beyond it is not.
        occluded |= (x < 0) | (x > wd - 1) | (y < 0) | (y > h - 1)
    return ~occluded


class WarpingError:
    """Streaming temporal warping error (Lai et al. 2018).

    Call ``feed(source_rgb, output_rgb)`` once per frame in display order. For every t >= 1,
    output_{t-1} is warped onto frame t with DIS flow t -> t-1 computed on the SOURCE frames
    (so the metric judges the output against the true motion, not against itself), and
    e_t = mean over valid pixels and the 3 channels of (output_t - warped output_{t-1})^2, with
    RGB on the 0..1 scale. Validity is ``occlusion_mask(flow t->t-1, flow t-1->t)``.

    source_rgb: (h, w, 3) uint8; resized to the output size with INTER_AREA if it differs.
    output_rgb: (H, W, 3) uint8, the same size on every call.
    ``per_frame``: list of e_t (t = 1, 2, ...); nan for a frame with no valid pixel.
    ``value``: mean of the finite e_t, nan before two frames. A steady output scores ~0; a global
    flicker of +-d per frame scores ~(2d)^2. Memory: only the previous frame pair is kept.
    """

    def __init__(self) -> None:
        self.per_frame: list[float] = []
        self._dis = _dis()
        self._prev_gray: Optional[np.ndarray] = None
        self._prev_out: Optional[np.ndarray] = None

    def feed(self, source_rgb: np.ndarray, output_rgb: np.ndarray) -> None:
        _check_rgb("source_rgb", source_rgb)
        _check_rgb("output_rgb", output_rgb)
        if self._prev_out is not None and output_rgb.shape != self._prev_out.shape:
            raise ValueError(f"WarpingError: output size changed from {self._prev_out.shape} "
                             f"to {output_rgb.shape}")
        h, w = output_rgb.shape[:2]
        if source_rgb.shape[:2] != (h, w):
            source_rgb = cv2.resize(source_rgb, (w, h), interpolation=cv2.INTER_AREA)
        gray = _gray(source_rgb)
        out = output_rgb.astype(np.float32) / 255.0
        if self._prev_out is not None:
            back = _calc(self._dis, gray, self._prev_gray)  # t -> t-1: pulls t-1 onto t
            fwd = _calc(self._dis, self._prev_gray, gray)   # t-1 -> t: for the FB check
            valid = occlusion_mask(back, fwd)
            n = int(valid.sum())
            if n == 0:
                self.per_frame.append(float("nan"))
            else:
                diff = out - warp(self._prev_out, back)
                self.per_frame.append(float((diff[valid] ** 2).mean(dtype=np.float64)))
        self._prev_gray, self._prev_out = gray, out

    @property
    def value(self) -> float:
        vals = [v for v in self.per_frame if np.isfinite(v)]
        return float(np.mean(vals)) if vals else float("nan")


def warping_error(sources: Iterable[np.ndarray], outputs: Iterable[np.ndarray]) -> float:
    """Warping error of a whole sequence; see ``WarpingError``. Sequences must be equally long."""
    acc = WarpingError()
    sentinel = object()
    src_it, out_it = iter(sources), iter(outputs)
    while True:
        s, o = next(src_it, sentinel), next(out_it, sentinel)
        if s is sentinel and o is sentinel:
            return acc.value
        if s is sentinel or o is sentinel:
            raise ValueError("warping_error: sources and outputs differ in length")
        acc.feed(s, o)


def _mse(a: np.ndarray, b: np.ndarray, scale: int) -> float:
    _check_rgb("a", a)
    _check_rgb("b", b)
    _same_shape("psnr", a, b)
    if int(scale) != scale or scale < 1:
        raise ValueError(f"psnr: scale must be a positive integer, got {scale!r}")
    # float64: PSNR of near-identical frames is a difference of close numbers.
    fa, fb = a.astype(np.float64) / 255.0, b.astype(np.float64) / 255.0
    if scale > 1:
        # Resize in float so the downscale itself adds no quantisation error.
        size = (max(1, a.shape[1] // scale), max(1, a.shape[0] // scale))
        fa = cv2.resize(fa, size, interpolation=cv2.INTER_AREA)
        fb = cv2.resize(fb, size, interpolation=cv2.INTER_AREA)
    return float(((fa - fb) ** 2).mean())


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0.0 else float(-10.0 * np.log10(mse))


def psnr(a: np.ndarray, b: np.ndarray, scale: int = 1) -> float:
    """PSNR in dB (peak 1.0 on the 0..1 scale, i.e. 255 for uint8) between two images.

    a, b: (H, W, 3) uint8 RGB, same shape. scale > 1 first downscales both to
    (W // scale, H // scale) with INTER_AREA; scale=8 is the '1/8-scale fidelity', which keeps
    structure and colour but averages away texture phase. Identical images give ``inf``
    (no cap: any finite cap would be exceeded by genuine near-identical frames).
    """
    return _psnr_from_mse(_mse(a, b, scale))


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grayscale image on the 0..1 scale.

    rgb: (H, W, 3) uint8. Returns a float >= 0; 0 for a flat image. Only ratios between images
    of the same size are meaningful.
    """
    _check_rgb("rgb", rgb)
    gray = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var(dtype=np.float64))


#: Stroke statistics: patch size (px) and orientation bins.
STROKE_PATCH = 32
STROKE_BINS = 8


def stroke_histograms(rgb: np.ndarray, patch: int = STROKE_PATCH, bins: int = STROKE_BINS):
    """Per ``patch`` x ``patch`` block of an ``(H, W, 3)`` uint8 RGB frame: the histogram of its
    luma gradient orientations (``bins`` over 0..180 degrees, weighted by gradient magnitude,
    summing to 1) and its gradient energy (mean magnitude, levels per pixel). Returns
    ``(hist (Py, Px, bins) float32, energy (Py, Px) float32)``. Orientation statistics ignore
    where exactly a stroke lies, so a steady output and the flickering per-frame output compare
    fairly; what they see is which way strokes run and how they are distributed."""
    _check_rgb("rgb", rgb)
    luma = _gray(rgb).astype(np.float32)
    gx = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    index = np.minimum((angle * (bins / np.pi)).astype(np.int64), bins - 1)
    py, px = luma.shape[0] // patch, luma.shape[1] // patch
    mag, index = mag[:py * patch, :px * patch], index[:py * patch, :px * patch]
    cell = (np.arange(py * patch)[:, None] // patch) * px + (np.arange(px * patch)[None, :] // patch)
    flat = (cell * bins + index).ravel()
    hist = np.bincount(flat, weights=mag.ravel(), minlength=py * px * bins).reshape(py, px, bins)
    total = hist.sum(axis=2)
    energy = (total / (patch * patch)).astype(np.float32)
    hist = hist / np.maximum(total, 1e-9)[..., None]
    return hist.astype(np.float32), energy


def stroke_distance(rgb: np.ndarray, reference_rgb: np.ndarray) -> Optional[float]:
    """Melting and mush: how differently strokes run in ``rgb`` than in ``reference_rgb`` (frame
    mode's output for the same frame): half the L1 distance between the patches' orientation
    histograms, 0 (the same) .. 1 (disjoint), averaged over the patches where the reference has
    texture, with the gap in gradient energy added as a relative difference. Stretched, sheared
    or swirled strokes change the orientations; speckle changes both; a small shift changes
    neither. None where the reference has no texture."""
    _same_shape("stroke_distance", rgb, reference_rgb)
    hist, energy = stroke_histograms(rgb)
    ref_hist, ref_energy = stroke_histograms(reference_rgb)
    textured = ref_energy > 2.0
    if not textured.any():
        return None
    orient = 0.5 * np.abs(hist - ref_hist).sum(axis=2)[textured]
    level = np.abs(energy - ref_energy)[textured] / (energy + ref_energy)[textured]
    return float(np.mean(orient) + np.mean(level))


#: The block grid codec-mode patchwork follows: H.264/MPEG block and sub-block edges.
SEAM_GRID = 8


def grid_seams(rgb: np.ndarray, grid: int = SEAM_GRID) -> Optional[float]:
    """Patchwork: the mean luma step across the ``grid``-pixel block lines over the mean step
    everywhere else, of an ``(H, W, 3)`` uint8 RGB frame. Near 1 where texture ignores the grid
    (a source frame: about 1.05-1.1, its own compression blocks); clearly above where squares of
    carried texture meet at block edges. None for a frame under two grid cells or without any
    texture."""
    _check_rgb("rgb", rgb)
    luma = _gray(rgb).astype(np.float32)
    h, w = luma.shape
    if h < 2 * grid or w < 2 * grid:
        return None
    dx = np.abs(np.diff(luma, axis=1))  # dx[:, i] is the step between columns i and i + 1
    dy = np.abs(np.diff(luma, axis=0))
    on_x = (np.arange(1, w) % grid) == 0  # steps that cross a vertical block line
    on_y = (np.arange(1, h) % grid) == 0
    across = dx[:, on_x].sum() + dy[on_y, :].sum()
    n_across = dx[:, on_x].size + dy[on_y, :].size
    inside = dx[:, ~on_x].sum() + dy[~on_y, :].sum()
    n_inside = dx[:, ~on_x].size + dy[~on_y, :].size
    if inside <= 0:
        return None
    return float((across / n_across) / (inside / n_inside))


class QualityAccumulator:
    """All bench metrics in one streaming pass.

    ``feed(source_rgb, output_rgb, reference_rgb=None)`` per frame in display order; reference is
    the ``frame``-mode output for the same frame, (H, W, 3) uint8 like the output. ``summary()``:
      * warping_error: ``WarpingError.value`` of the output.
      * psnr, psnr_eighth: PSNR of the MSE averaged over the frames that had a reference, at full
        and 1/8 scale. Averaging MSE rather than dB keeps one exact frame (an I-frame that ran
        the full network) from making the mean infinite. None without references.
      * sharpness_ratio: mean sharpness of the output over mean sharpness of the reference, on
        the frames that had one. Near 1 means texture survived. None without references.
      * strokes: mean ``stroke_distance`` of the output to the reference (melting and mush).
        Without references (frame mode itself): the mean between its own consecutive frames,
        the scale a steady output is measured against (about 0.07 on a real clip).
      * seams: mean ``grid_seams`` of the output (patchwork; frame mode's is the reference)
        and source_seams: the same of the source.
      * frames: number of frames fed.
    """

    def __init__(self) -> None:
        self._warp = WarpingError()
        self._frames = 0
        self._refs = 0
        self._mse = 0.0
        self._mse8 = 0.0
        self._sharp_out = 0.0
        self._sharp_ref = 0.0
        self._strokes: List[float] = []
        self._previous: Optional[np.ndarray] = None
        self._seams: List[float] = []
        self._source_seams: List[float] = []

    def feed(self, source_rgb: np.ndarray, output_rgb: np.ndarray,
             reference_rgb: Optional[np.ndarray] = None) -> None:
        self._warp.feed(source_rgb, output_rgb)
        self._frames += 1
        for value, into in ((grid_seams(output_rgb), self._seams), (grid_seams(source_rgb), self._source_seams)):
            if value is not None:
                into.append(value)
        if reference_rgb is not None:
            self._mse += _mse(output_rgb, reference_rgb, 1)
            self._mse8 += _mse(output_rgb, reference_rgb, 8)
            self._sharp_out += sharpness(output_rgb)
            self._sharp_ref += sharpness(reference_rgb)
            self._refs += 1
            strokes = stroke_distance(output_rgb, reference_rgb)
        else:
            strokes = stroke_distance(output_rgb, self._previous) if self._previous is not None else None
            self._previous = output_rgb
        if strokes is not None:
            self._strokes.append(strokes)

    def summary(self) -> dict:
        n = self._refs
        return {
            "frames": self._frames,
            "warping_error": self._warp.value,
            "psnr": _psnr_from_mse(self._mse / n) if n else None,
            "psnr_eighth": _psnr_from_mse(self._mse8 / n) if n else None,
            "sharpness_ratio": (self._sharp_out / self._sharp_ref
                                if n and self._sharp_ref > 0 else None),
            "strokes": float(np.mean(self._strokes)) if self._strokes else None,
            "seams": float(np.mean(self._seams)) if self._seams else None,
            "source_seams": float(np.mean(self._source_seams)) if self._source_seams else None,
        }
