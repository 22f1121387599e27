"""A corpus of odd and broken inputs, made with PyAV and plain file operations (no ffmpeg binary).

Each ``OddInput`` builds one input under a temporary folder and says what the CLI should do with
it: ``"ok"`` (renders, exit 0, every decodable frame in the output) or ``"error"`` (exit 2 and one
clean stderr line matching ``message``). The frame counts were checked by decoding each file with
PyAV 18 / FFmpeg 8 (see ``describe``). Clips are tiny (about 64x48, 6-24 frames, 25 fps) so the
whole corpus renders in seconds.

The output of a case is ``os.path.join(tmpdir, entry.output_name)``; the few cases about an
unwritable output prepare ``tmpdir`` in ``make`` (a read-only sub-folder, for instance).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, List, Optional

import av
import numpy as np

from clips import make_clip, moving_frames

W, H, N = 64, 48, 12  # the default tiny clip


@dataclass(frozen=True)
class OddInput:
    """One odd input: ``make(tmpdir)`` writes it and returns its path (a file, a folder, or a path
    that does not exist); ``expect`` is ``"ok"`` or ``"error"``."""

    name: str
    make: Callable[[str], str]
    expect: str
    frames: Optional[int] = None  # "ok": frames the output must have; None = not checked exactly
    message: Optional[str] = None  # "error": regex the one-line stderr message must match
    audio: bool = False  # the source has audio that must be kept
    output_name: str = "out.mp4"  # joined to tmpdir; may name a missing or read-only folder
    note: str = ""
    skip_if_root: bool = False  # permissions do not apply to root (os.geteuid() == 0)
    warns: bool = False  # "ok" with frames that cannot be decoded: one warning line


# --- helpers -----------------------------------------------------------------------------------

def _encode(path: str, codec: str, frames: Iterable[np.ndarray], src_format: str = "rgb24",
            pix_fmt: str = "yuv420p", fps: int = 25, options: Optional[dict] = None,
            format: Optional[str] = None, setup: Optional[Callable] = None) -> str:
    """Encode ``frames`` (``src_format`` arrays) with ``codec`` into ``path``. ``setup(stream)``
    may adjust the stream before the first frame. Width and height come from the first frame."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(path, "w", format=format) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if options:
            stream.options = dict(options)
        if setup is not None:
            setup(stream)
        for arr in frames:
            vf = av.VideoFrame.from_ndarray(arr, format=src_format).reformat(format=pix_fmt)
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _frames(width: int = W, height: int = H, count: int = N):
    return list(moving_frames(width, height, count))


def _tiny(path: str, **kwargs) -> str:
    """``make_clip`` at the corpus' default size (64x48, 12 frames, GOP 6)."""
    kwargs.setdefault("width", W)
    kwargs.setdefault("height", H)
    kwargs.setdefault("frames", N)
    kwargs.setdefault("gop", 6)
    return make_clip(path, **kwargs)


