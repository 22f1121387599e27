"""``ProcessOptions``: every setting of one stylization run, validated in one place."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Optional

from .errors import CodecStyleError

MODES = ("codec", "flow", "frame")
LOOKS = ("artistic", "photo")
NORMS = ("global", "shot", "frame")
BACKENDS = ("local", "ray")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")

#: FFmpeg's time syntax: seconds (``12.5``), or ``[hh:]mm:ss[.fff]`` with minutes and seconds below 60.
_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)")


def parse_time(text: str, flag: str = "a time") -> float:
    """Seconds from FFmpeg-style ``text``: ``12.5``, ``mm:ss`` or ``hh:mm:ss[.fff]`` (an optional
    leading ``-`` negates it; ``validate`` decides what is allowed). ``flag`` names the option in
    the error. Raises ``CodecStyleError`` (one line) for anything else."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body[1:] if sign < 0 else body
    clock = _CLOCK.fullmatch(body)
    if clock:
        hours, minutes, seconds = int(clock.group(1) or 0), int(clock.group(2)), float(clock.group(3))
        if minutes < 60 and seconds < 60:
            return sign * (hours * 3600 + minutes * 60 + seconds)
    elif re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", body):
        return sign * float(body)
    raise CodecStyleError(f"{flag} takes seconds (12.5) or [hh:]mm:ss[.fff] (1:02:03.5), got {text!r}")


@dataclass
class ProcessOptions:
    """Settings for ``stylize_video``.

    - mode: engine strategy: ``codec`` (the default: propagate along the codec's motion vectors,
      refresh what changed; DIS optical flow where the codec exports no vectors), ``flow``
      (propagate along DIS optical flow, the optical-flow baseline) or ``frame`` (the network on
      every frame, the reference for quality).
    - quality: 0..1, codec mode's speed/fidelity trade-off (higher re-stylizes more).
    - style: built-in style index or blend, e.g. ``"19"`` or ``"3:0.5,12:0.5"``.
    - strength: 0..1 mix with the original; preserve_color: keep the source's colours.
    - max_size: cap on the longer side in pixels (None keeps the source size).
    - max_frames: stop after this many frames (None: the whole video).
    - codec/crf/preset: the output video encoder and its quality settings.
    - device: ``auto``, ``cpu`` or ``cuda``.
    - style_image: ``"a.jpg"`` or ``"a.jpg:0.6,b.jpg:0.4"``: the user's pictures as the style
      (Magenta's arbitrary-style network) instead of a built-in ``style``.
    - look: ``artistic`` (brush strokes, the default) or ``photo`` (a colour grade toward the
      style image, no network).
    - strict: refuse a damaged or cut-short input instead of rendering the frames that decode.
    - start: seconds into the video (``--start``, FFmpeg's ``-ss``), counted from the first
      video frame's display time (that frame is 0 even where a file's timestamps begin
      elsewhere); the render begins with the first frame at or after it, and every output stream
      is shifted so that this frame is at 0. None: from the first frame, times kept as they are.
    - duration: seconds (``--duration``, FFmpeg's ``-t``): only frames displayed before
      ``start + duration``; audio is cut at the next frame's time. None: to the end.
      ``max_frames`` still caps the count (the first N frames of the excerpt).
    """

    mode: str = "codec"
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
    style_image: Optional[str] = None
    look: str = "artistic"
    strict: bool = False
    start: Optional[float] = None
    duration: Optional[float] = None

    def validate(self) -> "ProcessOptions":
        if self.look not in LOOKS:
            raise CodecStyleError(f"unknown look {self.look!r}: choose from {', '.join(LOOKS)}")
        if self.look == "photo" and not self.style_image:
            raise CodecStyleError("--look photo grades toward a picture: pass --style-image PATH")
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
        if self.start is not None and not (math.isfinite(self.start) and self.start >= 0):
            raise CodecStyleError(f"--start must be 0 or more seconds, got {self.start:g}")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise CodecStyleError(f"--duration must be more than 0 seconds, got {self.duration:g}")
        if not 0 <= self.crf <= 63:
            raise CodecStyleError(f"--crf must be between 0 and 63, got {self.crf}")
        if self.codec in ("libx264", "libx265") and self.preset not in PRESETS:
            raise CodecStyleError(f"unknown --preset {self.preset!r}: choose from {', '.join(PRESETS)}")
        return self

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RenderOptions:
    """How a film is rendered (``codecstyle.render.render_film``), on top of ``ProcessOptions``.

    - workers: processes (or Ray tasks in flight), one segment each; None: automatic (local: one
      per core, at most one per segment; Ray: the cluster's CPUs divided by ``threads``).
    - threads: torch/numba/OpenCV threads per worker; None: the cores divided between workers.
    - segment_seconds: target segment length; segments start at keyframes, so they are at
      least this long (the last may be shorter). None: automatic (film length / 16, 2..60 s,
      and in modes that warm up over the GOP before a segment, at least 3 GOPs).
    - norm: instance-norm statistics: ``global`` (pooled from frames sampled across the film,
      shared by every segment: one look, no colour jumps at joins or I-frames), ``shot`` (pooled
      per shot, shrunk towards the film's), ``frame`` (each frame or refresh its own).
    - backend: ``local`` (processes on this machine) or ``ray`` (tasks on a Ray cluster).
    - ray_address: the cluster to join (``auto``, ``ray://head:10001``, ``head:6379``); None
      starts a local Ray instance (or joins the one ``RAY_ADDRESS`` names).
    """

    workers: Optional[int] = None
    threads: Optional[int] = None
    segment_seconds: Optional[float] = None
    norm: str = "global"
    backend: str = "local"
    ray_address: Optional[str] = None

    def validate(self) -> "RenderOptions":
        if self.workers is not None and self.workers < 1:
            raise CodecStyleError(f"--workers must be at least 1 (or auto), got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise CodecStyleError(f"--threads must be at least 1 (or auto), got {self.threads}")
        if self.segment_seconds is not None and not self.segment_seconds > 0:
            raise CodecStyleError(f"--segment-seconds must be positive, got {self.segment_seconds}")
        if self.norm not in NORMS:
            raise CodecStyleError(f"unknown --norm {self.norm!r}: choose from {', '.join(NORMS)}")
        if self.backend not in BACKENDS:
            raise CodecStyleError(f"unknown --backend {self.backend!r}: choose from {', '.join(BACKENDS)}")
        if self.ray_address and self.backend != "ray":
            raise CodecStyleError("--ray-address needs --backend ray")
        return self

    def as_dict(self) -> dict:
        return asdict(self)
