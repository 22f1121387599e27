import numpy as np
import pytest

from clips import texture
from codecstyle.looks.photo import (CUT_THRESHOLD, ColorStats, PhotoLook, apply_transform, color_stats, grade,
                                    grade_transform, shot_signature, signature_distance)


def tinted(img: np.ndarray, gain) -> np.ndarray:
    """``img`` with per-channel RGB gains: a colour cast the grade should be able to move."""
    return np.clip(img.astype(np.float32) * np.asarray(gain, np.float32), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def target():
    # warm, contrasty reference
    return tinted(texture(120, 160, seed=7), (1.25, 1.0, 0.6))


@pytest.fixture(scope="module")
def frame():
    # cool, flat-ish footage
    img = texture(90, 160, seed=1).astype(np.float32)
    return tinted((img * 0.6 + 60).astype(np.uint8), (0.8, 0.95, 1.2))


def test_grade_moves_lab_statistics_to_the_target(frame, target):
    src, tgt = color_stats(frame), color_stats(target)
    out = grade(frame, src, tgt)
    assert out.shape == frame.shape and out.dtype == np.uint8
    got = color_stats(out)
    before_mean, after_mean = np.abs(src.mean - tgt.mean), np.abs(got.mean - tgt.mean)
    before_std, after_std = np.abs(src.std - tgt.std), np.abs(got.std - tgt.std)
    assert np.all(after_mean < 0.2 * before_mean + 1.0), (before_mean, after_mean)
    assert np.all(after_std < 0.3 * before_std + 1.0), (before_std, after_std)


def test_strength_interpolates_from_identity(frame, target):
    src, tgt = color_stats(frame), color_stats(target)
    assert np.array_equal(grade(frame, src, tgt, strength=0.0), frame)
    half = color_stats(grade(frame, src, tgt, strength=0.5)).mean
    assert np.all(np.abs(half - (src.mean + tgt.mean) / 2) < 0.15 * np.abs(src.mean - tgt.mean) + 1.0)


def test_fast_path_agrees_with_precise_path(frame, target):
    src, tgt = color_stats(frame), color_stats(target)
    fast = grade(frame, src, tgt).astype(int)
    precise = grade(frame, src, tgt, precise=True).astype(int)
    # 8-bit Lab rounding, measured on 20 real frame/reference pairs: mean 0.7-1.1 levels, 99.9th
    # percentile 3-6, a few pixels near the gamut edge up to 29
    diff = np.abs(fast - precise)
    assert diff.mean() < 1.5 and np.percentile(diff, 99.9) <= 8, (diff.mean(), np.percentile(diff, 99.9))


def test_precise_round_trip_and_self_grade_are_near_identity(frame):
    # a grade onto its own statistics is the identity map ...
    scale, shift = grade_transform(color_stats(frame), color_stats(frame))
    assert np.allclose(scale, 1.0, atol=1e-5) and np.allclose(shift, 0.0, atol=1e-3)
    # ... and a near-identity map through float Lab changes no pixel by more than rounding
    nudged = apply_transform(frame, np.float32([1, 1, 1.01]), np.float32([0, 0, 0]), precise=True)
    assert np.abs(nudged.astype(int) - frame).max() <= 2


def test_fast_path_handles_lab_overflow_like_precise_path():
    # a warm gradient up to near white, graded hard: highlights pass L = 100, shadows go below 0
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[None, :, None]
    img = np.clip(ramp * np.float32([255, 225, 190]) + np.float32([10, 5, 0]), 0, 255).astype(np.uint8)
    img = np.repeat(img, 4, axis=0)
    scale, shift = np.float32([2.0, 2.0, 2.0]), np.float32([-20.0, 4.0, 15.0])
    fast = apply_transform(img, scale, shift).astype(int)
    precise = apply_transform(img, scale, shift, precise=True).astype(int)
    assert np.abs(fast - precise).max() <= 8  # 8-bit Lab alone would clip L and leave saturated colour
    assert fast[:, -1].min() >= 250  # the brightest pixels end up white, not yellow


def test_flat_image_does_not_blow_up(target):
    flat = np.full((36, 64, 3), 90, np.uint8)
    flat_noisy = np.clip(flat + np.random.default_rng(0).integers(-1, 2, flat.shape), 0, 255).astype(np.uint8)
    tgt = color_stats(target)
    for img in (flat, flat_noisy):
        src = color_stats(img)
        scale, _ = grade_transform(src, tgt)
        assert np.all(scale <= 2.0) and np.all(scale >= 0.5)
        out = grade(img, src, tgt)
        # the noise may grow by the clamped ratio at most, not by target/source (~30x here)
        assert out.astype(float).std(axis=(0, 1)).max() <= 2.0 * img.astype(float).std(axis=(0, 1)).max() + 1.5
    assert np.ptp(grade(flat, color_stats(flat), tgt).reshape(-1, 3), axis=0).max() == 0


def test_pooled_stats_equal_stats_of_frames_together():
    a, b = texture(40, 60, seed=1), texture(40, 60, seed=2)
    pooled = ColorStats.pool([color_stats(a, trim=0, max_side=1000), color_stats(b, trim=0, max_side=1000)])
    both = color_stats(np.concatenate([a, b], axis=1), trim=0, max_side=1000)
    assert np.allclose(pooled.mean, both.mean, atol=1e-3) and np.allclose(pooled.std, both.std, atol=1e-3)


def steady_clip(frames=12, seed=1):
    """A textured shot with sensor-like noise and a small object crossing it: the frame
    statistics wobble, the shot does not change."""
    base = texture(72, 128, seed=seed).astype(np.int16)
    rng = np.random.default_rng(seed)
    for t in range(frames):
        img = base + rng.integers(-3, 4, base.shape)
        img[20:36, 8 * t:8 * t + 16] = 240
        yield np.clip(img, 0, 255).astype(np.uint8)


def test_steady_shot_keeps_one_frozen_grade(target):
    look = PhotoLook(target, settle_frames=3)
    clip = list(steady_clip())
    graded = [look.apply(f) for f in clip]
    assert look.shot_starts == [0]
    frozen = look.source
    # after settling, the grade is one fixed map: each output is grade(frame, frozen source)
    for f, g in zip(clip[3:], graded[3:]):
        assert np.array_equal(g, grade(f, frozen, look.target))
    # while per-frame re-measurement would follow the wobble
    per_frame = [grade(f, color_stats(f), look.target) for f in clip[3:]]
    assert not all(np.array_equal(g, p) for g, p in zip(graded[3:], per_frame))


def test_identical_frames_give_identical_output(target):
    look = PhotoLook(target, settle_frames=1)
    f = texture(72, 128, seed=2)
    outs = [look.apply(f) for _ in range(4)]
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    assert look.shot_starts == [0]


def test_hard_cut_starts_a_new_shot(target):
    look = PhotoLook(target)
    first = list(steady_clip(6, seed=1))
    second = [tinted(f, (0.5, 0.9, 1.4)) for f in steady_clip(6, seed=3)]
    for f in first:
        look.apply(f)
    source_before = look.source
    for f in second:
        look.apply(f)
    assert look.shot_starts == [0, 6]
    assert not np.allclose(look.source.mean, source_before.mean, atol=1.0)
    look.reset()
    look.apply(second[-1])
    assert look.shot_starts == [0, 6, 12]


def test_signature_distance():
    a = texture(72, 128, seed=1)
    assert signature_distance(shot_signature(a), shot_signature(a)) == pytest.approx(0.0, abs=1e-6)
    assert shot_signature(a).sum() == pytest.approx(1.0, abs=1e-5)
    same_shot = signature_distance(shot_signature(a), shot_signature(np.roll(a, 9, axis=1)))
    other_shot = signature_distance(shot_signature(a), shot_signature(tinted(a, (0.5, 0.9, 1.4))))
    assert same_shot < 0.5 * CUT_THRESHOLD < 2 * CUT_THRESHOLD < other_shot


def test_bad_inputs(target):
    good = color_stats(target)
    for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8),
                np.zeros((10, 10, 4), np.uint8), [[1, 2, 3]]):
        with pytest.raises(ValueError):
            color_stats(bad)
        with pytest.raises(ValueError):
            grade(bad, good, good)
        with pytest.raises(ValueError):
            PhotoLook(bad)
    with pytest.raises(ValueError):
        grade(target, good, good, strength=1.5)
    with pytest.raises(ValueError):
        PhotoLook(target, cut_threshold=0.8, drift_threshold=0.5)
    with pytest.raises(ValueError):
        PhotoLook(target, settle_frames=0)
    with pytest.raises(ValueError):
        PhotoLook(target).apply(np.zeros((10, 10, 3), np.int32))
