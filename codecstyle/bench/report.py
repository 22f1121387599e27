"""Presenting a benchmark: the terminal table (``format_table``) and the picture (``save_plot``).

Both take the plain dictionary of ``BenchReport.as_dict()`` (the ``--json`` document), so a saved
JSON file can be re-plotted later. matplotlib is imported only when a plot is drawn; without it,
``require_matplotlib`` raises ``CodecStyleError`` naming the extra to install.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

from ..errors import CodecStyleError

__all__ = ["require_matplotlib", "format_table", "save_plot", "pyplot"]

STAGES = ("decode", "motion", "propagate", "network", "encode", "encode_thread")
TYPE_COLORS = {"I": "#d62728", "P": "#1f77b4", "B": "#9a9a9a", "?": "#cccccc"}
STAGE_COLORS = {"decode": "#8c564b", "motion": "#17becf", "propagate": "#2ca02c", "network": "#ff7f0e",
                "encode": "#9467bd"}
ROW_COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
PEER_COLOR = "#7f7f7f"


def require_matplotlib():
    """The matplotlib module, or a ``CodecStyleError`` saying how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise CodecStyleError("plots need matplotlib: pip install codecstyle[bench]") from None
    return matplotlib


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    matplotlib = require_matplotlib()
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


# ---------------------------------------------------------------------------------------------
# Terminal table
# ---------------------------------------------------------------------------------------------

def _num(value, fmt: str, missing: str = "-") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, fmt)


def _stage_names(rows: Sequence[dict]) -> List[str]:
    seen = {k for r in rows for k in (r.get("stages") or {})}
    return [s for s in STAGES if s in seen] + sorted(seen - set(STAGES))


def _table(header: List[str], lines: List[List[str]], align: str) -> List[str]:
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = []
    for cells in [header] + lines:
        parts = []
        for i, c in enumerate(cells):
            parts.append(c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i]))
        out.append("  ".join(parts).rstrip())
    return out


def format_table(report: dict) -> str:
    """The benchmark as text: one block per video, one line per mode, plus the source's figure."""
    s = report["settings"]
    blocks = []
    for video in report["videos"]:
        v = video["video"]
        rows = video["rows"]
        stages = _stage_names(rows)
        w, h = video["size"]
        vec = "exports vectors" if v.get("exports_vectors") else "no vectors"
        title = (f"{video['name']}: {v['codec']} {v['width']}x{v['height']} ({vec}), "
                 f"{video['frames']} frames at {w}x{h}, style {s['style']}, "
                 f"{s['repeat']} timed run{'s' if s['repeat'] != 1 else ''} per mode, interleaved, "
                 f"after {s['warmup']} warm-up frames; as process runs it (norm {s.get('norm', '?')}, "
                 f"encode included)")
        header = (["mode", "fps", "min-max", "speedup", "x floor"] + [f"{st} ms" for st in stages]
                  + ["net px", "peak MB", "warp e-3", "PSNR dB", "PSNR 1/8", "sharp", "strokes", "seams"])
        align = "lrrrr" + "r" * len(stages) + "rrrrrrrr"
        lines = []
        for r in rows:
            if "error" in r and "fps" not in r:
                lines.append([r["label"], "failed: " + str(r["error"])] + [""] * (len(header) - 2))
                continue
            fps = r["fps"]
            ref = r["mode"] == "frame"
            st = r.get("stages") or {}
            lines.append(
                [r["label"], _num(fps["median"], ".2f"), f"{_num(fps['min'], '.2f')}-{_num(fps['max'], '.2f')}",
                 _num(r.get("speedup"), ".2f") + ("x" if r.get("speedup") is not None else ""),
                 _num(r.get("floor_multiple"), ".2f")]
                + [_num((st.get(name) or {}).get("ms_per_frame"), ".1f") for name in stages]
                + [_num(100 * r["network_share"], ".1f") + "%" if r.get("network_share") is not None else "-",
                   _num(r.get("peak_rss_mb"), ".0f"),
                   _num(_milli(r.get("warping_error")), ".3f"),
                   "ref" if ref else _num(r.get("psnr"), ".2f"),
                   "ref" if ref else _num(r.get("psnr_eighth"), ".2f"),
                   _num(r.get("sharpness_ratio"), ".2f"),
                   _num(r.get("strokes"), ".3f"),
                   _num(r.get("seams"), ".3f")])
        src = video["source"].get("warping_error")
        lines.append(["source"] + [""] * (len(header) - 7)
                     + [_num(_milli(src), ".3f"), "", "", "", "", _num(video["source"].get("seams"), ".3f")])
        floor = next((r for r in rows if r.get("kind") == "floor"), None)
        block = [title] + _table(header, lines, align)
        notes = []
        for r in rows:
            if r.get("kind") == "peer" and r.get("fps_reported"):
                notes.append(f"{r['label']}: timed end to end as a subprocess (start-up included); "
                             f"it reports {r['fps_reported']:.2f} fps for its own frame loop.")
        if floor is not None:
            notes.append(f"{floor['label']}: decode + encode with the same encoder settings, no network: the "
                         f"floor. x floor: time per frame over the floor's.")
        if video.get("reference") is None:
            notes.append("no frame mode in --modes: speedup and fidelity (PSNR, sharpness) need it.")
        notes.append("stage columns: ms per frame; encode: the main thread handing frames to the encoder "
                     "(and waiting for it), encode_thread: the encoder's own time, on its own thread, "
                     "overlapping the other stages. net px: share of pixels through the network. "
                     "warp e-3: temporal warping error x1000 (lower is steadier; 'source' is the input "
                     "itself). PSNR: fidelity to frame mode at full and 1/8 scale. sharp: Laplacian "
                     "variance over frame mode's. strokes: how differently strokes run than in frame "
                     "mode's frames (orientation histograms and gradient energy per 32 px patch; 0 = the "
                     "same; melting, smearing and mush raise it); frame mode's row: between its own "
                     "consecutive frames, the scale to read it against. seams: mean luma step across the 8 px block grid over "
                     "the mean step elsewhere (patchwork; compare with frame mode's and the source's).")
        block += ["  " + n for n in notes]
        blocks.append("\n".join(block))
    m = report["machine"]
    footer = (f"machine: {m.get('cpu')}, {m.get('usable_cores')} of {m.get('cores')} cores, "
              f"{m.get('ram_gb')} GB RAM; torch {report['versions'].get('torch')}, "
              f"av {report['versions'].get('av')}; bench took {report.get('seconds', 0):.0f} s")
    return "\n\n".join(blocks) + "\n\n" + footer


