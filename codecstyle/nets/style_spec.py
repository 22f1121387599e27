"""Parsing user style choices: ``"19"`` or ``"3:0.5,12:0.5"`` -> a weight vector over the 26 styles."""
from __future__ import annotations

import numpy as np

from ..errors import CodecStyleError

NUM_STYLES = 26


def parse_style(spec) -> np.ndarray:
    """``(26,)`` float32 weights summing to 1 from an int, ``"7"``, ``"3:0.5,12:0.5"`` or a
    ``{index: weight}`` dict. Raises ``CodecStyleError`` on an unknown style or bad weights."""
    weights = np.zeros(NUM_STYLES, dtype=np.float64)
    if isinstance(spec, dict):
        items = list(spec.items())
    elif isinstance(spec, (int, np.integer)):
        items = [(int(spec), 1.0)]
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            index, _, weight = part.partition(":")
            try:
                items.append((int(index), float(weight) if weight else 1.0))
            except ValueError:
                raise CodecStyleError(f"bad style {spec!r}: use an index like 19 or a blend like 3:0.5,12:0.5") from None
    if not items:
        raise CodecStyleError(f"bad style {spec!r}: no style given")
    for index, weight in items:
        if not 0 <= int(index) < NUM_STYLES:
            raise CodecStyleError(f"unknown style {index}: built-in styles are 0 to {NUM_STYLES - 1}")
        if not np.isfinite(weight) or weight < 0:
            raise CodecStyleError(f"bad style weight {weight} in {spec!r}: weights must be >= 0")
        weights[int(index)] += weight
    if weights.sum() <= 0:
        raise CodecStyleError(f"bad style {spec!r}: the weights add up to zero")
    return (weights / weights.sum()).astype(np.float32)
