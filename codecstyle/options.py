"""``ProcessOptions``: every setting of one stylization run, validated in one place."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from .errors import CodecStyleError

MODES = ("codec", "frame")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass
class ProcessOptions:
    """Settings for ``stylize_video``.

    - mode: engine strategy: ``frame`` (the network on every frame, the default for now) or
      ``codec`` (propagate along the codec's motion vectors, refresh what changed; in progress).
    - quality: 0..1, codec mode's speed/fidelity trade-off (higher re-stylizes more).
    - style: built-in style index or blend, e.g. ``"19"`` or ``"3:0.5,12:0.5"``.
    - strength: 0..1 mix with the original; preserve_color: keep the source's colours.
    - max_size: cap on the longer side in pixels (None keeps the source size).
    - max_frames: stop after this many frames (None: the whole video).
    - codec/crf/preset: the output video encoder and its quality settings.
    - device: ``auto``, ``cpu`` or ``cuda``.
    """

    mode: str = "frame"
    quality: float = 0.5
    style: str = "19"
    strength: float = 1.0
    preserve_color: bool = False
    max_size: Optional[int] = None
    max_frames: Optional[int] = None
    codec: str = "libx264"
    crf: float = 18.0
    preset: str = "medium"
    device: str = "auto"

    def validate(self) -> "ProcessOptions":
        if self.mode not in MODES:
            raise CodecStyleError(f"unknown mode {self.mode!r}: choose from {', '.join(MODES)}")
        if not 0.0 <= self.quality <= 1.0:
            raise CodecStyleError(f"--quality must be between 0 and 1, got {self.quality}")
        if not 0.0 <= self.strength <= 1.0:
            raise CodecStyleError(f"--strength must be between 0 and 1, got {self.strength}")
        if self.max_size is not None and self.max_size < 16:
            raise CodecStyleError(f"--max-size must be at least 16 pixels, got {self.max_size}")
        if self.max_frames is not None and self.max_frames < 1:
            raise CodecStyleError(f"--frames must be at least 1, got {self.max_frames}")
        if not 0 <= self.crf <= 63:
            raise CodecStyleError(f"--crf must be between 0 and 63, got {self.crf}")
        if self.codec in ("libx264", "libx265") and self.preset not in PRESETS:
            raise CodecStyleError(f"unknown --preset {self.preset!r}: choose from {', '.join(PRESETS)}")
        return self

    def as_dict(self) -> dict:
        return asdict(self)
