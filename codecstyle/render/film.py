"""``render_film``: a whole film in segments, in parallel, resumable, with one look throughout.

1. Plan: demux the input (no decoding) and cut it at keyframes into segments (``segments``).
2. Open the manifest folder beside the output and keep what an earlier, identical run finished
   (``manifest``).
3. Norm: sample frames across the film in the workers and store the shared statistics
   (``norm``), unless ``--norm frame``.
4. Render the missing segments, one job per segment, on the chosen backend (``workers``,
   ``ray_backend``); each finished segment is committed to the manifest.
5. Join the segments without re-encoding and copy the source's audio/subtitles once
   (``concat``); the output appears by rename, complete. The manifest folder is removed.

Memory stays flat with film length: frames stream through every stage, each worker holds one
segment's engine state, and the parent holds only the plan (one integer per frame). The parent
of local worker processes never loads the network (torch) itself.
"""
from __future__ import annotations

import dataclasses
import os
import resource
import time
from typing import Callable, Dict, List, Optional

from ..errors import CodecStyleError
from ..options import ProcessOptions, RenderOptions
from ..pipeline import RunSummary
from ..video.decode_report import DecodeReport
from ..video.reader import fit_size, probe
from ..video.writer import VideoWriter
from . import norm as norm_mod
from .concat import join_segments
from .manifest import FORMAT, NORM, Manifest, input_identity
from ..progress import TerminalBar
from .progress import FilmProgress
from .segments import SegmentPlan, plan_segments
from .tasks import STATELESS_MODES, CaptureJob, SegmentJob, run_capture, run_segment
from .workers import InlineBackend, LocalPool, plan_workers


#: Automatic segments of engines with frame-to-frame state are at least this many GOPs long:
#: each warms up over the GOP before it, so this bounds that extra work to a third.
WARMUP_GOPS = 3


def make_backend(render: RenderOptions, jobs: int, pixels: int, on_event, stateful: bool = True):
    """The backend for ``render`` and ``jobs`` pending segments of ``pixels`` pixels per frame."""
    if render.backend == "ray":
        from .ray_backend import RayBackend

        return RayBackend(render.ray_address, render.workers, render.threads, on_event)
    workers, threads = plan_workers(render.workers, render.threads, jobs, pixels, stateful=stateful)
    if workers == 1:
        return InlineBackend(threads, on_event)
    return LocalPool(workers, threads, on_event)


