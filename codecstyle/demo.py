"""The embedded demo clip (Big Buck Bunny excerpt, CC-BY 3.0 Blender Foundation)."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import CodecStyleError

DEMO_NAME = "bigbuckbunny.mp4"


def demo_clip() -> str:
    """Path of the demo clip, installed as ``codecstyle.data`` (or ``data/`` in a source checkout)."""
    candidates = []
    try:
        from importlib.resources import files
        candidates.append(Path(str(files("codecstyle.data") / DEMO_NAME)))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    candidates.append(Path(__file__).resolve().parent.parent / "data" / DEMO_NAME)
    for path in candidates:
        if path.is_file():
            return os.fspath(path)
    raise CodecStyleError("the demo clip is missing from this installation; pass a video file")
