"""Tests for codecstyle.quality: each metric measures what it claims, with the stated conventions.

Frames are small (120x160) synthetic textures with known motion, so the answers are known.
"""
import math

import cv2
import numpy as np
import pytest

from codecstyle.quality import (QualityAccumulator, WarpingError, dis_flow, occlusion_mask, psnr,
                                sharpness, warp, warping_error)

H, W = 120, 160
DY, DX = 2, 3  # content moves this far (down, right) per frame in the translation clips


def texture(seed=0, sigma=2.0, h=H, w=W):
    """Smooth random (h, w, 3) uint8 texture in 40..215, so +-13 offsets never clip."""
    noise = np.random.default_rng(seed).random((h, w, 3))
    # Blur in the Fourier domain: periodic, so np.roll leaves no seam.
    fy, fx = np.fft.fftfreq(h)[:, None, None], np.fft.fftfreq(w)[None, :, None]
    gain = np.exp(-2 * (np.pi * sigma) ** 2 * (fy ** 2 + fx ** 2))
    t = np.fft.ifft2(np.fft.fft2(noise, axes=(0, 1)) * gain, axes=(0, 1)).real
    t = (t - t.min()) / (t.max() - t.min())
    return (40 + 175 * t).astype(np.uint8)


def translating(n=6, seed=0):
    """frame k = texture rolled by k*(DY, DX): frame[k][y, x] = frame[k-1][y-DY, x-DX]."""
    base = texture(seed)
    return [np.roll(base, (k * DY, k * DX), axis=(0, 1)) for k in range(n)]


