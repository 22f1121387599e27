"""Choosing one (reference, vector) per cell: resolve the reference, prefer simple motion.

The exporter gives a vector's direction (past / future list) but not *which* frame it points to,
and codec vectors are rate-distortion choices rather than true motion. So each cell's candidates
(its codec vector against every plausible reference, zero motion, its neighbours' vectors) are
scored by matching the decoded originals, and zero or neighbour-consistent motion wins whenever
it matches nearly as well: in flat areas any vector matches, and only the simple one is stable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import cv2
import numpy as np

from codecstyle.native.match import candidate_costs

from .field import CellVectors


@dataclass
class ChosenField:
    """One source per cell: ``ref`` ``(Cy, Cx)`` int32 index into the candidate references,
    ``v`` ``(Cy, Cx, 2)`` float32 (dx, dy) in pixels, ``cost`` ``(Cy, Cx)`` float32 mean absolute
    luma difference of the match, ``zero`` ``(Cy, Cx)`` bool where zero motion was chosen."""

    ref: np.ndarray
    v: np.ndarray
    cost: np.ndarray
    zero: np.ndarray


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``a`` moved so that cell (y, x) sees its neighbour (y + dy, x + dx), edges repeated."""
    out = np.roll(a, (-dy, -dx), axis=(0, 1))
    if dy > 0:
        out[-dy:] = a[-1:]
    elif dy < 0:
        out[:-dy] = a[:1]
    if dx > 0:
        out[:, -dx:] = a[:, -1:]
    elif dx < 0:
        out[:, :-dx] = a[:, :1]
    return out


def _local_mean(v: np.ndarray, has: np.ndarray, radius: int = 2) -> np.ndarray:
    """``(Cy, Cx, 2)`` mean of the vectors present within ``radius`` cells: on smooth motion it is
    more accurate than any single cell's vector (estimation noise averages out), and a field
    chained over many frames accumulates that noise as texture wobble."""
    k = 2 * radius + 1
    weight = cv2.blur(has.astype(np.float32), (k, k), borderType=cv2.BORDER_REPLICATE)
    total = cv2.blur(v * has[..., None], (k, k), borderType=cv2.BORDER_REPLICATE)
    return (total / np.maximum(weight, 1e-6)[..., None]).astype(np.float32)


def choose_field(cur_luma: np.ndarray, ref_lumas: np.ndarray, past: List[int], future: List[int],
                 cells: CellVectors, tolerance: float, distance: Optional[np.ndarray] = None,
                 velocity: Optional[np.ndarray] = None,
                 costs: Optional[Callable[..., np.ndarray]] = None) -> ChosenField:
    """Pick each cell's source among the candidates.

    - cur_luma ``(H, W)`` float32, ref_lumas ``(R, H, W)`` uint8 or float32 (0..255).
    - past / future: indices into ``ref_lumas``, nearest first (list 0 / list 1 candidates).
    - distance ``(R,)``: display frames from the current frame to each reference (signed), and
      velocity ``(Cy, Cx, 2)``: per-cell motion per display frame taken from a neighbouring
      frame's chosen field. Together they add temporally scaled candidates, like H.264's temporal
      direct mode: decoders export zero or predicted vectors for many skip/direct B blocks, so
      the codec's own vector is often not the motion.
    - tolerance: a simpler candidate (zero motion, then a neighbour's vector) replaces the best
      match when its cost is within ``tolerance`` luma levels (plus 10 %) of it.
    """
    cy_n, cx_n = cells.shape
    # kind 0 = zero motion, 1 = smooth (local mean, global), 2 = a neighbour's, 3 = own vector
    refs, vecs, kinds = [], [], []

    def add(ref_index, v, usable, kind):
        r = np.where(usable, ref_index, -1).astype(np.int32)
        refs.append(r)
        vecs.append(np.broadcast_to(v, (cy_n, cx_n, 2)).astype(np.float32))
        kinds.append(kind)

    always = np.ones((cy_n, cx_n), bool)
    zero = np.zeros(2, np.float32)
    for group in (past, future):
        if group:
            add(group[0], zero, always, 0)
    for has, v, group in ((cells.has0, cells.v0, past), (cells.has1, cells.v1, future)):
        for r in group:
            add(r, v, has, 3)
    if past and cells.has0.any():
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            add(past[0], _shift(cells.v0, dy, dx), _shift(cells.has0, dy, dx), 2)
        add(past[0], _local_mean(cells.v0, cells.has0), always, 1)
    if velocity is not None and distance is not None:
        glob = np.median(velocity.reshape(-1, 2), axis=0)
        for r in past[:2] + future[:1]:
            add(r, velocity * distance[r], always, 3)
            add(r, glob * distance[r], always, 1)
    ref_idx = np.stack(refs, axis=-1)
    v = np.stack(vecs, axis=-2)  # (Cy, Cx, K, 2)
    score = costs if costs is not None else (lambda *c: candidate_costs(cur_luma, ref_lumas, *c))
    costs = score(ref_idx, np.ascontiguousarray(v[..., 0]), np.ascontiguousarray(v[..., 1]), float(cells.cell))
    best = costs.min(axis=-1)
    allowed = best * 1.1 + tolerance
    kinds = np.array(kinds)
    choice = np.argmin(costs, axis=-1)
    # Prefer the simplest kind whose cost is within the allowance: zero, then smooth motion,
    # then a neighbour's vector (later passes override earlier ones).
    for kind in (2, 1, 0):
        sel = np.where(kinds[None, None, :] == kind, costs, np.inf)
        k = np.argmin(sel, axis=-1)
        ok = np.take_along_axis(sel, k[..., None], -1)[..., 0] <= allowed
        choice = np.where(ok, k, choice)
    yy, xx = np.mgrid[0:cy_n, 0:cx_n]
    chosen = ChosenField(ref=ref_idx[yy, xx, choice], v=v[yy, xx, choice], cost=costs[yy, xx, choice],
                         zero=kinds[choice] == 0)
    chosen.has2, chosen.ref2, chosen.v2 = np.zeros((cy_n, cx_n), bool), chosen.ref, chosen.v
    if distance is not None and past and future:
        side = np.where(ref_idx >= 0, np.sign(distance[np.maximum(ref_idx, 0)]), 0)
        other = np.where(side != side[yy, xx, choice][..., None], costs, np.inf)
        k2 = np.argmin(other, axis=-1)
        chosen.has2 = np.take_along_axis(other, k2[..., None], -1)[..., 0] <= allowed
        chosen.ref2 = np.where(chosen.has2, ref_idx[yy, xx, k2], chosen.ref)
        chosen.v2 = np.where(chosen.has2[..., None], v[yy, xx, k2], chosen.v)
    return chosen