def render_film(input_path: str, output_path: str, options: Optional[ProcessOptions] = None,
                render: Optional[RenderOptions] = None, progress: bool = True,
                frame_costs: bool = False, on_progress: Optional[Callable[[dict], None]] = None) -> RunSummary:
    """Stylize ``input_path`` into ``output_path`` in segments (see the module docstring).

    Returns the run summary; ``summary.render`` says how: workers, threads, backend, segments
    (rendered, reused), norm, per-process peak memory. Running the same call again after an
    interruption reuses every finished segment. Raises ``CodecStyleError`` for user errors,
    before any work where it can. ``frame_costs``: ``summary.render["frame_costs"]`` lists each
    rendered frame's cost in seconds (the time since its segment's previous frame), in display
    order (for ``bench``). ``progress``: a bar on stderr (``codecstyle.progress.TerminalBar``);
    ``on_progress(snapshot)``: every progress snapshot (``render.progress``), for other views.
    """
    from ..nets.style_spec import parse_style

    options = (options or ProcessOptions()).validate()
    render = (render or RenderOptions()).validate()
    started = time.perf_counter()
    input_path = os.path.abspath(input_path)
    info = probe(input_path)
    parse_style(options.style)
    style_identity = []
    if options.style_image:
        from ..style_images import load_style_images, parse_style_images

        load_style_images(options.style_image)  # a missing or corrupt picture fails before any work
        style_identity = [input_identity(os.path.abspath(p)) for p, _ in parse_style_images(options.style_image)]
    if options.look == "photo":  # no network, so no normalisation statistics to share
        render = dataclasses.replace(render, norm="frame")
    VideoWriter(output_path, info, codec=options.codec, crf=options.crf, preset=options.preset).abort()
    t0 = time.perf_counter()
    stateful = options.mode not in STATELESS_MODES  # its segments warm up over the GOP before them
    plan = plan_segments(input_path, render.segment_seconds, options.max_frames, WARMUP_GOPS if stateful else 0,
                         start=options.start, duration=options.duration)
    if options.strict and plan.ends_early is not None:
        raise CodecStyleError(f"damaged video stream in {input_path}: the file ends early, "
                              f"after {plan.ends_early:.2f} s")
    stages = {"plan": time.perf_counter() - t0}
    size = fit_size(info.width, info.height, options.max_size)  # what the workers' frames will be
    ext = os.path.splitext(output_path)[1]
    description = {
        "format": FORMAT, "input": input_identity(input_path), "norm": render.norm, "size": list(size),
        "options": {k: v for k, v in options.as_dict().items() if k != "device"},
        "plan": [(s.start_pts, s.end_pts, s.frames) for s in plan.segments], "ext": ext,
        "style_images": style_identity,
    }
    from .. import __version__
    description["version"] = __version__
    manifest = Manifest.open(output_path, description)
    label = os.path.basename(input_path)
    terminal = TerminalBar(label, enabled=progress)
    bar = FilmProgress({s.index: s.frames for s in plan.segments}, manifest.done,
                       [terminal] + ([on_progress] if on_progress else []))
    backend = warming = None
    rendered: List[dict] = []
    try:
        if manifest.restarted:
            bar.note("input or options changed since the unfinished render: starting over")
        elif manifest.done:
            bar.note(f"resuming: {len(manifest.done)} of {len(plan.segments)} segments already rendered")
        pending = [s for s in plan.segments if s.index not in manifest.done]
        if pending or (render.norm != "frame" and manifest.norm is None):
            backend = make_backend(render, len(pending) or 1, size[0] * size[1], bar.event, stateful)
        if pending and stateful and backend.name != "ray":  # Ray nodes have caches of their own
            from ..engine.kernel_warmup import warm_in_child

            warming = warm_in_child()  # runs while statistics are sampled
        norm_path = None
        if render.norm != "frame":
            if manifest.norm is None:
                t0 = time.perf_counter()
                data = _sample_norm(backend, plan, info, options, render.norm, input_path, bar)
                manifest.commit_norm(data, norm_mod.describe(data))
                stages["norm"] = time.perf_counter() - t0
            norm_path = manifest.path(NORM)
        # Longest first: the last segments to finish are short ones, so workers finish together.
        jobs = [SegmentJob(input_path, info, options, s, manifest.directory, _name(s.index, ext), norm_path,
                           backend.threads, plan.windowed, frame_costs)
                for s in sorted(pending, key=lambda s: s.frames, reverse=True)]
        if warming is not None:
            warming.wait()
        if jobs:
            for _, entry in backend.run(run_segment, jobs):
                manifest.commit_segment(entry)
                rendered.append(entry)
        terminal.close()
        bar.stage("joining")
        t0 = time.perf_counter()
        entries = [manifest.done[s.index] for s in plan.segments]
        decode = _decode_report(entries, plan)
        if options.strict and decode.damaged:
            raise CodecStyleError(f"damaged video stream in {input_path}: "
                                  f"{decode.describe(sum(e['frames'] for e in entries))}")
        end_time = plan.end_time if plan.windowed else _unwindowed_end(input_path, options, info)
        if decode.ends_early is not None:  # the audio is cut to the video that exists
            end_time = decode.ends_early if end_time is None else min(end_time, decode.ends_early)
        copied, dropped, packets = join_segments([manifest.path(e["file"]) for e in entries], info,
                                                 output_path, end_time, plan.start_time)
        stages["join"] = time.perf_counter() - t0
        if packets != sum(e["frames"] for e in entries):
            raise RuntimeError(f"joined {packets} video packets from segments holding "
                               f"{sum(e['frames'] for e in entries)} frames")
    except BaseException as exc:
        if warming is not None and warming.poll() is None:
            warming.kill()
            warming.wait()
        if backend is not None:
            backend.close(abort=True)
        terminal.abandon()
        keep = manifest.has_work
        manifest.release(keep=keep)
        if keep and not isinstance(exc, CodecStyleError) and progress:
            bar.note(f"{len(manifest.done)} finished segments kept in {manifest.directory}; "
                     f"run the same command again to resume")
        raise
    if backend is not None:
        backend.close()
    manifest.release(keep=False)
    bar.stage("done")
    summary = _summary(input_path, output_path, options, render, plan, entries, rendered, stages, started,
                       copied, dropped, backend, manifest)
    summary.decode = decode.as_dict()
    if frame_costs:
        summary.render["frame_costs"] = [c for e in entries for c in e.get("frame_costs", [])]
    return summary


def _name(index: int, ext: str) -> str:
    return f"seg-{index:05d}{ext}"


