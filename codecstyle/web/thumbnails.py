"""Thumbnails of the built-in styles for the page: a frame of the demo clip painted in each
style, rendered once (on first request) and cached as PNG files."""
from __future__ import annotations

import os
import threading
from typing import Optional

import numpy as np

#: Longer side of a thumbnail in pixels.
TILE = 160


class StyleThumbnails:
    """``path(n)``: the cached PNG of built-in style ``n`` under ``cache_dir``, rendered the
    first time it is asked for (the network loads once, on the CPU)."""

    def __init__(self, cache_dir: str, tile: int = TILE):
        from .. import __version__

        self.directory = os.path.join(cache_dir, f"styles-{__version__}-{tile}")
        self.tile = tile
        self.lock = threading.Lock()
        self._picture: Optional[np.ndarray] = None
        self._stylizer = None

    def path(self, style: int) -> str:
        path = os.path.join(self.directory, f"{style}.png")
        if os.path.exists(path):
            return path
        with self.lock:
            if not os.path.exists(path):
                os.makedirs(self.directory, exist_ok=True)
                from ..sheet import save_png

                save_png(self._render(style), path)
        return path

    def _render(self, style: int) -> np.ndarray:
        """``(h, w, 3)`` uint8 RGB: the demo frame in style ``style``."""
        from ..demo import demo_clip
        from ..nets.stylizer import Stylizer
        from ..sheet import load_picture, thumbnail

        if self._picture is None:
            self._picture = thumbnail(load_picture(demo_clip(), at=0.3), self.tile)
            self._stylizer = Stylizer(style=str(style), device="cpu")
        self._stylizer.set_style(str(style))
        return self._stylizer.stylize(self._picture)[0]
