"""One look across a film: instance-norm statistics sampled across it and shared by every segment.

Per-frame statistics make each frame (codec mode: each refresh) renormalise itself, so the
colours of a stylized film jump where a new segment or I-frame starts. Instead:

- ``global``: a few frames spread evenly over the film are run through the network once, their
  statistics are pooled (``NormStats.pool``) and every frame of every segment uses the pool;
- ``shot``: every keyframe in range (x264 puts them at scene cuts) plus the evenly spread frames
  are sampled; consecutive samples whose colour histograms differ strongly start a new shot.
  A shot uses the pool of its own samples, shrunk towards the film's pool by
  ``n / (n + SHRINK)`` (one odd sample cannot swing a shot's look far), constant within the shot;
- ``frame``: nothing shared (each frame, or codec mode's refresh, measures its own).

The parent process never loads the network: workers capture statistics (``capture``), the parent
groups them (``group_shots``, histograms only) and stores them in ``norm.npz`` beside the
segments, and every worker turns that file into a ``StatsSchedule`` (``pts -> NormStats``).
"""
from __future__ import annotations

import bisect
import io
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .segments import SegmentPlan

#: Samples for ``global``: one per this many frames, clamped to ``SAMPLES``.
FRAMES_PER_SAMPLE = 50
SAMPLES = (4, 32)
#: At most this many samples for ``shot`` (keyframes beyond it are thinned evenly).
MAX_SHOT_SAMPLES = 96
#: L1 distance (0..2) between consecutive samples' colour histograms that starts a new shot.
SHOT_CUT = 0.6
#: Shrinkage prior: a shot of n samples is pooled with weight n / (n + SHRINK) against the film.
SHRINK = 2.0
HIST_BINS = 4  # per RGB channel


@dataclass
class Capture:
    """One sampled frame: its pts, its statistics flattened (``means``/``vars``: all layers'
    channels concatenated, float32; ``channels`` per layer) and its joint RGB histogram
    (normalised, float32)."""

    pts: int
    means: np.ndarray
    vars: np.ndarray
    hist: np.ndarray
    channels: Tuple[int, ...]