def _milli(value: Optional[float]) -> Optional[float]:
    return None if value is None else value * 1000.0


# ---------------------------------------------------------------------------------------------
# Plot
# ---------------------------------------------------------------------------------------------

def _row_colors(rows: Sequence[dict]) -> Dict[str, str]:
    colors, i = {}, 0
    for r in rows:
        if r.get("kind") == "peer":
            colors[r["label"]] = PEER_COLOR
        else:
            colors[r["label"]] = ROW_COLORS[i % len(ROW_COLORS)]
            i += 1
    return colors


def _timed(rows: Sequence[dict]) -> List[dict]:
    return [r for r in rows if "fps" in r]


def _panel_speed(ax, rows, colors) -> None:
    rows = _timed(rows)
    labels = [r["label"] for r in rows]
    y = list(range(len(rows)))[::-1]
    med = [r["fps"]["median"] for r in rows]
    lo = [r["fps"]["median"] - r["fps"]["min"] for r in rows]
    hi = [r["fps"]["max"] - r["fps"]["median"] for r in rows]
    ax.barh(y, med, xerr=[lo, hi], color=[colors[l] for l in labels], capsize=4, height=0.6)
    top = max([r["fps"]["max"] for r in rows] + [1e-9])
    for yi, r in zip(y, rows):
        sp = r.get("speedup")
        text = f"{r['fps']['median']:.2f} fps" + (f"   {sp:.2f}x" if sp is not None else "")
        ax.text(r["fps"]["max"] + top * 0.02, yi, text, va="center", fontsize=10,
                fontweight="bold" if sp is not None and sp > 1.05 else "normal")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=10)
    ax.set_xlim(0, top * 1.5)
    ax.set_xlabel("frames per second, end to end (bar: median, whiskers: min-max)")
    ax.set_title("Speed and speedup over frame mode", fontsize=11, loc="left")