def _sample_norm(backend, plan: SegmentPlan, info, options: ProcessOptions, norm: str, input_path: str,
                 bar: FilmProgress) -> bytes:
    """Capture statistics of frames sampled across the film, in the workers; ``norm.npz`` bytes."""
    picks = norm_mod.sample_pts(plan, norm)
    bar.stage("sampling")
    bar.note(f"sampling {len(picks)} frames for --norm {norm}")
    parts = max(1, min(backend.workers, len(picks)))
    chunks = [picks[i * len(picks) // parts:(i + 1) * len(picks) // parts] for i in range(parts)]
    jobs = [CaptureJob(input_path, info, options, chunk, backend.threads, plan.windowed) for chunk in chunks]
    captures = [cap for _, part in sorted(backend.run(run_capture, jobs), key=lambda r: r[0]) for cap in part]
    if not captures:
        raise CodecStyleError(f"could not decode any sampled frame of {input_path}")
    return norm_mod.pack(captures, norm)


def _decode_report(entries: List[dict], plan: SegmentPlan) -> DecodeReport:
    """The film's ``DecodeReport``: its segments' merged, and where the file ends early."""
    report = DecodeReport()
    for entry in entries:
        report = report.merge(DecodeReport.from_dict(entry.get("decode")))
    if plan.ends_early is not None:
        report.ends_early = min(plan.ends_early, report.ends_early or plan.ends_early)
    report.expected_frames = max(report.expected_frames, plan.expected_frames if plan.ends_early else 0)
    return report


def _unwindowed_end(input_path: str, options: ProcessOptions, info) -> Optional[float]:
    if not options.max_frames or (info.frame_count and options.max_frames >= info.frame_count):
        return None
    from ..pipeline import _end_time

    return _end_time(input_path, options.max_frames)


def _merge_engine(entries: List[dict]) -> Dict[str, object]:
    """One engine description for the film: numbers summed, per-frame index lists shifted to
    film indices and joined, anything else from the first segment."""
    merged: Dict[str, object] = {}
    offset = 0
    for entry in entries:
        for key, value in (entry.get("engine") or {}).items():
            if isinstance(value, bool) or not isinstance(value, (int, float, list, dict)):
                merged.setdefault(key, value)
            elif isinstance(value, (int, float)):
                merged[key] = merged.get(key, 0) + value
            elif isinstance(value, list):
                merged.setdefault(key, [])
                merged[key].extend(v + offset if isinstance(v, int) else v for v in value)
            else:
                into = merged.setdefault(key, {})
                for k, v in value.items():
                    into[k] = into.get(k, 0) + v if isinstance(v, (int, float)) else v
        offset += entry["frames"]
    if "quality" in merged and entries:
        merged["quality"] = entries[0]["engine"].get("quality")
    return merged


def _summary(input_path, output_path, options, render, plan, entries, rendered, stages, started,
             copied, dropped, backend, manifest):
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = time.perf_counter() - started
    frames = sum(e["frames"] for e in entries)
    made = sum(e["frames"] for e in rendered)
    for entry in rendered:
        for key, value in entry["stages"].items():
            stages[key] = stages.get(key, 0.0) + value
    share = sum(e["network_share"] * e["frames"] for e in entries) / frames if frames else 0.0
    mismatched = [e["index"] for e in entries if e.get("planned_frames") not in (None, e["frames"])]
    norm_info = manifest.norm or {}
    details = {
        "backend": getattr(backend, "name", "none"), "workers": getattr(backend, "workers", 0),
        "threads": getattr(backend, "threads", 0), "norm": render.norm,
        "norm_samples": norm_info.get("samples", 0), "shots": norm_info.get("shots", 0),
        "segments": len(entries), "segments_rendered": len(rendered),
        "warmup_frames": sum(e.get("warmup_frames", 0) for e in rendered),
        "segments_reused": len(entries) - len(rendered), "frames_rendered": made,
        "segment_seconds": round(plan.target_seconds, 3), "open_gop_keyframes": plan.open_keyframes,
        "windowed": plan.windowed, "manifest": manifest.directory,
        "peak_rss_mb": {"main": round(main_peak, 1),
                        "worker_max": max((e.get("peak_rss_mb", 0) for e in rendered), default=0)},
        "segment_list": [{"index": e["index"], "frames": e["frames"], "seconds": e["seconds"],
                          "worker": e.get("worker"), "reused": e not in rendered} for e in entries],
    }
    if mismatched:
        details["segments_with_other_frame_count_than_planned"] = mismatched
    first = entries[0]
    return RunSummary(
        input=input_path, output=output_path, frames=frames, seconds=round(seconds, 3),
        fps=round(made / seconds, 3) if seconds > 0 else 0.0, width=first["width"], height=first["height"],
        network_share=round(share, 4), stages={k: round(v, 4) for k, v in stages.items()},
        options=options.as_dict(), engine=_merge_engine(entries), streams_copied=list(copied),
        streams_dropped=list(dropped), device=first.get("device", "cpu"), render=details)


__all__ = ["render_film", "make_backend"]
