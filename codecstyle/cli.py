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
    p.add_argument("--mode", choices=MODES, default="frame", help="engine strategy (default %(default)s)")
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
    options = ProcessOptions(mode=args.mode, style=args.style, strength=args.strength,
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


COMMANDS = {"process": cmd_process, "styles": cmd_styles}


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