def _panel_stages(ax, rows, colors) -> None:
    rows = _timed(rows)
    # the encoder thread's time overlaps the others: stacked, the bars would outgrow the run
    names = [n for n in _stage_names(rows) if n != "encode_thread"]
    y = list(range(len(rows)))[::-1]
    left = [0.0] * len(rows)
    for name in names:
        vals = [((r.get("stages") or {}).get(name) or {}).get("ms_per_frame") or 0.0 for r in rows]
        ax.barh(y, vals, left=left, color=STAGE_COLORS.get(name, "#bbbbbb"), label=name, height=0.6)
        left = [a + b for a, b in zip(left, vals)]
    # Rows without a breakdown (the outside peer): one hatched bar of their end-to-end time.
    whole = [1000.0 / r["fps"]["median"] if not r.get("stages") and r["fps"]["median"] > 0 else 0.0
             for r in rows]
    if any(whole):
        ax.barh(y, whole, color="#e0e0e0", edgecolor="#888888", hatch="//", height=0.6,
                label="end to end (no breakdown)")
        left = [a + b for a, b in zip(left, whole)]
    for yi, r, total in zip(y, rows, left):
        share = r.get("network_share")
        if share is not None and r.get("kind") != "peer":
            ax.text(total * 1.02 + 0.5, yi, f"{100 * share:.0f}% px via net", va="center", fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels([r["label"] for r in rows], fontsize=10)
    ax.set_xlim(0, max(left + [1.0]) * 1.45)
    ax.set_ylim(-0.5, len(rows) - 0.5 + 0.6)  # a band at the top for the legend
    ax.set_xlabel("milliseconds per frame, by stage (median run)")
    ax.set_title("Where the time goes", fontsize=11, loc="left")
    if names or any(whole):
        ax.legend(fontsize=8, loc="upper right", ncol=len(names) + (1 if any(whole) else 0) if len(names) < 5 else 3,
                  frameon=False, handlelength=1.2, columnspacing=0.8, borderaxespad=0.2)


def _panel_warp(ax, video, colors) -> None:
    rows = [r for r in video["rows"] if r.get("warping_error") is not None]
    src = video["source"].get("warping_error")
    labels = [r["label"] for r in rows] + (["source"] if src is not None else [])
    vals = [r["warping_error"] * 1000 for r in rows] + ([src * 1000] if src is not None else [])
    cols = [colors[r["label"]] for r in rows] + (["#dddddd"] if src is not None else [])
    y = list(range(len(labels)))[::-1]
    bars = ax.barh(y, vals, color=cols, height=0.6)
    if src is not None:
        bars[-1].set_hatch("//")
        bars[-1].set_edgecolor("#888888")
    top = max(vals + [1e-9])
    for yi, v in zip(y, vals):
        ax.text(v + top * 0.02, yi, f"{v:.2f}", va="center", fontsize=10)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=10)
    ax.set_xlim(0, top * 1.3)
    ax.set_xlabel("temporal warping error x1000 (lower is steadier)")
    ax.set_title("Flicker: warping error vs the source", fontsize=11, loc="left")


