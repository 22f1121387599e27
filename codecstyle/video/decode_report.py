"""What decoding a file met: frames that did not decode, a file that ends early, made-up times.

A damaged or partly downloaded file still renders: every frame that decodes keeps its own time,
and this report says what was missing and where, for the one warning line and for ``--json``.
Reports of a film's segments merge into one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import List, Optional

#: Times listed in the warning line (the count is always complete).
SHOWN_TIMES = 3


@dataclass
class DecodeReport:
    """Filled in while a file is read (``read_frames(report=...)``).

    - timestamps: how display times were obtained: ``stream`` (the file's own), ``reordered``
      (the file's times were in decode order; each frame got the next display time),
      ``numbered`` (the file had no usable times; one frame duration apart).
    - fixed_times: frames whose time was made up (missing, repeated or out of order).
    - lost_frames: frames of the stream that did not decode; lost_times: their times (seconds,
      sorted; complete for one read, see ``merge``).
    - decode_errors: packets the decoder rejected.
    - ends_early: seconds after which the file's data stops although its index lists more frames
      (a cut-short download), else None; expected_frames: what the index lists (0: unknown).
    """

    timestamps: str = "stream"
    fixed_times: int = 0
    lost_frames: int = 0
    lost_times: List[float] = field(default_factory=list)
    decode_errors: int = 0
    ends_early: Optional[float] = None
    expected_frames: int = 0

    @property
    def damaged(self) -> bool:
        return bool(self.lost_frames or self.decode_errors or self.ends_early is not None)

    def add_lost(self, ticks: List[int], time_base: Fraction) -> None:
        self.lost_frames += len(ticks)
        self.lost_times = sorted(self.lost_times + [round(float(t * time_base), 3) for t in ticks])

    def merge(self, other: "DecodeReport") -> "DecodeReport":
        """This report and ``other`` (another segment of the same file) as one."""
        modes = {self.timestamps, other.timestamps}
        timestamps = next((m for m in ("numbered", "reordered") if m in modes), "stream")
        ends = [e for e in (self.ends_early, other.ends_early) if e is not None]
        return DecodeReport(timestamps, self.fixed_times + other.fixed_times,
                            self.lost_frames + other.lost_frames, sorted(self.lost_times + other.lost_times),
                            self.decode_errors + other.decode_errors, min(ends) if ends else None,
                            max(self.expected_frames, other.expected_frames))

    def as_dict(self) -> dict:
        shown = self.lost_times[:100]
        return {"timestamps": self.timestamps, "fixed_times": self.fixed_times,
                "lost_frames": self.lost_frames, "lost_times": shown, "decode_errors": self.decode_errors,
                "ends_early": self.ends_early, "expected_frames": self.expected_frames}

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> "DecodeReport":
        data = dict(data or {})
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def describe(self, rendered: int, verb: str = "rendered") -> str:
        """One line for the user, e.g. ``3 frames could not be decoded (at 2.04, 2.08, 5.00 s)``;
        empty when nothing was lost."""
        if not self.damaged:
            return ""
        lost = max(self.lost_frames, self.expected_frames - rendered if self.expected_frames else 0)
        parts = []
        if lost:
            where = [t for t in self.lost_times if self.ends_early is None or t < self.ends_early]
            at = ", ".join(f"{t:.2f}" for t in where[:SHOWN_TIMES]) + (", ..." if len(where) > SHOWN_TIMES else "")
            parts.append(f"{lost} frame{'s' if lost != 1 else ''} could not be decoded" + (f" (at {at} s)" if at else ""))
        elif self.decode_errors:
            parts.append(f"the decoder reported {self.decode_errors} damaged packet{'s' if self.decode_errors != 1 else ''}")
        if self.ends_early is not None:
            parts.append(f"the file ends early, after {self.ends_early:.2f} s")
        return "; ".join(parts) + f"; {verb} the {rendered} that decode"
