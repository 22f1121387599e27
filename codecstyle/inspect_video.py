"""``codecstyle inspect``: what a video's bitstream offers the codec engine.

GOP structure and frame-type counts, how much of each P/B frame the codec's motion vectors cover
(intra blocks export no vector, so the uncovered share is the intra share), the encoder settings
stored in the stream (x264's SEI string), and whether ``codec`` mode will use the real vectors
or fall back (an analysis proxy re-encoded with x264, or optical flow) for codecs without them.

Pure functions on arrays (``block_coverage``, ``motion_grid``, ``parse_x264_options``,
``gop_lengths``) are separate from the I/O (``inspect_video``, ``read_codec_settings``,
``save_motion_plot``). Vector arrays are PyAV's structured ``MOTION_VECTORS`` arrays
(``source, w, h, src_x, src_y, dst_x, dst_y, flags, motion_x, motion_y, motion_scale``) in coded
pixels, ``dst`` being the block centre; see ARCHITECTURE.md.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import CodecStyleError
from .video.decode_report import DecodeReport
from .video.reader import ZERO_B_CODECS, VideoInfo, probe, read_frames

__all__ = ["FrameStats", "InspectReport", "block_coverage", "motion_grid", "parse_x264_options",
           "gop_lengths", "inspect_video", "read_codec_settings", "format_report", "save_motion_plot"]

#: The fallback ``codec`` mode takes for a codec without vectors (ARCHITECTURE.md).
FALLBACK = "analysis proxy (x264 re-encode, ref=1:bframes=0:weightp=0) or DIS optical flow"
#: x264 settings that matter for the vectors, shown first.
X264_KEYS = ("ref", "bframes", "b_pyramid", "b_adapt", "weightp", "keyint", "keyint_min", "scenecut",
             "me", "subme", "rc", "crf", "bitrate", "threads", "sliced_threads")
CELL = 4  # coverage resolution in pixels: every codec's block sizes are multiples of 4


# ---------------------------------------------------------------------------------------------
# Pure analysis
# ---------------------------------------------------------------------------------------------

def block_coverage(mvs: Optional[np.ndarray], width: int, height: int, cell: int = CELL) -> np.ndarray:
    """Which parts of a ``width`` x ``height`` frame have at least one motion vector.

    mvs: PyAV structured vector array (or None: nothing covered). Returns a bool array of shape
    ``(ceil(height / cell), ceil(width / cell))``; a block of size w x h centred on (dst_x, dst_y)
    marks the cells it overlaps. Bi-predicted blocks (two entries) count once.
    """
    if width < 1 or height < 1 or cell < 1:
        raise ValueError(f"block_coverage: bad frame size {width}x{height} or cell {cell}")
    gh, gw = -(-height // cell), -(-width // cell)
    mask = np.zeros((gh, gw), dtype=bool)
    if mvs is None or len(mvs) == 0:
        return mask
    bw = mvs["w"].astype(np.int64)
    bh = mvs["h"].astype(np.int64)
    x0 = mvs["dst_x"].astype(np.int64) - bw // 2
    y0 = mvs["dst_y"].astype(np.int64) - bh // 2
    x1, y1 = x0 + bw, y0 + bh  # exclusive, in pixels
    for w, h in set(zip(bw.tolist(), bh.tolist())):
        sel = (bw == w) & (bh == h)
        cx0 = np.floor_divide(x0[sel], cell)
        cy0 = np.floor_divide(y0[sel], cell)
        ncx = max(1, -(-int(w) // cell))
        ncy = max(1, -(-int(h) // cell))
        for dy in range(ncy):
            for dx in range(ncx):
                cx, cy = cx0 + dx, cy0 + dy
                # a cell counts only if the block really overlaps it
                inside = ((cx >= 0) & (cx < gw) & (cy >= 0) & (cy < gh)
                          & (cx * cell < x1[sel]) & (cy * cell < y1[sel]))
                mask[cy[inside], cx[inside]] = True
    return mask


def motion_grid(mvs: Optional[np.ndarray], width: int, height: int,
                cell: int = 16) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apparent motion per ``cell`` x ``cell`` square, for drawing.

    Each vector gives ``d = (src - dst)`` in pixels (``motion / motion_scale``), where the block's
    pixels come from in its reference. For a past reference (source < 0) the content moved by
    ``-d`` to get here; for a future one by ``+d`` afterwards. Both are turned into the forward
    motion ``m = -d`` (past) or ``m = d`` (future), so arrows point the way things move.
    Returns ``(u, v, n)``: ``(gh, gw)`` float32 mean motion in x and y and int counts of vectors
    per cell (0: no vector, i.e. intra or I-frame), with ``gh = ceil(height / cell)``.
    """
    gh, gw = -(-height // cell), -(-width // cell)
    u = np.zeros((gh, gw), np.float64)
    v = np.zeros((gh, gw), np.float64)
    n = np.zeros((gh, gw), np.int64)
    if mvs is not None and len(mvs):
        scale = np.maximum(mvs["motion_scale"].astype(np.float64), 1.0)
        sign = np.where(mvs["source"] < 0, -1.0, 1.0)
        mx = sign * mvs["motion_x"] / scale
        my = sign * mvs["motion_y"] / scale
        cx = np.clip(mvs["dst_x"].astype(np.int64) // cell, 0, gw - 1)
        cy = np.clip(mvs["dst_y"].astype(np.int64) // cell, 0, gh - 1)
        np.add.at(u, (cy, cx), mx)
        np.add.at(v, (cy, cx), my)
        np.add.at(n, (cy, cx), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(n > 0, u / np.maximum(n, 1), 0.0).astype(np.float32)
        v = np.where(n > 0, v / np.maximum(n, 1), 0.0).astype(np.float32)
    return u, v, n


def gop_lengths(keyframes: Sequence[int], frames: int) -> List[int]:
    """Lengths of the GOPs that start at each keyframe (display indices); the last one runs to
    the end of what was read, so it may be cut short."""
    keys = sorted(k for k in keyframes if 0 <= k < frames)
    return [b - a for a, b in zip(keys, keys[1:] + [frames])]


_X264 = re.compile(r"x264 - core (\d+)")


def parse_x264_options(text: str) -> Dict[str, str]:
    """``{"ref": "3", "bframes": "3", ...}`` from x264's SEI string (``... - options: a=1 b=2``);
    ``core`` holds the build number. Empty for anything else."""
    if "x264" not in text:
        return {}
    out: Dict[str, str] = {}
    core = _X264.search(text)
    if core:
        out["core"] = core.group(1)
    _, _, opts = text.partition("options:")
    for token in opts.split():
        key, eq, value = token.partition("=")
        if eq:
            out[key] = value
    return out


def _printable(raw: bytes) -> str:
    """The text of an SEI user-data payload: drop the 16-byte UUID and any non-printable bytes."""
    body = raw[16:] if len(raw) > 16 else raw
    text = body.decode("latin-1")
    text = "".join(c for c in text if c.isprintable())
    return text.strip()


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------

@dataclass
class FrameStats:
    """One frame: display index, type, vector count, covered share and intra share (None when the
    codec exports no vectors), and the mean apparent motion in pixels."""

    index: int
    pict_type: str
    key_frame: bool
    vectors: int
    coverage: Optional[float]
    intra_share: Optional[float]
    mean_motion: Optional[float]


@dataclass
class InspectReport:
    path: str
    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: Optional[float]
    duration: Optional[float]
    frames: int
    frame_types: Dict[str, int]
    types: str                      # display order, e.g. "IBBBPBBBP..."
    keyframes: List[int]
    gop_lengths: List[int]
    gop: Optional[int]              # median length of the complete GOPs (all but the last)
    exports_vectors: bool
    vector_source: str              # "codec vectors" or "fallback: ..."
    vector_coverage: Optional[float]  # mean over P/B frames of the share covered by vectors
    intra_share: Optional[float]      # mean over P/B frames of the share with no vector
    intra_share_max: Optional[float]
    intra_share_max_frame: Optional[int]
    codec_settings: Dict[str, object] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    per_frame: List[FrameStats] = field(default_factory=list)
    decode: Dict[str, object] = field(default_factory=dict)  # DecodeReport.as_dict() of the read

    def as_dict(self) -> dict:
        return asdict(self)


def read_codec_settings(path: str) -> Dict[str, object]:
    """Profile, level, pixel format, bit rate, B-frame delay, and the encoder's own settings
    string (H.264 SEI_UNREGISTERED side data of the first frame, e.g. x264's option list)."""
    import av
    out: Dict[str, object] = {}
    try:
        with av.open(path, metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            cc = stream.codec_context
            out.update(profile=cc.profile, level=cc.level if cc.level and cc.level > 0 else None,
                       pix_fmt=cc.pix_fmt, bit_rate=cc.bit_rate or None, has_b_frames=int(cc.has_b_frames or 0),
                       encoder_tag=(stream.metadata or {}).get("encoder") or (container.metadata or {}).get("encoder"))
            for frame in container.decode(stream):
                side = frame.side_data.get("SEI_UNREGISTERED")
                if side is not None:
                    text = _printable(bytes(side))
                    out["encoder"] = text
                    x264 = parse_x264_options(text)
                    if x264:
                        out["x264"] = x264
                break
    except (av.error.FFmpegError, IndexError, StopIteration):
        pass
    return {k: v for k, v in out.items() if v is not None}


def _vector_source(info: VideoInfo) -> str:
    if info.exports_vectors:
        return f"codec vectors ({info.codec} exports them)"
    return f"fallback: {FALLBACK} ({info.codec} exports no vectors)"


def inspect_video(path: str, max_frames: Optional[int] = None) -> InspectReport:
    """Decode ``path`` (the first ``max_frames`` frames) with vector export on and summarise it.

    Decoding converts each picture to a 16x16 thumbnail only: the vectors are what matters here.
    Raises ``CodecStyleError`` for a missing, unreadable or corrupt file.
    """
    if max_frames is not None and max_frames < 1:
        raise CodecStyleError(f"--frames must be at least 1, got {max_frames}")
    info = probe(path)
    per_frame: List[FrameStats] = []
    zero_b = True
    any_b_vectors = False
    decode = DecodeReport()
    for rec in read_frames(path, size=(16, 16), vectors=info.exports_vectors, max_frames=max_frames,
                           report=decode):
        mvs = rec.motion_vectors
        n = 0 if mvs is None else len(mvs)
        if not info.exports_vectors:
            cov = intra = motion = None
        elif rec.pict_type == "I" or (rec.key_frame and n == 0):
            cov, intra, motion = 0.0, 1.0, None
        else:
            cov = float(block_coverage(mvs, info.width, info.height).mean())
            intra = 1.0 - cov
            motion = None
            if n:
                scale = np.maximum(mvs["motion_scale"].astype(np.float64), 1.0)
                motion = float(np.mean(np.hypot(mvs["motion_x"] / scale, mvs["motion_y"] / scale)))
        if rec.pict_type == "B" and n:
            any_b_vectors = True
            if np.any(mvs["motion_x"]) or np.any(mvs["motion_y"]):
                zero_b = False
        per_frame.append(FrameStats(rec.display_index, rec.pict_type, rec.key_frame, n, cov, intra, motion))
    frames = len(per_frame)
    types = "".join(f.pict_type for f in per_frame)
    counts = Counter(types)
    keyframes = [f.index for f in per_frame if f.key_frame]
    lengths = gop_lengths(keyframes, frames)
    complete = lengths[:-1] or lengths  # the last GOP may be cut short by the end of the read
    gop = int(np.median(complete)) if complete else None
    inter = [f for f in per_frame if f.pict_type in ("P", "B") and f.coverage is not None]
    coverage = float(np.mean([f.coverage for f in inter])) if inter else None
    intra = float(np.mean([f.intra_share for f in inter])) if inter else None
    worst = max(inter, key=lambda f: f.intra_share) if inter else None
    notes = []
    if not info.exports_vectors:
        notes.append(f"{info.codec} exports no motion vectors: codec mode falls back to {FALLBACK}.")
    elif not inter:
        notes.append("no P or B frames: every frame is intra, so codec mode runs the network on every frame.")
    elif all(f.vectors == 0 for f in inter):
        notes.append("the codec should export vectors but none were found: codec mode will fall back.")
    if info.codec in ZERO_B_CODECS and any_b_vectors and zero_b:
        notes.append(f"{info.codec} B-frames export all-zero vectors: they cannot be trusted.")
    if max_frames is not None and frames >= max_frames:
        notes.append(f"only the first {frames} frames were read (--frames).")
    return InspectReport(
        path=path, codec=info.codec, width=info.width, height=info.height, pix_fmt=info.pix_fmt,
        fps=float(info.average_rate) if info.average_rate else None, duration=info.duration,
        frames=frames, frame_types={t: counts.get(t, 0) for t in ("I", "P", "B", "?") if counts.get(t) or t != "?"},
        types=types, keyframes=keyframes, gop_lengths=lengths, gop=gop,
        exports_vectors=info.exports_vectors, vector_source=_vector_source(info),
        vector_coverage=coverage, intra_share=intra,
        intra_share_max=worst.intra_share if worst else None,
        intra_share_max_frame=worst.index if worst else None,
        codec_settings=read_codec_settings(path), notes=notes, per_frame=per_frame, decode=decode.as_dict())


def _pct(x: Optional[float]) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _list(values: Sequence[int], limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _gop_text(r: InspectReport) -> str:
    if r.gop is None:
        return "n/a"
    complete = r.gop_lengths[:-1] or r.gop_lengths
    if len(set(complete)) == 1:
        return f"length {r.gop}"
    return f"length {min(complete)}-{max(complete)} (median {r.gop}, scene cuts or adaptive keyframes)"


def format_report(r: InspectReport) -> str:
    """The report as a few readable lines."""
    fps = f"{r.fps:.3g} fps" if r.fps else "unknown rate"
    dur = f", {r.duration:.1f} s" if r.duration else ""
    profile = r.codec_settings.get("profile")
    first_gop = r.types[: (r.gop_lengths[0] if r.gop_lengths else len(r.types))]
    if len(first_gop) > 48:
        first_gop = first_gop[:48] + "..."
    lines = [
        f"{os.path.basename(r.path)}: {r.codec}{' ' + str(profile) if profile else ''}, {r.width}x{r.height} "
        f"{r.pix_fmt}, {fps}{dur}, {r.frames} frames read",
        "  frame types  " + "  ".join(f"{t} {n}" for t, n in r.frame_types.items())
        + f"   (first GOP in display order: {first_gop})",
        f"  GOP          {_gop_text(r)}; keyframes at {_list(r.keyframes)}",
        f"  codec mode   {r.vector_source}",
    ]
    decode = DecodeReport.from_dict(r.decode)
    if decode.timestamps != "stream":
        how = {"reordered": "the file's are in decode order; frames get them in display order",
               "numbered": "the file has none or repeats them; one frame duration apart"}[decode.timestamps]
        lines.append(f"  timestamps   derived: {how}")
    if decode.damaged:
        lines.append(f"  damage       {decode.describe(r.frames, 'read')}")
    if r.vector_coverage is not None:
        lines.append(f"  vectors      cover {_pct(r.vector_coverage)} of P/B-frame area on average; intra share "
                     f"{_pct(r.intra_share)} per P/B frame (max {_pct(r.intra_share_max)} at frame "
                     f"{r.intra_share_max_frame})")
    s = r.codec_settings
    if "x264" in s:
        x = s["x264"]
        shown = " ".join(f"{k}={x[k]}" for k in X264_KEYS if k in x)
        lines.append(f"  encoder      x264 core {x.get('core', '?')}: {shown}")
    elif s.get("encoder"):
        lines.append(f"  encoder      {str(s['encoder'])[:120]}")
    elif s.get("encoder_tag"):
        lines.append(f"  encoder      {s['encoder_tag']}")
    extra = [f"{k} {s[k]}" for k in ("level", "bit_rate", "has_b_frames") if s.get(k) is not None]
    if extra:
        lines.append("  stream       " + ", ".join(extra))
    lines += [f"  note         {n}" for n in r.notes]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The motion-field picture
# ---------------------------------------------------------------------------------------------

def default_plot_frame(report: InspectReport) -> int:
    """The first P-frame (the most telling one), else the first non-I frame, else 0."""
    for wanted in ("P", "B"):
        for f in report.per_frame:
            if f.pict_type == wanted:
                return f.index
    return 0


def save_motion_plot(report: InspectReport, out_png: str, frame: Optional[int] = None) -> int:
    """Draw frame ``frame`` (display index; default: ``default_plot_frame``) with its motion field
    over the picture, intra blocks shaded, and the per-frame intra share below. Returns the frame."""
    from .bench.report import pyplot, save_figure
    plt = pyplot()
    index = default_plot_frame(report) if frame is None else frame
    if not 0 <= index < report.frames:
        raise CodecStyleError(f"--frame {index}: the video has frames 0-{report.frames - 1}")
    record = None
    for record in read_frames(report.path, vectors=report.exports_vectors, max_frames=index + 1):
        pass
    if record is None or record.display_index != index:
        raise CodecStyleError(f"--frame {index}: could not decode that frame")
    rgb = record.rgb
    h, w = rgb.shape[:2]
    stats = report.per_frame[index]

    fig = plt.figure(figsize=(12, 12 * h / w * 0.72 + 3.2))
    gs = fig.add_gridspec(2, 1, height_ratios=[h / w * 12 * 0.72, 2.2])
    ax = fig.add_subplot(gs[0])
    ax.imshow(rgb, extent=(0, w, h, 0))
    title = f"{os.path.basename(report.path)}  frame {index} ({stats.pict_type})"
    if report.exports_vectors and stats.pict_type != "I":
        cover = block_coverage(record.motion_vectors, w, h)
        shade = np.zeros(cover.shape + (4,), np.float32)
        shade[~cover] = (1.0, 0.1, 0.1, 0.35)
        ax.imshow(shade, extent=(0, cover.shape[1] * CELL, cover.shape[0] * CELL, 0), interpolation="nearest")
        cell = max(16, int(round(max(w, h) / 64 / 16)) * 16)
        u, v, n = motion_grid(record.motion_vectors, w, h, cell)
        ys, xs = np.nonzero(n)
        mag = np.hypot(u[ys, xs], v[ys, xs])
        gain = 1.0
        if mag.size and np.percentile(mag, 90) > 0:
            gain = float(np.clip(0.8 * cell / np.percentile(mag, 90), 1.0, 20.0))
        q = ax.quiver(xs * cell + cell / 2, ys * cell + cell / 2, u[ys, xs] * gain, v[ys, xs] * gain, mag,
                      cmap="viridis", angles="xy", scale_units="xy", scale=1.0, width=0.0022,
                      headwidth=3.5, pivot="tail")
        cb = fig.colorbar(q, ax=ax, fraction=0.025, pad=0.01)
        cb.set_label("motion, pixels")
        title += (f": {stats.vectors} vectors, {_pct(stats.coverage)} covered, red = intra (no vector); "
                  f"arrows = apparent motion per {cell}px cell" + (f", drawn x{gain:.1f}" if gain > 1.05 else ""))
    elif not report.exports_vectors:
        title += f": {report.codec} exports no vectors ({FALLBACK.split(' (')[0]} in codec mode)"
    else:
        title += ": an I-frame has no vectors (all intra)"
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])

    ax2 = fig.add_subplot(gs[1])
    colors = {"I": "#d62728", "P": "#1f77b4", "B": "#9a9a9a", "?": "#cccccc"}
    idx = [f.index for f in report.per_frame]
    vals = [(f.intra_share if f.intra_share is not None else 0.0) * 100 for f in report.per_frame]
    ax2.bar(idx, vals, width=1.0, color=[colors.get(f.pict_type, "#cccccc") for f in report.per_frame])
    ax2.axvline(index, color="black", lw=1.2, ls="--")
    ax2.set_xlim(-0.5, max(idx + [0]) + 0.5)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("intra share %")
    ax2.set_xlabel("frame (display order); bar colour: I red, P blue, B grey; dashed: the frame above")
    if not report.exports_vectors:
        ax2.text(0.5, 0.5, "no vectors in this codec", transform=ax2.transAxes, ha="center", va="center")
    fig.tight_layout()
    save_figure(fig, out_png)
    return index
