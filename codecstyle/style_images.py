"""``--style-image a.jpg:0.6,b.jpg:0.4``: the user's own pictures as styles.

Parsing and loading live here, at the edge; the networks only ever see arrays. Any image OpenCV
reads (PNG, JPEG, WebP, BMP, TIFF) of any size is accepted, as is a video (a frame 10 % in).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Optional, Tuple

import numpy as np

from .errors import CodecStyleError
from .sheet import load_picture

if TYPE_CHECKING:
    from .nets.stylizer import Stylizer


def parse_style_images(spec: str) -> List[Tuple[str, float]]:
    """``"a.jpg"`` or ``"a.jpg:0.6,b.jpg:0.4"`` -> ``[(path, weight), ...]``, weights summing to 1.

    A ``:number`` suffix is a weight only when it parses as one, so paths with colons still work.
    """
    items = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        path, weight = part, 1.0
        head, sep, tail = part.rpartition(":")
        if sep and head:
            try:
                path, weight = head, float(tail)
            except ValueError:
                pass
        if weight <= 0:
            raise CodecStyleError(f"--style-image weights must be positive, got {weight} for {path}")
        items.append((path, weight))
    if not items:
        raise CodecStyleError("--style-image needs at least one picture")
    total = sum(w for _, w in items)
    return [(p, w / total) for p, w in items]


def load_style_images(spec: str) -> List[Tuple[np.ndarray, float]]:
    """Parse ``spec`` and read every picture: ``[((H, W, 3) uint8 RGB, weight), ...]``. A missing,
    unreadable or corrupt picture raises ``CodecStyleError`` naming it."""
    pictures = []
    for path, weight in parse_style_images(spec):
        if not os.path.isfile(path):
            raise CodecStyleError(f"style image not found: {path}")
        try:
            rgb = load_picture(path)
        except CodecStyleError:
            raise CodecStyleError(f"cannot read style image {path}: not a PNG/JPEG/WebP picture "
                                  "(or a video), or it is corrupt") from None
        if rgb is None or rgb.ndim != 3 or min(rgb.shape[:2]) < 4:
            raise CodecStyleError(f"style image too small or unreadable: {path}")
        pictures.append((rgb, weight))
    return pictures


def make_stylizer(options) -> Optional["Stylizer"]:
    """The ``Stylizer`` a run's ``ProcessOptions`` call for: the 26-style network, or the
    arbitrary-style network with the ``style_image`` pictures; None for ``look="photo"``, which
    needs no network."""
    from .nets.stylizer import Stylizer

    if options.look == "photo":
        return None
    pictures = load_style_images(options.style_image) if options.style_image else None
    return Stylizer(options.style, options.strength, options.preserve_color, options.device,
                    style_images=pictures)