def offset(img, d):
    return np.clip(img.astype(np.int16) + d, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- smoke and bad input

def test_smoke_shapes_and_dtypes():
    a, b = translating(2)
    flow = dis_flow(a, b)
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    for img in (a, a.astype(np.float32), a[..., 0], a[..., :1]):
        out = warp(img, flow)
        assert out.shape == img.shape and out.dtype == img.dtype
    assert occlusion_mask(flow, dis_flow(b, a)).shape == (H, W)
    assert occlusion_mask(flow, flow).dtype == bool
    assert isinstance(psnr(a, b), float) and isinstance(sharpness(a), float)


def test_bad_input_raises_clear_value_errors():
    a = texture()
    with pytest.raises(ValueError, match="differ in shape"):
        dis_flow(a, a[:-1])
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:, :-1])
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        psnr(a.astype(np.float32), a)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        sharpness(a[..., 0])
    with pytest.raises(ValueError, match="must match the image size"):
        warp(a, np.zeros((H - 1, W, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 2\) flow"):
        occlusion_mask(np.zeros((H, W, 3), np.float32), np.zeros((H, W, 2), np.float32))
    with pytest.raises(ValueError, match="positive integer"):
        psnr(a, a, scale=0)
    with pytest.raises(ValueError, match="differ in length"):
        warping_error([a, a], [a])
    we = WarpingError()
    we.feed(a, a)
    with pytest.raises(ValueError, match="output size changed"):
        we.feed(a, a[:-8])


# ---------------------------------------------------------------- flow direction conventions

def test_warp_constant_flow_is_a_roll_in_the_interior():
    img = texture(3)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = DX, DY
    # out[y, x] = img[y + DY, x + DX]  <=>  np.roll by (-DY, -DX)
    expected = np.roll(img, (-DY, -DX), axis=(0, 1))
    inner = (slice(0, H - DY), slice(0, W - DX))
    np.testing.assert_array_equal(warp(img, flow)[inner], expected[inner])
    np.testing.assert_allclose(warp(img.astype(np.float32), flow)[inner], expected[inner])
    # Sub-pixel: bilinear, so half a pixel right is the mean of the two neighbours.
    half = np.zeros((H, W, 2), np.float32)
    half[..., 0] = 0.5
    f = img.astype(np.float32)
    np.testing.assert_allclose(warp(f, half)[:, :-1], (f[:, :-1] + f[:, 1:]) / 2, atol=1e-3)


def test_dis_flow_direction_and_warp_roundtrip():
    a, b = translating(2)  # b[y, x] = a[y - DY, x - DX]  =>  a[y, x] = b[y + DY, x + DX]
    flow = dis_flow(a, b)
    inner = flow[10:-10, 10:-10].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [DX, DY], atol=0.05)
    back = warp(b.astype(np.float32), flow)
    err = np.abs(back - a)[10:-10, 10:-10].mean()
    assert err < 1.0, err  # mean abs error in 0..255 units


# ---------------------------------------------------------------- occlusion mask rules

def const_flow(dx, dy):
    f = np.zeros((H, W, 2), np.float32)
    f[..., 0], f[..., 1] = dx, dy
    return f


def test_occlusion_consistent_pair_is_valid_except_out_of_frame():
    m = occlusion_mask(const_flow(DX, DY), const_flow(-DX, -DY))
    assert m[: H - DY, : W - DX].all()
    assert not m[H - DY:].any() and not m[:, W - DX:].any()  # would sample outside the frame
    assert occlusion_mask(const_flow(DX, DY), const_flow(-DX, -DY), out_of_frame=False).all()
    assert occlusion_mask(const_flow(0, 0), const_flow(0, 0)).all()


def test_occlusion_forward_backward_threshold_is_exact():
    zero = const_flow(0, 0)
    # |w + w~|^2 = 0.49 <= 0.01 * 0.49 + 0.5 -> valid; 0.5184 > 0.01 * 0.5184 + 0.5 -> occluded
    assert occlusion_mask(const_flow(0, 0.7), zero, out_of_frame=False).all()
    assert not occlusion_mask(const_flow(0, 0.72), zero, out_of_frame=False).any()
    # The relative term matters for large motion: 1.45^2 = 2.10 <= 0.01 (100 + 73.1) + 0.5 = 2.23,
    # 1.6^2 = 2.56 > 0.01 (100 + 70.6) + 0.5 = 2.21.
    assert occlusion_mask(const_flow(10, 0), const_flow(-8.55, 0), out_of_frame=False).all()
    assert not occlusion_mask(const_flow(10, 0), const_flow(-8.4, 0), out_of_frame=False).any()
    # Inconsistent pair: forward says 3 px, backward says nothing moved.
    assert not occlusion_mask(const_flow(DX, DY), zero, out_of_frame=False).any()


def test_occlusion_backward_flow_is_sampled_at_the_displaced_position():
    c = W // 2
    bwd = const_flow(-DX, 0)
    bwd[:, :c] = 0  # the other frame agrees with the motion only from column c on
    m = occlusion_mask(const_flow(DX, 0), bwd, out_of_frame=False)
    # Pixel x lands on x + DX in the other frame, so it passes from x = c - DX, not from x = c.
    assert not m[:, : c - DX].any() and m[:, c - DX:].all()


def test_occlusion_motion_boundary_threshold_is_exact():
    # |grad w|^2 > 0.01 |w|^2 + 0.002, forward differences: the boundary lands on the last
    # column before the step. Cases: (flow left of the step, step, flagged?)
    cases = [(0.0, 0.046, True), (0.0, 0.044, False),  # 0.00212 / 0.00194 vs 0.002
             (5.0, 0.51, True), (5.0, 0.49, False)]      # 0.2601 / 0.2401 vs 0.252
    for base, step, flagged in cases:
        fwd = const_flow(base, 0)
        fwd[:, W // 2:, 0] += step
        m = occlusion_mask(fwd, const_flow(-base, 0), out_of_frame=False)
        assert (not m[:, W // 2 - 1].any()) if flagged else m[:, W // 2 - 1].all(), (base, step)
        m[:, W // 2 - 1] = True
        assert m.all(), (base, step)
        # The same along y.
        fwd = const_flow(0, base)
        fwd[H // 2:, :, 1] += step
        m = occlusion_mask(fwd, const_flow(0, -base), out_of_frame=False)
        assert (not m[H // 2 - 1].any()) if flagged else m[H // 2 - 1].all(), (base, step)


def test_occlusion_with_dis_flags_disoccluded_background():
    bg, fg = texture(1), texture(2)
    a, b = bg.copy(), bg.copy()
    a[40:80, 50:90] = fg[:40, :40]
    b[40:80, 58:98] = fg[:40, :40]  # the square moves 8 px right, revealing x in [50, 58) in b
    m = occlusion_mask(dis_flow(b, a), dis_flow(a, b))  # mask on b's grid
    assert m[42:78, 50:58].mean() < 0.2
    assert m[45:75, 64:92].mean() > 0.9  # the square's interior
    assert m[:, :30].mean() > 0.9        # static background far away


# ---------------------------------------------------------------- warping error

@pytest.mark.parametrize("transform", [lambda f: f, lambda f: 255 - f[..., ::-1]],
                         ids=["identity", "invert-swap"])
def test_warping_error_steady_translation_is_near_zero(transform):
    frames = translating(6)
    outs = [np.ascontiguousarray(transform(f)) for f in frames]
    we = WarpingError()
    for s, o in zip(frames, outs):
        we.feed(s, o)
    assert len(we.per_frame) == 5
    assert we.value < 1e-4, we.value  # measured ~2e-6
    # The mask keeps the interior and drops the wrapped strip, whose content came from the
    # opposite edge and is not in the previous frame at the displaced position.
    m = occlusion_mask(dis_flow(frames[1], frames[0]), dis_flow(frames[0], frames[1]))
    assert m[8:-8, 8:-8].mean() > 0.95
    assert m[:DY].mean() < 0.1 and m[:, :DX].mean() < 0.1


def test_warping_error_measures_injected_flicker():
    d = 0.05
    q = round(d * 255)  # 13 levels: what survives uint8 quantisation
    frames = translating(6)
    outs = [offset(f, q if k % 2 else -q) for k, f in enumerate(frames)]
    value = warping_error(frames, outs)
    assert value == pytest.approx((2 * d) ** 2, rel=0.2)
    assert value == pytest.approx((2 * q / 255) ** 2, rel=0.02)  # measured 0.010397
    # A constant brightness shift is not flicker.
    assert warping_error(frames, [offset(f, q) for f in frames]) < 1e-4


def test_warping_error_resizes_source_to_output():
    big = [np.roll(texture(5, h=2 * H, w=2 * W), (2 * k * DY, 2 * k * DX), axis=(0, 1))
           for k in range(4)]
    small = [cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA) for f in big]
    assert warping_error(big, small) < 1e-4
    flicker = [offset(f, 13 if k % 2 else -13) for k, f in enumerate(small)]
    assert warping_error(big, flicker) == pytest.approx((26 / 255) ** 2, rel=0.05)


def test_warping_error_needs_two_frames():
    a = texture()
    assert math.isnan(warping_error([], []))
    assert math.isnan(warping_error([a], [a]))


# ---------------------------------------------------------------- psnr and sharpness

def test_psnr_known_values():
    a = texture(4)
    assert psnr(a, a) == float("inf")
    assert psnr(a, offset(a, 10)) == pytest.approx(20 * math.log10(255 / 10), abs=1e-6)
    # A global offset is structure/colour: it survives downscaling.
    assert psnr(a, offset(a, 10), scale=8) == pytest.approx(20 * math.log10(255 / 10), abs=1e-4)


def test_psnr_eighth_scale_ignores_checkerboard():
    a = np.full((H, W, 3), 128, np.uint8)
    checker = np.where((np.indices((H, W)).sum(0) % 2)[..., None] == 1, 10, -10)
    b = offset(a, checker)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / 10), abs=1e-6)
    assert psnr(a, b, scale=8) > 100  # averages to zero over each 8x8 block


def test_sharpness_drops_with_blur():
    a = texture(6, sigma=1.0)
    blurred = cv2.GaussianBlur(a, (0, 0), 2.0)
    assert sharpness(blurred) < 0.5 * sharpness(a)
    assert sharpness(np.full((H, W, 3), 90, np.uint8)) == 0.0


# ---------------------------------------------------------------- accumulator

def test_quality_accumulator_summary():
    frames = translating(4)
    acc = QualityAccumulator()
    for k, f in enumerate(frames):
        acc.feed(f, f, f if k % 2 else offset(f, 10))  # half the frames exact, half off by 10
    s = acc.summary()
    assert s["frames"] == 4 and s["warping_error"] < 1e-4
    # Mean MSE = (10/255)^2 / 2, so exact frames do not make the mean infinite.
    expected = -10 * math.log10((10 / 255) ** 2 / 2)
    assert s["psnr"] == pytest.approx(expected, abs=1e-4)
    assert s["psnr_eighth"] == pytest.approx(expected, abs=1e-3)
    assert s["sharpness_ratio"] == pytest.approx(1.0, rel=1e-3)

    no_ref = QualityAccumulator()
    for f in frames:
        no_ref.feed(f, f)
    s = no_ref.summary()
    assert s["psnr"] is None and s["psnr_eighth"] is None and s["sharpness_ratio"] is None


def test_grid_seams_moves_with_patchwork_only():
    """Texture carried in 8 px squares with slightly different offsets (codec mode's patchwork)
    raises the seam ratio; the same texture whole, shifted or blurred does not."""
    import cv2

    from clips import texture
    from codecstyle.quality import grid_seams

    rng = np.random.default_rng(1)
    noisy = np.clip(texture(128, 160, seed=3).astype(int) + rng.integers(-40, 40, (128, 160, 3)), 0, 255)
    base = noisy.astype(np.uint8)
    whole = grid_seams(base)
    assert 0.9 < whole < 1.1
    assert 0.9 < grid_seams(np.roll(base, (3, 5), axis=(0, 1))) < 1.1
    assert grid_seams(cv2.GaussianBlur(base, (0, 0), 2.0)) < 1.1
    patch = np.empty_like(base)
    padded = np.pad(base, ((4, 4), (4, 4), (0, 0)), mode="reflect")
    for y in range(0, 128, 8):
        for x in range(0, 160, 8):
            oy, ox = rng.integers(0, 9, 2)
            patch[y:y + 8, x:x + 8] = padded[y + oy:y + oy + 8, x + ox:x + ox + 8]
    assert grid_seams(patch) > whole + 0.2
    assert grid_seams(np.zeros((64, 64, 3), np.uint8)) is None  # no texture
    assert grid_seams(base[:12, :12]) is None  # under two grid cells


def _strokes_image(seed=0, h=192, w=256):
    """Short brush strokes in random directions on a mid-grey canvas, as a painted frame has."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.uint8)
    for _ in range(4000):
        x, y = rng.integers(0, w), rng.integers(0, h)
        angle = rng.uniform(0, np.pi)
        dx, dy = int(7 * np.cos(angle)), int(7 * np.sin(angle))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.line(img, (x - dx, y - dy), (x + dx, y + dy), color, 2)
    return img


def test_stroke_distance_sees_melting_not_shifts():
    """Strokes stretched, sheared or swirled (carried geometry gone wrong) or washed out raise the
    distance far above what a shift of the same painting or a new painting of it gives."""
    import cv2

    from codecstyle.quality import QualityAccumulator, stroke_distance

    a = _strokes_image(0)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def remap(mx, my):
        return cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    assert stroke_distance(a, a) == 0.0
    shifted = stroke_distance(np.roll(a, (3, 5), axis=(0, 1)), a)
    repainted = stroke_distance(_strokes_image(1), a)  # other strokes, same statistics
    stretched = stroke_distance(remap(xx / 3 + w / 3, yy), a)
    sheared = stroke_distance(remap(xx + 0.8 * (yy - h / 2), yy), a)
    swirled = stroke_distance(remap(xx + 12 * np.sin(yy / 8), yy + 12 * np.sin(xx / 8)), a)
    washed = stroke_distance(cv2.GaussianBlur(a, (0, 0), 2.0), a)
    assert shifted < 0.1 and repainted < 0.2
    for melted in (stretched, sheared, washed):
        assert melted > repainted + 0.1, (melted, repainted)
    assert swirled > repainted + 0.05  # swirls turn strokes less than a stretch does
    assert stroke_distance(np.full_like(a, 128), np.full_like(a, 128)) is None  # no texture
    acc = QualityAccumulator()
    acc.feed(a, a, a)
    assert acc.summary()["strokes"] == 0.0
    own = QualityAccumulator()  # no reference (frame mode itself): its consecutive frames
    b = _strokes_image(1)
    own.feed(a, a)
    own.feed(b, b)
    assert own.summary()["strokes"] == pytest.approx(stroke_distance(b, a))
