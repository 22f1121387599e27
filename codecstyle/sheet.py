"""Contact sheet: every built-in style on one frame, labelled, to help choose before a long render."""
from __future__ import annotations

import os

import cv2
import numpy as np

from .errors import CodecStyleError
from .nets.style_spec import NUM_STYLES
from .nets.stylizer import Stylizer
from .video.reader import probe, read_frames

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def rotate_upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a coded-orientation frame the way a player would (``rotation`` degrees counter-clockwise)."""
    return np.ascontiguousarray(np.rot90(rgb, k=(rotation // 90) % 4))


def load_picture(path: str, at: float = 0.1) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from an image file, or a frame ``at`` of the way into a video, upright."""
    if not os.path.exists(path):
        raise CodecStyleError(f"no such file: {path}")
    if os.path.splitext(path)[1].lower() in IMAGE_EXTS:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise CodecStyleError(f"cannot read image: {path} (corrupt or unsupported format)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    info = probe(path)
    target = int(info.frame_count * at) if info.frame_count else 0
    frame = None
    for record in read_frames(path, vectors=False, max_frames=target + 1):
        frame = record.rgb
    return rotate_upright(frame, info.rotation)


def thumbnail(rgb: np.ndarray, tile: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = tile / max(h, w)
    size = (max(4, int(round(w * scale)) // 4 * 4), max(4, int(round(h * scale)) // 4 * 4))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _label(img: np.ndarray, text: str, band: int) -> np.ndarray:
    out = np.full((img.shape[0] + band, img.shape[1], 3), 255, np.uint8)
    out[band:] = img
    cv2.putText(out, text, (4, band - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def contact_sheet(picture: np.ndarray, device: str = "auto", tile: int = 256, columns: int = 7,
                  stylizer_factory=Stylizer) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB sheet: the original and each of the 26 styles, labelled with the
    index to pass to ``--style``."""
    small = thumbnail(picture, tile)
    stylizer = stylizer_factory(style="0", device=device)
    tiles = [("original", small)]
    for index in range(NUM_STYLES):
        stylizer.set_style(str(index))
        tiles.append((f"--style {index}", stylizer.stylize(small)[0]))
    return _assemble(tiles, columns)


def style_preview(picture: np.ndarray, style_pictures, names, device: str = "auto", tile: int = 256,
                  stylizer_factory=Stylizer) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB sheet previewing the user's own style on one frame: the frame, each
    style picture, the artistic look (their blend) at full and half strength, and the photo look.

    - picture: ``(H, W, 3)`` uint8 RGB frame; style_pictures: ``[(rgb, weight), ...]``;
      names: a label per style picture.
    """
    from .looks.photo import PhotoLook

    small = thumbnail(picture, tile)
    h, w = small.shape[:2]
    tiles = [("original", small)]
    for (rgb, weight), name in zip(style_pictures, names):
        tiles.append((f"{name} ({weight:.2f})", _fit(rgb, h, w)))
    for strength in (1.0, 0.5):
        stylizer = stylizer_factory(device=device, strength=strength, style_images=style_pictures)
        tiles.append((f"artistic, strength {strength:g}", stylizer.stylize(small)[0]))
    tiles.append(("--look photo", PhotoLook(style_pictures[0][0]).apply(small)))
    return _assemble(tiles, columns=min(4, len(tiles)))


def _fit(rgb: np.ndarray, h: int, w: int) -> np.ndarray:
    """``rgb`` scaled and centre-cropped to exactly ``h`` x ``w`` (a style picture as a tile)."""
    scale = max(h / rgb.shape[0], w / rgb.shape[1])
    big = cv2.resize(rgb, (max(w, int(round(rgb.shape[1] * scale))), max(h, int(round(rgb.shape[0] * scale)))),
                     interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[y0:y0 + h, x0:x0 + w]


def _assemble(tiles, columns: int) -> np.ndarray:
    """Labelled same-size tiles ``[(label, (h, w, 3) uint8), ...]`` on a white sheet."""
    band, pad = 22, 6
    th, tw = tiles[0][1].shape[0] + band, tiles[0][1].shape[1]
    rows = -(-len(tiles) // columns)
    sheet = np.full((pad + rows * (th + pad), pad + columns * (tw + pad), 3), 255, np.uint8)
    for n, (name, img) in enumerate(tiles):
        r, c = divmod(n, columns)
        y, x = pad + r * (th + pad), pad + c * (tw + pad)
        sheet[y:y + th, x:x + tw] = _label(img, name, band)
    return sheet


def save_png(rgb: np.ndarray, path: str) -> None:
    """Write ``rgb`` as an image (format from the extension), atomically; clear error if impossible."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise CodecStyleError(f"cannot write {path}: directory missing or not writable")
    ext = os.path.splitext(path)[1] or ".png"
    tmp = os.path.join(directory, f".{os.path.basename(path)}.partial{ext}")
    try:
        ok = cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    except cv2.error:
        ok = False
    if not ok:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise CodecStyleError(f"cannot write {path}: unsupported image format {ext!r}")
    os.replace(tmp, path)
