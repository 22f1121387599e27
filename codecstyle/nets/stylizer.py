"""``Stylizer``: the style network on a device, with the user's style, strength and colour choice.

It takes and returns images (numpy ``(H, W, 3)`` uint8 RGB) and knows nothing about video. Engines
call ``stylize`` for whole frames and, with ``stats``, for crops that must match a full frame.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import CodecStyleError
from .color import apply_strength, preserve_color
from .frozen_norm import NormStats
from .arbitrary import ArbitraryStyleNet
from .multistyle import MultiStyleNet
from .style_predictor import StylePredictor, mix_styles, style_input
from .style_spec import parse_style
from .weights import load_state_dict

#: Smallest side the networks take (their reflect padding needs it); smaller images are padded.
MIN_SIDE = 16


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``/``"cuda:N"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CodecStyleError("--device cuda: no CUDA GPU is available to this PyTorch build; use --device cpu")
        return torch.device(name)
    raise CodecStyleError(f"unknown device {name!r}: use auto, cpu or cuda")


def to_tensor(images: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """``(N, 3, H, W)`` float32 0..1 from N ``(H, W, 3)`` uint8 arrays of one size."""
    batch = torch.from_numpy(np.stack(images)).to(device)
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def to_images(batch: torch.Tensor) -> List[np.ndarray]:
    """N ``(H, W, 3)`` uint8 arrays from ``(N, 3, H, W)`` float 0..1 (rounded, clipped)."""
    out = batch.mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return list(out)


class Stylizer:
    """A style network with one style choice.

    - style: ``19``, ``"3:0.5,12:0.5"`` or a ``{index: weight}`` dict (the 26-style network).
    - style_images: ``[(rgb, weight), ...]`` user pictures (``(H, W, 3)`` uint8 RGB, any size):
      Magenta's arbitrary-style network instead, the pictures' style vectors blended by weight.
    - strength: 0..1. Built-in styles mix the output with the original; style images interpolate
      the style vector towards the content's own (Magenta's way), measured once on the first
      frame stylized so the look cannot flicker.
    - preserve_color: keep the original's colours. device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    ``shared_stats`` (a batch-1 ``NormStats``, None by default) is used whenever a call passes no
    statistics of its own: set it to statistics pooled over a film or a shot so every frame, tile
    and segment shares one look (``--norm global|shot``).
    """

    def __init__(self, style="19", strength: float = 1.0, preserve_color: bool = False,
                 device: str = "auto", style_images: Optional[Sequence[Tuple[np.ndarray, float]]] = None):
        if not 0.0 <= float(strength) <= 1.0:
            raise CodecStyleError(f"--strength must be between 0 and 1, got {strength}")
        self.device = resolve_device(device)
        self.strength = float(strength)
        self.preserve_color = bool(preserve_color)
        self.shared_stats: Optional[NormStats] = None
        self.arbitrary = bool(style_images)
        self._content_style: Optional[torch.Tensor] = None
        self.content_source: Optional[str] = None
        if self.arbitrary:
            self.net = ArbitraryStyleNet.from_state_dict(load_state_dict("arbitrary_transform")).to(self.device)
            self._predictor = StylePredictor.from_state_dict(load_state_dict("arbitrary_predict")).to(self.device).eval()
            self.weights = np.array([w for _, w in style_images], np.float32)
            self._style = self._predict_blend(style_images)
        else:
            self.weights = parse_style(style)  # before loading: a bad style fails fast
            self.net = MultiStyleNet.from_state_dict(load_state_dict("multistyle26")).to(self.device)
            self._style = torch.from_numpy(self.weights).to(self.device)

    @torch.inference_mode()
    def _predict_blend(self, pictures) -> torch.Tensor:
        """``(1, 100)``: the weighted mean of the pictures' style vectors (blends live in
        style-vector space, as in Magenta)."""
        total = sum(float(w) for _, w in pictures)
        vectors = [self._predictor(style_input(rgb).to(self.device)) * (float(w) / total) for rgb, w in pictures]
        return torch.stack(vectors).sum(dim=0)

    def set_style(self, style) -> None:
        """Switch to another built-in style or blend without reloading the network."""
        if self.arbitrary:
            raise CodecStyleError("set_style switches built-in styles; this stylizer uses style images")
        self.weights = parse_style(style)
        self._style = torch.from_numpy(self.weights).to(self.device)

    @property
    def uses_content(self) -> bool:
        """Whether the output depends on the content's own style vector (style images at
        strength < 1)."""
        return self.arbitrary and self.strength < 1.0

    @torch.inference_mode()
    def measure_content(self, rgb: np.ndarray, source: Optional[str] = None) -> None:
        """Take the content's own style vector (``strength`` < 1 interpolates toward it) from
        ``rgb`` ``(H, W, 3)`` uint8, e.g. a film's first frame, so that every segment of a render
        in parts uses the one a single pass would; ``source`` names where it came from."""
        if self.arbitrary:
            self._content_style = self._predictor(style_input(rgb).to(self.device))
            self.content_source = source

    def _style_for(self, x: torch.Tensor) -> torch.Tensor:
        if not self.uses_content:
            return self._style
        if self._content_style is None:
            self.measure_content(to_images(x[:1])[0])
        return mix_styles(self._style, self._content_style, 1.0 - self.strength)

    @torch.inference_mode()
    def stylize_batch(self, images: Sequence[np.ndarray],
                      stats: Optional[NormStats] = None) -> Tuple[List[np.ndarray], NormStats]:
        """Stylize N same-size ``(H, W, 3)`` uint8 RGB images, any size from 1x1 (images smaller
        than ``MIN_SIDE`` are padded by repeating their edge pixels, then cropped back).

        ``stats`` (batch 1) freezes the instance-norm statistics, e.g. those of the full frame the
        images were cropped from. Returns the stylized uint8 images and the statistics used.
        """
        x = to_tensor(images, self.device)
        stats = stats if stats is not None else self.shared_stats
        if stats is not None:
            stats = stats.to(self.device).batch(x.shape[0])
        h, w = x.shape[-2:]
        grow_h, grow_w = max(0, MIN_SIDE - h), max(0, MIN_SIDE - w)
        if grow_h or grow_w:  # the nets' reflect padding needs more pixels than a tiny frame has
            x = F.pad(x, (0, grow_w, 0, grow_h), mode="replicate")
        y, used = self.net(x, self._style_for(x), stats)
        if grow_h or grow_w:
            x, y = x[..., :h, :w], y[..., :h, :w]
        if self.preserve_color:
            y = preserve_color(y, x)
        if not self.arbitrary:
            y = apply_strength(y, x, self.strength)
        return to_images(y), used

    def stylize(self, image: np.ndarray, stats: Optional[NormStats] = None) -> Tuple[np.ndarray, NormStats]:
        """One ``(H, W, 3)`` uint8 RGB image -> (stylized uint8 image, statistics used)."""
        out, used = self.stylize_batch([image], stats)
        return out[0], used
