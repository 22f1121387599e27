"""``--look photo``: a photo-realistic colour grade toward the style picture, without a network.

Per-channel Lab statistics transfer (``looks.photo.PhotoLook``) with the source statistics frozen
per shot, so the grade cannot flicker. It needs no motion and no reordering: each frame is graded
as it arrives, at hundreds of frames per second.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from ..looks.photo import PhotoLook
from ..timing import StageTimer
from ..video.reader import FrameRecord
from .base import Engine, Finished


class LookEngine(Engine):
    """Grades every frame toward ``target_rgb`` (``(H, W, 3)`` uint8 RGB) with ``strength`` 0..1."""

    name = "photo-look"

    def __init__(self, target_rgb: np.ndarray, strength: float, timer: StageTimer):
        super().__init__(timer)
        self.look = PhotoLook(target_rgb, strength=strength)

    def push(self, record: FrameRecord) -> List[Finished]:
        with self.timer.stage("grade"):
            out = self.look.apply(record.rgb)
        self.stats.frames += 1
        self.stats.pixels += record.rgb.shape[0] * record.rgb.shape[1]
        return [(record, out)]

    def describe(self) -> Dict[str, object]:
        return {"engine": self.name, "motion_source": "none (per-shot colour statistics)",
                "shots": list(self.look.shot_starts)}
