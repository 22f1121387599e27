"""Synthetic test clips made with PyAV: a textured pattern moving by a known amount per frame.

Because the motion is known exactly, propagation and reader tests have exact answers.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Optional, Sequence

import av
import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth but non-flat ``(height, width, 3)`` uint8 pattern (blurred noise plus stripes),
    periodic so that it can be rolled without seams."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3)).astype(np.float32)
    spec = np.fft.fft2(noise, axes=(0, 1))
    fy = np.fft.fftfreq(height)[:, None, None]
    fx = np.fft.fftfreq(width)[None, :, None]
    smooth = np.real(np.fft.ifft2(spec * np.exp(-(fx ** 2 + fy ** 2) * 400.0), axes=(0, 1)))
    smooth = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-9)
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (xx / max(width, 1) * 4 + yy / max(height, 1) * 3))
    img = 0.7 * smooth + 0.3 * stripes[..., None]
    return (img * 255).astype(np.uint8)


def moving_frames(width: int, height: int, frames: int, dx: int = 2, dy: int = 1, seed: int = 0):
    """Yield ``frames`` RGB frames; frame t is the base texture rolled by ``(t*dx, t*dy)``."""
    base = texture(height, width, seed)
    for t in range(frames):
        yield np.roll(base, shift=(t * dy, t * dx), axis=(0, 1))


def make_clip(path: str, width: int = 128, height: int = 96, frames: int = 24, fps: int = 25,
              codec: str = "libx264", bframes: int = 3, gop: int = 12, audio: bool = False,
              pix_fmt: str = "yuv420p", rotation: int = 0, dx: int = 2, dy: int = 1,
              frame_times: Optional[Sequence[float]] = None, options: Optional[dict] = None) -> str:
    """Write a clip and return its path.

    - codec: any PyAV encoder (``libx264``, ``mpeg4``, ``libvpx-vp9``, ``mjpeg`` ...).
    - bframes/gop: x264 B-frames and keyframe interval (ignored by other encoders' options).
    - audio: add a 440 Hz AAC stereo track as long as the video.
    - frame_times: seconds per frame for a variable-frame-rate clip (else constant ``fps``).
    """
    out = av.open(path, "w")
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    opts = dict(options or {})
    if codec == "libx264":
        opts.setdefault("x264-params", f"bframes={bframes}:keyint={gop}:min-keyint={gop}:scenecut=0")
        opts.setdefault("preset", "veryfast")
    elif codec in ("mpeg4", "mpeg2video"):
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = bframes
    if opts:
        stream.options = opts
    if rotation:
        stream.set_display_rotation(rotation)
    if frame_times is not None:
        stream.codec_context.time_base = Fraction(1, 1000)
    astream = None
    if audio:
        astream = out.add_stream("aac", rate=48000)
        astream.layout = "stereo"
    for t, rgb in enumerate(moving_frames(width, height, frames, dx, dy)):
        vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
        if frame_times is not None:
            vf.pts = int(round(frame_times[t] * 1000))
            vf.time_base = Fraction(1, 1000)
        for packet in stream.encode(vf):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    if astream is not None:
        seconds = (frame_times[-1] + 1.0 / fps) if frame_times is not None else frames / fps
        _write_tone(out, astream, seconds)
    out.close()
    return path


def _write_tone(out, astream, seconds: float, rate: int = 48000, chunk: int = 1024) -> None:
    total = int(round(seconds * rate))
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        t = (np.arange(start, start + n) / rate).astype(np.float32)
        wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        af = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
        af.sample_rate = rate
        af.pts = start
        af.time_base = Fraction(1, rate)
        for packet in astream.encode(af):
            out.mux(packet)
    for packet in astream.encode():
        out.mux(packet)