def _remux(src: str, dst: str, fix_packet: Optional[Callable] = None,
           options: Optional[dict] = None) -> str:
    """Copy ``src``'s packets into ``dst`` unchanged except for ``fix_packet(packet)`` (may
    return False to drop the packet)."""
    with av.open(src) as inp, av.open(dst, "w", options=options or {}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams
                   if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue  # the flush packet
            if fix_packet is not None and fix_packet(packet) is False:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def _truncate(path: str, fraction: float) -> str:
    with open(path, "r+b") as f:
        f.truncate(int(os.path.getsize(path) * fraction))
    return path


def _damage(path: str, at: float, length: int, seed: int = 1) -> str:
    """Overwrite ``length`` bytes starting at ``at`` (fraction of the file) with noise."""
    size = os.path.getsize(path)
    garbage = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    with open(path, "r+b") as f:
        f.seek(int(size * at))
        f.write(garbage)
    return path


def _p(tmpdir: str, name: str) -> str:
    return os.path.join(tmpdir, name)


# --- makers ------------------------------------------------------------------------------------

def _pts_equal_dts(shift: bool):
    """x264 with 3 B-frames, remuxed into MP4 with every packet's pts set to its dts. With
    ``shift`` the timestamps start at 0 (what a careless muxer writes); without it they keep
    x264's negative start (dts -1024, -512 in 1/12800), which the MP4 muxer's edit list then
    hides: the demuxer flags those two packets discard, so two frames never come out."""
    def make(tmpdir: str) -> str:
        src = _tiny(_p(tmpdir, "ptsdts.src.mp4"), frames=16, gop=8, bframes=3)
        first = []

        def fix(packet):
            if packet.stream.type == "video":
                if not first:
                    first.append(packet.dts if shift else 0)
                packet.pts = packet.dts = packet.dts - first[0]

        return _remux(src, _p(tmpdir, f"pts_equal_dts{'' if shift else '_neg'}.mp4"), fix)
    return make


def _pts_equal_dts_cut(tmpdir: str) -> str:
    """pts set to dts (from 0) in a fast-start MP4 with audio, cut at 70 % like a download."""
    src = _tiny(_p(tmpdir, "ptsdts.src.mp4"), frames=24, gop=8, bframes=3, audio=True)
    first = []

    def fix(packet):
        if packet.stream.type == "video":
            if not first:
                first.append(packet.dts)
            packet.pts = packet.dts = packet.dts - first[0]

    dst = _remux(src, _p(tmpdir, "pts_equal_dts_cut.mp4"), fix, options={"movflags": "+faststart"})
    return _truncate(dst, 0.7)


def _truncated_moov_end(tmpdir: str) -> str:
    return _truncate(_tiny(_p(tmpdir, "truncated.mp4"), frames=24), 0.7)


def _truncated_faststart(tmpdir: str) -> str:
    src = _tiny(_p(tmpdir, "faststart.src.mp4"), frames=24)
    dst = _remux(src, _p(tmpdir, "truncated_faststart.mp4"), options={"movflags": "+faststart"})
    return _truncate(dst, 0.7)


def _mpeg4_avi(tmpdir: str) -> str:
    return _tiny(_p(tmpdir, "mpeg4_b.avi"), codec="mpeg4", bframes=2, frames=N)


# MPEG-4 Part 2 start codes
_VOP, _USER_DATA = b"\x00\x00\x01\xb6", b"\x00\x00\x01\xb2"


def _vop_type(payload: bytes) -> int:
    """0=I, 1=P, 2=B, 3=S of the first VOP in ``payload``."""
    return payload[payload.index(_VOP) + 4] >> 6


def _n_vop(time_bits: int, increment: int) -> bytes:
    """A not-coded P-VOP (what DivX/Xvid store in the slot after a packed P+B packet)."""
    # coding type P, modulo_time_base 0, marker, time increment, marker, vop_coded 0
    bits = "01" + "0" + "1" + format(increment, f"0{time_bits}b") + "1" + "0"
    bits += "0" + "1" * ((7 - len(bits)) % 8)  # stuffing: a 0, then 1s up to a byte boundary
    return _VOP + int(bits, 2).to_bytes(len(bits) // 8, "big")


def _mpeg4_packed(tmpdir: str) -> str:
    """DivX-style packed B-frames: each P packet also carries the B-frame(s) that precede it in
    display order, followed by one not-coded VOP per moved B-frame, and a ``DivX503b1393p`` user
    data string (the ``p`` tells FFmpeg's decoder to unpack). FFmpeg's encoder never writes this,
    so the packets of a normal ``mpeg4`` + 1 B-frame encode are rearranged by hand."""
    src = _tiny(_p(tmpdir, "packed.src.avi"), codec="mpeg4", bframes=1, frames=N)
    fps = 25
    time_bits = max(1, (fps - 1).bit_length())
    with av.open(src) as inp:
        stream = inp.streams.video[0]
        packets = [(bytes(p), p.is_keyframe) for p in inp.demux(stream) if p.size]
    packed, i = [], 0
    while i < len(packets):
        data, key = packets[i]
        if _vop_type(data) == 2:
            raise AssertionError("B-VOP without a preceding anchor")
        bs = []
        while i + 1 + len(bs) < len(packets) and _vop_type(packets[i + 1 + len(bs)][0]) == 2:
            bs.append(packets[i + 1 + len(bs)][0])
        packed.append((data + b"".join(bs), key))
        packed.extend((_n_vop(time_bits, 0), False) for _ in bs)
        i += 1 + len(bs)
    first, key = packed[0]
    at = first.index(_VOP)
    packed[0] = (first[:at] + _USER_DATA + b"DivX503b1393p" + first[at:], key)
    dst = _p(tmpdir, "mpeg4_packed_b.avi")
    with av.open(src) as inp, av.open(dst, "w") as out:
        ostream = out.add_stream_from_template(inp.streams.video[0])
        for n, (data, key) in enumerate(packed):
            packet = av.Packet(data)
            packet.stream = ostream
            packet.dts = packet.pts = n
            packet.time_base = Fraction(1, fps)
            packet.is_keyframe = key
            out.mux(packet)
    return dst


def _ts_damaged(tmpdir: str) -> str:
    path = _tiny(_p(tmpdir, "damaged.ts"), frames=24, gop=6)
    return _damage(path, 0.45, 600)


def _avi_damaged(tmpdir: str) -> str:
    """Noise over the middle of the ``movi`` list (the AVI header alone is about 4 KB of this
    8 KB file, and noise there only upsets header parsing)."""
    path = _tiny(_p(tmpdir, "damaged.avi"), codec="mpeg4", bframes=0, frames=24, gop=6)
    with open(path, "rb") as f:
        data = f.read()
    start, end = data.index(b"movi"), data.rindex(b"idx1")
    return _damage(path, (start + end) / 2 / len(data), 300)


def _packed_damaged(tmpdir: str) -> str:
    """Packed B-frames (as ``_mpeg4_packed``) with noise over the middle of the frame data."""
    path = _mpeg4_packed(tmpdir)
    with open(path, "rb") as f:
        data = f.read()
    start, end = data.index(b"movi"), data.rindex(b"idx1")
    return _damage(path, (start + end) / 2 / len(data), 40, seed=3)


def _truncated_mkv(tmpdir: str) -> str:
    """x264 in Matroska cut at 60 %: Matroska needs no index at the end, so the head plays."""
    return _truncate(_tiny(_p(tmpdir, "cut.mkv"), frames=24, gop=6), 0.6)


def _size(width: int, height: int, frames: int = 8, codec: str = "libx264", ext: str = "mp4"):
    def make(tmpdir: str) -> str:
        return _tiny(_p(tmpdir, f"size_{width}x{height}.{ext}"), width=width, height=height,
                     frames=frames, codec=codec)
    return make


def _container(ext: str, codec: str = "libx264", **kwargs):
    def make(tmpdir: str) -> str:
        return _tiny(_p(tmpdir, f"{codec}.{ext}"), codec=codec, **kwargs)
    return make


def _gif(tmpdir: str) -> str:
    return _encode(_p(tmpdir, "clip.gif"), "gif", _frames(), pix_fmt="rgb8")


def _y4m(tmpdir: str) -> str:
    """YUV4MPEG2 written by hand (the yuv4mpegpipe muxer wants ``wrapped_avframe``)."""
    path = _p(tmpdir, "clip.y4m")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F25:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in _frames():
            yuv = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            f.write(b"FRAME\n")
            f.write(yuv.to_ndarray().tobytes())
    return path


def _annexb(tmpdir: str) -> str:
    return _tiny(_p(tmpdir, "raw.h264"), frames=N)


def _rgba(tmpdir: str, codec: str, pix_fmt: str, ext: str):
    frames = []
    yy, xx = np.mgrid[0:H, 0:W]
    for t, rgb in enumerate(_frames()):
        alpha = (((xx + 2 * t) // 8 + yy // 8) % 2 * 255).astype(np.uint8)  # moving checkerboard
        frames.append(np.dstack([rgb, alpha]))
    return _encode(_p(tmpdir, f"alpha_{codec}.{ext}"), codec, frames, src_format="rgba",
                   pix_fmt=pix_fmt)


def _rotated(degrees: int):
    def make(tmpdir: str) -> str:
        return _tiny(_p(tmpdir, f"rot{degrees}.mp4"), rotation=degrees)
    return make


VFR_TIMES = [0.0, 0.04, 0.08, 0.2, 0.22, 0.24, 0.5, 0.54, 0.58, 0.6, 1.0, 1.04]


def _vfr(tmpdir: str) -> str:
    return _tiny(_p(tmpdir, "vfr.mp4"), frame_times=VFR_TIMES)


def _image(ext: str, codec: str, pix_fmt: str):
    def make(tmpdir: str) -> str:
        return _encode(_p(tmpdir, f"still.{ext}"), codec, _frames(count=1), pix_fmt=pix_fmt,
                       format="image2")
    return make


def _audio_only(ext: str, codec: str):
    def make(tmpdir: str) -> str:
        path = _p(tmpdir, f"tone.{ext}")
        rate = 48000 if codec == "aac" else 16000
        with av.open(path, "w") as out:
            stream = out.add_stream(codec, rate=rate)
            stream.layout = "stereo"
            fmt = "fltp" if codec == "aac" else "s16"
            for start in range(0, rate // 2, 1024):
                t = np.arange(start, start + 1024) / rate
                wave = 0.2 * np.sin(2 * np.pi * 440 * t)
                if fmt == "s16":
                    arr = (np.stack([wave, wave], axis=1).reshape(1, -1) * 32767).astype(np.int16)
                else:
                    arr = np.stack([wave, wave]).astype(np.float32)
                af = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
                af.sample_rate, af.pts, af.time_base = rate, start, Fraction(1, rate)
                for packet in stream.encode(af):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path
    return make


def _empty(tmpdir: str) -> str:
    path = _p(tmpdir, "empty.mp4")
    open(path, "wb").close()
    return path


def _text(tmpdir: str) -> str:
    path = _p(tmpdir, "notes.mp4")
    with open(path, "w") as f:
        f.write("this is not a video\n" * 20)
    return path


def _directory(tmpdir: str) -> str:
    path = _p(tmpdir, "folder.mp4")
    os.makedirs(path, exist_ok=True)
    return path


def _missing(tmpdir: str) -> str:
    return _p(tmpdir, "does_not_exist.mp4")


def _plain(tmpdir: str) -> str:
    return _tiny(_p(tmpdir, "plain.mp4"))


def _readonly_output(tmpdir: str) -> str:
    ro = _p(tmpdir, "ro")
    os.makedirs(ro, exist_ok=True)
    os.chmod(ro, 0o555)
    return _plain(tmpdir)


def _single_frame(tmpdir: str) -> str:
    return _tiny(_p(tmpdir, "one_frame.mp4"), frames=1)


def _same_pts(tmpdir: str) -> str:
    """Intra-only MJPEG in Matroska, every frame at pts 0 (Matroska accepts equal timestamps)."""
    path = _p(tmpdir, "same_pts.mkv")
    with av.open(path, "w") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuvj420p"
        for rgb in _frames(count=8):
            vf = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
            for packet in stream.encode(vf):
                packet.pts = packet.dts = 0
                out.mux(packet)
        for packet in stream.encode():
            packet.pts = packet.dts = 0
            out.mux(packet)
    return path


def _starts_with_p(tmpdir: str) -> str:
    """An MP4 cut badly at the start: the first GOP's I-frame is dropped, so decoding starts on
    P/B-frames that refer to a missing picture."""
    src = _tiny(_p(tmpdir, "nokey.src.mp4"), frames=18, gop=6, bframes=0)
    seen = []

    def drop_first_key(packet):
        if packet.stream.type == "video" and not seen:
            seen.append(1)
            return False

    return _remux(src, _p(tmpdir, "starts_with_p.mp4"), drop_first_key)


# --- the corpus --------------------------------------------------------------------------------

CORPUS: List[OddInput] = [
    # 1-2. B-frames with pts == dts; truncated files
    OddInput("pts_equal_dts", _pts_equal_dts(True), "ok", frames=16,
             note="x264 3 B-frames, MP4 remuxed with every packet pts set to its dts (from 0)"),
    OddInput("pts_equal_dts_negative", _pts_equal_dts(False), "ok", frames=14,
             note="as pts_equal_dts but starting at dts -2 frames: the edit list hides 2 frames"),
    OddInput("pts_equal_dts_cut", _pts_equal_dts_cut, "ok", warns=True, audio=True,
             note="pts set to dts, fast-start MP4 with audio, cut at 70 % like a download"),
    OddInput("truncated_moov_at_end", _truncated_moov_end, "error",
             message=r"(?i)moov|corrupt|truncat|invalid|not a (readable )?video",
             note="normal MP4 (moov after mdat) cut at 70 %: no index at all"),
    OddInput("truncated_faststart", _truncated_faststart, "ok", warns=True,
             note="fast-start MP4 cut at 70 %: 13 of 24 packets; decode raises on the last one"),
    # 3. MPEG-4 Part 2
    OddInput("mpeg4_bframes_avi", _mpeg4_avi, "ok", frames=N,
             note="MPEG-4 Part 2 with 2 B-frames in AVI (unpacked, as FFmpeg writes it)"),
    OddInput("mpeg4_packed_bframes_avi", _mpeg4_packed, "ok", frames=N,
             note="DivX-style packed B-frames (P+B in one packet, then an N-VOP) in AVI"),
    # 4. damaged packets
    OddInput("packed_bframes_damaged", _packed_damaged, "ok", warns=True,
             note="packed B-frames AVI with 40 bytes of noise in its frame data"),
    OddInput("truncated_mkv", _truncated_mkv, "ok", warns=True, note="Matroska cut at 60 %"),
    OddInput("ts_damaged", _ts_damaged, "ok", warns=True,
             note="x264 MPEG-TS, 600 bytes of noise in the middle: 21 of 24 frames decode, pts gap"),
    OddInput("avi_damaged", _avi_damaged, "ok", warns=True,
             note="mpeg4 AVI, 300 bytes of noise in movi: 21 of 24 decode, pts renumbered 0..20"),
    # 5. tiny sizes
    OddInput("size_2x2", _size(2, 2), "ok", frames=8, note="2x2 pixels, x264"),
    OddInput("size_4x4", _size(4, 4), "ok", frames=8, note="4x4 pixels, x264"),
    OddInput("size_16x16", _size(16, 16), "ok", frames=8, note="16x16 pixels (one macroblock), x264"),
    # 6. containers
    OddInput("mkv_h264", _container("mkv"), "ok", frames=N, note="x264 in Matroska"),
    OddInput("mov_h264", _container("mov"), "ok", frames=N, note="x264 in QuickTime"),
    OddInput("webm_vp9", _container("webm", "libvpx-vp9"), "ok", frames=N,
             note="VP9 in WebM (no motion vectors)"),
    OddInput("webm_vp8", _container("webm", "libvpx"), "ok", frames=N, note="VP8 in WebM"),
    OddInput("avi_h264", _container("avi"), "ok", frames=N,
             note="x264 with B-frames in AVI: decoded pts 1, 3, 2, 5, 4 (AVI has no pts)"),
    OddInput("ts_h264", _container("ts"), "ok", frames=N,
             note="x264 in MPEG-TS (first pts 0.08 s in 1/90000)"),
    OddInput("flv_flv1", _container("flv", "flv"), "ok", frames=N, note="Sorenson H.263 (flv1) in FLV"),
    OddInput("mpg_mpeg2", _container("mpg", "mpeg2video", bframes=2), "ok", frames=N,
             note="MPEG-2 with B-frames in MPEG-PS"),
    OddInput("avi_mjpeg", _container("avi", "mjpeg", pix_fmt="yuvj420p"), "ok", frames=N,
             note="Motion JPEG (full-range yuvj420p) in AVI"),
    OddInput("gif", _gif, "ok", frames=N, note="animated GIF, rgb8 palette"),
    OddInput("y4m_raw", _y4m, "ok", frames=N, note="uncompressed YUV4MPEG2 written by hand"),
    OddInput("annexb_h264", _annexb, "ok", frames=N,
             note="raw Annex-B .h264 stream: no container, every decoded pts is None"),
    # 7. pixel formats and sizes
    OddInput("yuv444p", _container("mp4", pix_fmt="yuv444p"), "ok", frames=N, note="x264 High 4:4:4"),
    OddInput("yuv422p", _container("mp4", pix_fmt="yuv422p"), "ok", frames=N, note="x264 High 4:2:2"),
    OddInput("gray_x264", _container("mp4", pix_fmt="gray"), "ok", frames=N,
             note="x264 luma only (gray)"),
    OddInput("gray_ffv1", _container("mkv", "ffv1", pix_fmt="gray"), "ok", frames=N,
             note="FFV1 gray in Matroska"),
    OddInput("yuv420p10", _container("mp4", pix_fmt="yuv420p10le"), "ok", frames=N, note="x264 High 10"),
    OddInput("rgba_qtrle", lambda d: _rgba(d, "qtrle", "argb", "mov"), "ok", frames=N,
             note="QuickTime Animation with a real alpha channel"),
    OddInput("rgba_png_mov", lambda d: _rgba(d, "png", "rgba", "mov"), "ok", frames=N,
             note="PNG-in-MOV with a real alpha channel"),
    OddInput("odd_size_mpeg4", _size(63, 47, frames=N, codec="mpeg4", ext="avi"), "ok", frames=N,
             note="63x47 MPEG-4 Part 2"),
    OddInput("odd_size_ffv1", _size(63, 47, frames=N, codec="ffv1", ext="mkv"), "ok", frames=N,
             note="63x47 FFV1"),
    # 8-10. rotation, VFR, audio
    OddInput("rotate_90", _rotated(90), "ok", frames=N, note="display matrix rotation 90"),
    OddInput("rotate_270", _rotated(270), "ok", frames=N, note="display matrix rotation 270"),
    OddInput("vfr", _vfr, "ok", frames=len(VFR_TIMES), note="variable frame rate, gaps up to 0.4 s"),
    OddInput("audio_aac", _container("mp4", audio=True), "ok", frames=N, audio=True,
             note="x264 + 440 Hz AAC stereo"),
    # 11. not videos
    OddInput("still_png", _image("png", "png", "rgb24"), "ok", frames=1, note="one PNG picture"),
    OddInput("still_jpeg", _image("jpg", "mjpeg", "yuvj420p"), "ok", frames=1, note="one JPEG picture"),
    OddInput("audio_only_m4a", _audio_only("m4a", "aac"), "error",
             message=r"(?i)not a video|no video stream",
             note="AAC in .m4a, no video stream"),
    OddInput("audio_only_wav", _audio_only("wav", "pcm_s16le"), "error",
             message=r"(?i)not a video|no video stream", note="PCM WAV, no video stream"),
    OddInput("empty_file", _empty, "error", message=r"(?i)empty|not a (readable )?video|invalid|corrupt",
             note="0-byte .mp4"),
    OddInput("text_as_mp4", _text, "error", message=r"(?i)not a (readable )?video|invalid|corrupt",
             note="a text file named .mp4"),
    OddInput("directory", _directory, "error", message=r"(?i)directory",
             note="a folder named folder.mp4"),
    OddInput("missing", _missing, "error", message=r"(?i)no such file|does not exist",
             note="a path that does not exist"),
    # 12. unwritable outputs
    OddInput("output_missing_dir", _plain, "error", message=r"(?i)not writable|does not exist|no such",
             output_name="missing_dir/out.mp4", note="output folder does not exist"),
    OddInput("output_no_extension", _plain, "error", message=r"(?i)extension|format",
             output_name="out", note="output name has no extension to pick a container"),
    OddInput("output_readonly_dir", _readonly_output, "error", message=r"(?i)not writable|permission",
             output_name="ro/out.mp4", skip_if_root=True, note="output folder is mode 0555"),
    # 13. degenerate timing
    OddInput("single_frame", _single_frame, "ok", frames=1, note="an MP4 with one frame"),
    OddInput("same_pts", _same_pts, "ok", frames=8,
             note="MJPEG in Matroska, all 8 frames at pts 0 (the output must invent timestamps)"),
    OddInput("bframes_editlist", _container("mp4", bframes=3), "ok", frames=N,
             note="plain x264 MP4: B-frames and the edit list that hides their delay"),
    OddInput("starts_with_p", _starts_with_p, "ok", frames=12, warns=True,
             note="first I-frame of 18 dropped: FFmpeg skips the 5 orphan P-frames, 12 decode"),
]


def decode_summary(path: str):
    """(frame count, decoded pts list, pict type names, error text or "") of ``path``'s video."""
    pts, types, error = [], [], ""
    try:
        with av.open(path) as container:
            for frame in container.decode(video=0):
                pts.append(frame.pts)
                types.append(getattr(frame.pict_type, "name", str(frame.pict_type)))
    except Exception as exc:  # noqa: BLE001 - reported, not handled
        error = f"{type(exc).__name__}: {exc}"
    return len(pts), pts, types, error


def describe(tmpdir: str):
    """Build every entry under ``tmpdir`` and return rows (name, exists, decodable frames, first
    10 pts, pict types, error) for a human to read."""
    rows = []
    for entry in CORPUS:
        sub = os.path.join(tmpdir, entry.name)
        os.makedirs(sub, exist_ok=True)
        path = entry.make(sub)
        if os.path.isfile(path) and os.path.getsize(path):
            count, pts, types, error = decode_summary(path)
        else:
            count, pts, types, error = 0, [], [], ""
        rows.append((entry.name, os.path.exists(path), count, pts[:10],
                     "".join(t[:1] for t in types), error))
    return rows


if __name__ == "__main__":
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in describe(sys.argv[1] if len(sys.argv) > 1 else tmp):
            name, exists, count, pts, types, error = row
            print(f"{name:24s} {'y' if exists else 'n'} {count:3d} {str(pts):44s} {types:24s} "
                  f"{error[:60]}")
