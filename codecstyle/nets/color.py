"""Finishing touches on stylized images: colour preservation and strength. Torch tensors in and out,
``(N, 3, H, W)`` float32 RGB in 0..1 on any device."""
from __future__ import annotations

import torch

# ITU-R BT.601 full-range luma weights, as JPEG's YCbCr uses.
_LUMA = (0.299, 0.587, 0.114)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` luma of ``(N, 3, H, W)`` RGB."""
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b


def preserve_color(stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Stylized luminance with the original's colours: replace the luma of ``original`` by that of
    ``stylized`` while keeping its chroma (Cb, Cr). Equivalent to swapping Y in YCbCr, which
    amounts to adding the luma difference to every channel."""
    return (original + (luminance(stylized) - luminance(original))).clamp_(0.0, 1.0)


def apply_strength(stylized: torch.Tensor, original: torch.Tensor, strength: float) -> torch.Tensor:
    """Linear mix: ``strength`` 1 is fully stylized, 0 is the original."""
    if strength >= 1.0:
        return stylized
    return torch.lerp(original, stylized, float(strength))
