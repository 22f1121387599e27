"""Development clips and strips: hard cases made from easy clips, and frames to look at.

The shared sample clips are bright and mostly rigid; codec mode's failures show in dim,
low-contrast scenes with slow non-rigid motion. ``degrade`` makes such a clip from any clip
(gamma, contrast, sensor noise), re-encoded with x264's defaults (B-pyramid, 3 references), as a
real film would be. ``strips`` puts frames 0, 20, 40, ... of several renders side by side at full
resolution, one PNG per frame, for the eye.

    python -m codecstyle.bench.dev_clips degrade SRC DST [--gamma 2.2] [--contrast 0.45] [--noise 2] [--frames N]
    python -m codecstyle.bench.dev_clips strips OUT_DIR A.mp4 B.mp4 ... [--every 20]
"""
from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction
from typing import List, Optional, Sequence

import av
import numpy as np

from ..errors import CodecStyleError
from ..video.reader import probe, read_frames


def dim(rgb: np.ndarray, gamma: float, contrast: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB made dim and flat: levels raised to ``gamma`` (2.2: half the pixels
    of a normal scene fall below about 50), contrast scaled by ``contrast`` around the mean, plus
    Gaussian noise of ``noise`` levels. Returns uint8."""
    x = (rgb.astype(np.float32) / 255.0) ** gamma * 255.0
    x = x.mean() + (x - x.mean()) * contrast
    x += rng.normal(0.0, noise, x.shape).astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def degrade(src: str, dst: str, gamma: float = 2.2, contrast: float = 0.45, noise: float = 2.0,
            frames: Optional[int] = None, seed: int = 0, scale: float = 1.0) -> int:
    """Write ``dst`` (H.264, x264 defaults at crf 18, the source's frame rate) from the first
    ``frames`` frames of ``src``, each resized by ``scale`` (bicubic: a small face clip at the
    size of a close-up) and made ``dim``. Returns the frames written."""
    import cv2

    info = probe(src)
    width, height = int(round(info.width * scale)), int(round(info.height * scale))
    rng = np.random.default_rng(seed)
    count = 0
    with av.open(dst, "w") as out:
        rate = info.average_rate or Fraction(25)
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for record in read_frames(src, vectors=False, max_frames=frames):
            rgb = record.rgb if scale == 1.0 else cv2.resize(record.rgb, (width, height),
                                                             interpolation=cv2.INTER_CUBIC)
            rgb = dim(rgb[:stream.height, :stream.width], gamma, contrast, noise, rng)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = count
            frame.time_base = 1 / Fraction(rate)
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode())
    return count


def strips(out_dir: str, videos: Sequence[str], every: int = 20, labels: Optional[Sequence[str]] = None) -> List[str]:
    """Frames 0, ``every``, 2 x ``every``, ... of each video, side by side at full resolution
    (same size videos), one PNG per frame index in ``out_dir``. Returns the PNG paths."""
    import cv2

    os.makedirs(out_dir, exist_ok=True)
    picked: List[List[np.ndarray]] = []
    for path in videos:
        with av.open(path) as container:
            picked.append([f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0))
                           if i % every == 0])
    names = list(labels or [os.path.splitext(os.path.basename(v))[0] for v in videos])
    written = []
    for k in range(min(len(p) for p in picked)):
        row = []
        for name, frames in zip(names, picked):
            tile = np.ascontiguousarray(frames[k])
            cv2.putText(tile, f"{name} #{k * every}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
            row.append(tile)
        path = os.path.join(out_dir, f"strip_{k * every:05d}.png")
        cv2.imwrite(path, cv2.cvtColor(np.concatenate(row, axis=1), cv2.COLOR_RGB2BGR))
        written.append(path)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codecstyle.bench.dev_clips", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("degrade", help="a dim, flat, noisy copy of a clip")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--gamma", type=float, default=2.2)
    p.add_argument("--contrast", type=float, default=0.45)
    p.add_argument("--noise", type=float, default=2.0)
    p.add_argument("--frames", type=int)
    p.add_argument("--scale", type=float, default=1.0, help="resize by this factor first (bicubic)")
    p = sub.add_parser("strips", help="frames side by side, one PNG per frame index")
    p.add_argument("out_dir")
    p.add_argument("videos", nargs="+")
    p.add_argument("--every", type=int, default=20)
    args = parser.parse_args(argv)
    try:
        if args.command == "degrade":
            n = degrade(args.src, args.dst, args.gamma, args.contrast, args.noise, args.frames,
                        scale=args.scale)
            print(f"wrote {args.dst} ({n} frames)", file=sys.stderr)
        else:
            for path in strips(args.out_dir, args.videos, args.every):
                print(path)
    except CodecStyleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