def sample_pts(plan: SegmentPlan, norm: str) -> List[int]:
    """The pts of the frames to sample for ``norm`` (sorted, unique; empty for ``frame``), spread
    over ``plan.look_pts`` (an excerpt: the whole film) or else the frames to render."""
    if norm == "frame":
        return []
    frames = plan.frame_pts if plan.look_pts is None else plan.look_pts
    n = int(min(len(frames), max(SAMPLES[0], min(SAMPLES[1], len(frames) // FRAMES_PER_SAMPLE))))
    picks = {int(frames[min(len(frames) - 1, int((i + 0.5) * len(frames) / n))]) for i in range(n)}
    if norm == "shot" and plan.windowed:
        lo, hi = int(frames[0]), int(frames[-1])
        keys = [int(k) for k in plan.keyframe_pts if lo <= k <= hi]
        room = max(0, MAX_SHOT_SAMPLES - len(picks))
        if len(keys) > room:
            keys = [keys[int(i * len(keys) / room)] for i in range(room)] if room else []
        picks.update(keys)
    return sorted(picks)


def histogram(rgb: np.ndarray) -> np.ndarray:
    """Joint RGB histogram of ``(H, W, 3)`` uint8, ``HIST_BINS`` per channel, summing to 1."""
    q = (rgb[::4, ::4].astype(np.int32) * HIST_BINS) // 256
    codes = (q[..., 0] * HIST_BINS + q[..., 1]) * HIST_BINS + q[..., 2]
    counts = np.bincount(codes.ravel(), minlength=HIST_BINS ** 3).astype(np.float32)
    return counts / max(1.0, counts.sum())


def capture(stylizer, rgb: np.ndarray, pts: int) -> Capture:
    """Run the network once on ``rgb`` with live statistics and keep them (a worker's job)."""
    previous, stylizer.shared_stats = stylizer.shared_stats, None
    try:
        _, stats = stylizer.stylize(rgb)
    finally:
        stylizer.shared_stats = previous
    means = np.concatenate([m.detach().cpu().reshape(-1).numpy() for m, _ in stats.layers]).astype(np.float32)
    variances = np.concatenate([v.detach().cpu().reshape(-1).numpy() for _, v in stats.layers]).astype(np.float32)
    channels = tuple(int(m.numel()) for m, _ in stats.layers)
    return Capture(int(pts), means, variances, histogram(rgb), channels)


def group_shots(captures: Sequence[Capture], norm: str) -> List[int]:
    """Shot number of each capture (sorted by pts): all 0 for ``global``; for ``shot`` a new
    shot where the histogram distance to the previous sample exceeds ``SHOT_CUT``."""
    groups, shot = [], 0
    for i, cap in enumerate(captures):
        if norm == "shot" and i and float(np.abs(cap.hist - captures[i - 1].hist).sum()) > SHOT_CUT:
            shot += 1
        groups.append(shot)
    return groups


def pack(captures: Sequence[Capture], norm: str) -> bytes:
    """``norm.npz`` contents: the captures (sorted by pts), their shot numbers and the mode."""
    captures = sorted(captures, key=lambda c: c.pts)
    buffer = io.BytesIO()
    np.savez(buffer, pts=np.asarray([c.pts for c in captures], np.int64),
             means=np.stack([c.means for c in captures]), vars=np.stack([c.vars for c in captures]),
             hist=np.stack([c.hist for c in captures]), channels=np.asarray(captures[0].channels, np.int64),
             shots=np.asarray(group_shots(captures, norm), np.int64), norm=np.asarray(norm))
    return buffer.getvalue()


def describe(data: bytes) -> Dict[str, object]:
    """Samples and shots in a ``norm.npz`` (for the summary)."""
    with np.load(io.BytesIO(data)) as npz:
        return {"samples": int(len(npz["pts"])), "shots": int(npz["shots"].max()) + 1 if len(npz["shots"]) else 0}


class StatsSchedule:
    """``at(pts)`` -> the ``NormStats`` for a frame: the film's pool (``global``) or the pool of
    the shot the frame falls in (``shot``; a shot runs from its first sample to the next shot's,
    the first shot also covers the frames before its first sample)."""

    def __init__(self, starts: List[int], stats: list):
        self.starts = starts
        self.stats = stats

    @classmethod
    def load(cls, path: str) -> "StatsSchedule":
        from ..nets.frozen_norm import NormStats

        with np.load(path) as npz:
            pts, means, variances = npz["pts"], npz["means"], npz["vars"]
            channels, shots = npz["channels"].tolist(), npz["shots"]
        captures = [_to_stats(means[i], variances[i], channels) for i in range(len(pts))]
        film = NormStats.pool(captures)
        count = int(shots.max()) + 1
        if count == 1:
            return cls([int(pts[0])], [film])
        starts, stats = [], []
        for shot in range(count):
            members = np.flatnonzero(shots == shot)
            pooled = NormStats.pool([captures[i] for i in members])
            starts.append(int(pts[members[0]]))
            stats.append(NormStats.mix(film, pooled, len(members) / (len(members) + SHRINK)))
        return cls(starts, stats)

    def at(self, pts: int):
        return self.stats[max(0, bisect.bisect_right(self.starts, pts) - 1)]


def _to_stats(means: np.ndarray, variances: np.ndarray, channels: List[int]):
    import torch

    from ..nets.frozen_norm import NormStats

    layers, offset = [], 0
    for c in channels:
        m = torch.from_numpy(np.array(means[offset:offset + c], np.float32)).view(1, c, 1, 1)
        v = torch.from_numpy(np.array(variances[offset:offset + c], np.float32)).view(1, c, 1, 1)
        layers.append((m, v))
        offset += c
    return NormStats(layers)


def load_schedule(path: Optional[str]) -> Optional[StatsSchedule]:
    """The schedule in ``path``, or None (``--norm frame``)."""
    return StatsSchedule.load(path) if path else None
