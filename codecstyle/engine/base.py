"""What every engine strategy (frame, codec, flow) offers the pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from ..timing import StageTimer
from ..video.reader import FrameRecord

#: A finished frame: the record it came from and its stylized ``(H, W, 3)`` uint8 RGB.
Finished = Tuple[FrameRecord, np.ndarray]


@dataclass
class EngineStats:
    """Counters an engine keeps while it runs."""

    frames: int = 0
    pixels: int = 0            # pixels of all frames handled
    network_pixels: int = 0    # pixels that went through the style network
    full_frames: int = 0       # frames stylized whole
    extra: Dict[str, float] = field(default_factory=dict)

    @property
    def network_share(self) -> float:
        return self.network_pixels / self.pixels if self.pixels else 0.0


class Engine:
    """Takes frame records in display order; hands back finished frames in display order.

    An engine may hold frames back (to process a B-frame after the anchor it refers to), so
    ``push`` returns whatever is ready, possibly nothing, and ``flush`` returns the rest.
    """

    name = "base"

    def __init__(self, timer: StageTimer):
        self.timer = timer
        self.stats = EngineStats()

    def push(self, record: FrameRecord) -> List[Finished]:
        raise NotImplementedError

    def flush(self) -> List[Finished]:
        return []

    def describe(self) -> Dict[str, object]:
        """Facts for the run summary (which path was taken, fallbacks, ...)."""
        return {"engine": self.name}
