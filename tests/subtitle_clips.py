"""Clips with a text subtitle stream, built by remuxing a ``make_clip`` clip and adding cues.

PyAV cannot open the ``subrip``/``mov_text`` *encoders* without an ASS header, so the cues go
in as ready-made packets on a codec-less mux stream (``add_mux_stream``).
"""
from __future__ import annotations

import os
import struct
from fractions import Fraction
from typing import Sequence, Tuple

import av

from clips import make_clip

Cue = Tuple[float, float, str]  # (start seconds, duration seconds, text)

DEFAULT_CUES: Sequence[Cue] = ((0.0, 0.3, "hello"), (0.4, 0.3, "second cue"), (0.8, 0.1, "last one"))


def subtitle_payload(codec: str, text: str) -> bytes:
    """The packet bytes a muxer stores for one cue: raw UTF-8 for subrip, 16-bit big-endian
    length + UTF-8 for mov_text (3GPP timed text)."""
    raw = text.encode("utf-8")
    return struct.pack(">H", len(raw)) + raw if codec == "mov_text" else raw


def make_subtitled_clip(path: str, cues: Sequence[Cue] = DEFAULT_CUES, subtitle_codec: str = "subrip",
                        language: str = "eng", **clip_kwargs) -> str:
    """Write ``path`` (.mkv for subrip; .mp4/.mov for mov_text): a ``make_clip`` clip (same
    keyword arguments) plus one subtitle stream holding ``cues``. Returns ``path``."""
    stem, ext = os.path.splitext(path)
    plain = make_clip(f"{stem}.plain{ext}", **clip_kwargs)
    tb = Fraction(1, 1000)
    with av.open(plain) as src, av.open(path, "w") as out:
        targets = {s: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        subs = out.add_mux_stream(subtitle_codec)
        subs.time_base = tb
        subs.metadata["language"] = language
        for packet in src.demux(list(targets)):
            if packet.dts is None and packet.size == 0:
                continue
            packet.stream = targets[packet.stream]
            out.mux(packet)
        for start, duration, text in cues:
            packet = av.Packet(subtitle_payload(subtitle_codec, text))
            packet.pts = packet.dts = int(round(start * 1000))
            packet.duration = int(round(duration * 1000))
            packet.time_base = tb
            packet.stream = subs
            out.mux(packet)
    os.remove(plain)
    return path
