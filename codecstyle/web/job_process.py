"""One job's render, in a process of its own:
``python -m codecstyle.web.job_process JOB_DIR PARENT [SEGMENT_SECONDS]``.

The server's runner starts it and reads its stdout: one JSON object per line,

    {"progress": {...}}   a progress snapshot (``render.progress``), a few times a second
    {"summary": {...}}    the run summary ``process --json`` prints, once, at the end
    {"error": "..."}      the one-line message of a user error (exit code 2)

A process of its own keeps the server answering while the network runs, frees the render's
memory when it ends, and makes cancelling a kill. It dies with the server (``PARENT``): a
server restarted after a crash resumes the job from the segments this process finished
(``render_film``'s manifest), and no orphan competes with it for the cores.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Optional

from ..errors import CodecStyleError
from .form import process_options
from .jobs import RECORD, RESULT


def _send(out, message: dict) -> None:
    out.write(json.dumps(message, default=str) + "\n")
    out.flush()


def run_job(directory: str, out, segment_seconds: Optional[float] = None) -> int:
    """Render the job in ``directory`` into its ``result.mp4``, reporting on ``out``; the exit
    code. ``segment_seconds``: as ``process --segment-seconds`` (None: automatic)."""
    from ..options import RenderOptions
    from ..render.film import render_film

    with open(os.path.join(directory, RECORD)) as handle:
        record = json.load(handle)
    try:
        options = process_options(record["options"], record.get("style_image"))
        summary = render_film(record["input"], os.path.join(directory, RESULT), options,
                              RenderOptions(segment_seconds=segment_seconds),
                              progress=False, on_progress=lambda snap: _send(out, {"progress": snap}))
    except CodecStyleError as exc:
        _send(out, {"error": str(exc)})
        return 2
    except OSError as exc:  # disk full, a folder gone: the system's words, without a traceback
        _send(out, {"error": f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")})
        return 2
    _send(out, {"summary": summary.as_dict()})
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    directory, parent = argv[0], int(argv[1])
    segment_seconds = float(argv[2]) if len(argv) > 2 else None
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as ``codecstyle process`` (cli.main)
    from ..render.workers import die_with_parent

    die_with_parent(parent)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # nothing but messages on the channel
    return run_job(directory, out, segment_seconds)


if __name__ == "__main__":
    sys.exit(main())
