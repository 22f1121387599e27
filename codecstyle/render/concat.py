"""Joining finished segments into the output without re-encoding (packet-level remux).

Every segment was encoded with the same encoder settings, so their streams share one set of
parameters (for H.264: the same SPS/PPS in the extradata); this is checked, segment by segment,
before a packet of it is copied. Each segment starts with an IDR frame and carries the
source's own timestamps, so presentation times continue across joins by construction. Decode
timestamps are the encoder's (each segment starts ``B-frame delay`` ticks before its first
frame); where a join would make them overlap, they are moved forward by one tick, which
keeps them strictly increasing and never past the packet's pts (Matroska stores no dts at all:
packets that come without one get the next free tick).

``writer.mux_with_source`` adds the source's audio and subtitle streams, copied once, cut where
the rendered part ends. An excerpt's segments keep the source's timestamps too (a resumed render
reuses them as they are); the join moves every stream back by the excerpt's start, so the
output starts at 0. The output is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import os
from typing import Iterator, List, Optional, Sequence, Tuple

import av

from ..errors import CodecStyleError
from ..partial_file import partial_file
from ..video.reader import VideoInfo
from ..video.writer import mux_with_source


def _params(stream) -> Tuple:
    cc = stream.codec_context
    return (cc.name, cc.width, cc.height, cc.format.name if cc.format else None, stream.time_base,
            bytes(cc.extradata or b""))


class _Chain:
    """Packets of several files as one stream; counts them, fixes dts across joins."""

    def __init__(self, paths: Sequence[str], params: Tuple):
        self.paths = list(paths)
        self.params = params
        self.packets = 0
        self.fixed = 0

    def __iter__(self) -> Iterator["av.Packet"]:
        last_dts: Optional[int] = None
        for path in self.paths:
            with av.open(path) as segment:
                stream = segment.streams.video[0]
                if _params(stream) != self.params:
                    raise CodecStyleError(f"segment {os.path.basename(path)} was encoded with other parameters than "
                                          f"the first; delete {os.path.dirname(path)} and render again")
                for packet in segment.demux(stream):
                    if packet.size == 0:
                        continue
                    if packet.dts is None and last_dts is not None:
                        packet.dts = last_dts  # Matroska stores no dts; keep the muxer's order checks happy
                    if packet.dts is not None and last_dts is not None and packet.dts <= last_dts:
                        packet.dts = last_dts + 1
                        self.fixed += 1
                        if packet.pts is not None and packet.dts > packet.pts:
                            raise CodecStyleError(f"cannot join {os.path.basename(path)}: its timestamps overlap "
                                                  f"the segment before")
                    if packet.dts is not None:
                        last_dts = packet.dts
                    self.packets += 1
                    yield packet


def join_segments(paths: Sequence[str], source: VideoInfo, output_path: str,
                  end_time: Optional[float] = None,
                  start_time: Optional[float] = None) -> Tuple[List[str], List[str], int]:
    """Write ``output_path`` from the video of ``paths`` (in order) and the source's audio and
    subtitles, cut to ``[start_time, end_time)`` (seconds on the source's clock; None: open) and,
    with ``start_time``, moved back by it (``writer.mux_with_source``). Returns ``(streams
    copied, streams dropped, video packets written)``."""
    if not paths:
        raise CodecStyleError("no segments to join")
    temp = partial_file(output_path, suffix=os.path.splitext(output_path)[1])
    try:
        with av.open(paths[0]) as first:
            template = first.streams.video[0]
            chain = _Chain(paths, _params(template))
            copied, dropped = mux_with_source(temp, template, iter(chain), source.path, end_time, start_time)
        os.replace(temp, output_path)
    except BaseException as exc:
        try:
            os.remove(temp)
        except FileNotFoundError:
            pass
        if isinstance(exc, (av.error.FFmpegError, OSError)):
            raise CodecStyleError(f"cannot write {output_path} ({getattr(exc, 'strerror', None) or exc})") from None
        raise
    return copied, dropped, chain.packets
