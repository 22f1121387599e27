"""``frame`` mode: the network on every frame. The baseline for speed and the reference for quality."""
from __future__ import annotations

from typing import List

from ..nets.stylizer import Stylizer
from ..timing import StageTimer
from ..video.reader import FrameRecord
from .base import Engine, Finished


class FrameEngine(Engine):
    """Stylizes each frame whole and independently (so it flickers: see ``codec`` mode)."""

    name = "frame"

    def __init__(self, stylizer: Stylizer, timer: StageTimer):
        super().__init__(timer)
        self.stylizer = stylizer

    def push(self, record: FrameRecord) -> List[Finished]:
        with self.timer.stage("network"):
            out, _ = self.stylizer.stylize(record.rgb)
        pixels = record.rgb.shape[0] * record.rgb.shape[1]
        self.stats.frames += 1
        self.stats.full_frames += 1
        self.stats.pixels += pixels
        self.stats.network_pixels += pixels
        return [(record, out)]