def _panel_tradeoff(ax, rows, colors) -> None:
    swept = [r for r in rows if r.get("quality") is not None and r.get("speedup") is not None]
    by_mode: Dict[str, List[dict]] = {}
    for r in swept:
        by_mode.setdefault(r["mode"], []).append(r)
    for i, (mode, rs) in enumerate(by_mode.items()):
        rs = sorted(rs, key=lambda r: r["quality"])
        xs = [r["speedup"] for r in rs]
        ys = [r.get("psnr_eighth") for r in rs]
        ax.plot(xs, [y if y is not None else float("nan") for y in ys], "o-",
                color=ROW_COLORS[i % len(ROW_COLORS)], label=mode)
        for r, x, yv in zip(rs, xs, ys):
            if yv is not None:
                we = r.get("warping_error")
                ax.annotate(f"q={r['quality']:g}" + (f"\nwarp {we * 1000:.2f}" if we is not None else ""),
                            (x, yv), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.margins(0.2)
    ax.set_xlabel("speedup over frame mode")
    ax.set_ylabel("fidelity PSNR at 1/8 scale (dB)")
    ax.set_title("Speed / quality trade-off (--sweep-quality)", fontsize=11, loc="left")
    ax.grid(alpha=0.3)
    if by_mode:
        ax.legend(fontsize=9, frameon=False)


def _panel_timeline(ax, video, colors) -> None:
    rows = [r for r in video["rows"] if r.get("per_frame_ms")]
    types = video.get("frame_types") or ""
    n = max([len(r["per_frame_ms"]) for r in rows] + [len(types), 1])
    all_vals = [v for r in rows for v in r["per_frame_ms"] if v > 0]
    lo, hi = (min(all_vals), max(all_vals)) if all_vals else (1.0, 10.0)
    log = hi / max(lo, 1e-6) > 20
    if log:
        ax.set_yscale("log")
    for i, t in enumerate(types):  # keyframes as faint full-height lines
        if t == "I":
            ax.axvline(i, color=TYPE_COLORS["I"], alpha=0.25, lw=1.5, zorder=0)
    for r in rows:
        ms = r["per_frame_ms"]
        ax.plot(range(len(ms)), ms, color=colors[r["label"]], lw=1.4, label=r["label"],
                drawstyle="steps-mid")
        refresh = [f for f in (r.get("refresh_frames") or []) if 0 <= f < len(ms)]
        if refresh:
            ax.plot(refresh, [ms[f] for f in refresh], "v", color=colors[r["label"]], ms=7,
                    markeredgecolor="black", label=f"{r['label']} refresh")
    # The frame types as a coloured strip along the bottom of the plot (axes coordinates in y).
    trans = ax.get_xaxis_transform()
    for i, t in enumerate(types):
        ax.add_patch(_rect((i - 0.5, 0.0), 1.0, 0.045, TYPE_COLORS.get(t, "#cccccc"), trans))
    ax.set_xlim(-0.5, n - 0.5)
    if log:
        ax.set_ylim(lo / 1.8, hi * 1.6)
    else:
        ax.set_ylim(-0.07 * hi * 1.15, hi * 1.15)
    ax.set_xlabel("frame (display order); bottom strip: frame type I (red) / P (blue) / B (grey); "
                  "faint red lines: keyframes" + ("; triangles: refresh points" if any(
                      r.get("refresh_frames") for r in rows) else ""))
    ax.set_ylabel("ms per frame" + (" (log)" if log else ""))
    ax.set_title("Per-frame cost (median over repeats; encoder flush at the end not shown)",
                 fontsize=11, loc="left")
    ax.grid(alpha=0.25, axis="y")
    handles, labels = ax.get_legend_handles_labels()
    if handles:  # above the plot, right-aligned, clear of the curves
        ax.legend(fontsize=9, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=min(len(handles), 6),
                  frameon=False, borderaxespad=0.1)


def _rect(xy, w, h, color, transform):
    from matplotlib.patches import Rectangle
    return Rectangle(xy, w, h, facecolor=color, edgecolor="none", transform=transform, zorder=3)


def save_plot(report: dict, path: str) -> str:
    """Draw the benchmark to ``path`` (PNG): per video, speed, stage split and warping error side
    by side, the trade-off curve when a sweep ran, and the per-frame cost timeline below."""
    plt = pyplot()
    videos = report["videos"]
    swept = any(r.get("quality") is not None for v in videos for r in v["rows"])
    ncols = 4 if swept else 3
    max_rows = max([len(v["rows"]) for v in videos] + [1])
    top_h = 1.4 + 0.42 * (max_rows + 1)
    block_h = top_h + 3.4 + 0.6
    s = report["settings"]
    m = report["machine"]
    fig = plt.figure(figsize=(5.6 * ncols, block_h * len(videos) + 0.3), layout="constrained")
    fig.suptitle(f"codecstyle bench on {m.get('cpu')}, {m.get('usable_cores')} cores, "
                 f"torch {report['versions'].get('torch')}", fontsize=9, x=0.005, ha="left", color="#555555")
    subfigs = fig.subfigures(len(videos), 1, squeeze=False)[:, 0]
    for sub, video in zip(subfigs, videos):
        colors = _row_colors(video["rows"])
        w, h = video["size"]
        sub.suptitle(f"{video['name']}: {video['video']['codec']}, {video['frames']} frames at {w}x{h}, "
                     f"style {s['style']}, {s['repeat']} interleaved runs per mode"
                     + (", encode included" if s.get("encoder") else ", no encode"),
                     fontsize=13, fontweight="bold", x=0.005, ha="left")
        gs = sub.add_gridspec(2, ncols, height_ratios=[top_h, 3.4])
        axes = [sub.add_subplot(gs[0, c]) for c in range(ncols)]
        _panel_speed(axes[0], video["rows"], colors)
        _panel_stages(axes[1], video["rows"], colors)
        _panel_warp(axes[2], video, colors)
        if swept:
            _panel_tradeoff(axes[3], video["rows"], colors)
        _panel_timeline(sub.add_subplot(gs[1, :]), video, colors)
    save_figure(fig, path)
    return path


def save_figure(fig, path: str) -> None:
    """Write a matplotlib figure and close it; an unwritable path is a one-line user error."""
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise CodecStyleError(f"cannot write plot {path}: {exc.strerror or exc}") from None
    finally:
        pyplot().close(fig)
