"""Conditional instance normalisation whose statistics can be captured once and reused.

Instance norm makes every output pixel depend on the mean and variance of the whole frame, so
running a network on a crop changes its colours. ``FrozenNorm`` either measures the statistics
of its input ("live") or applies statistics handed in from an earlier full-frame pass
("frozen"). With frozen statistics the network is a local operator: a crop with enough margin
reproduces the full-frame output in its interior, and a whole shot can share one look.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

MeanVar = Tuple[torch.Tensor, torch.Tensor]


@dataclass
class NormStats:
    """Per-layer instance-norm statistics, in network order.

    ``layers[i]`` is ``(mean, var)`` for the i-th ``FrozenNorm``, each ``(N, C, 1, 1)`` float32
    on the network's device (biased variance, as instance norm uses).
    """

    layers: List[MeanVar]

    def to(self, device) -> "NormStats":
        return NormStats([(m.to(device), v.to(device)) for m, v in self.layers])

    def batch(self, n: int) -> "NormStats":
        """Repeat batch-1 statistics for a batch of ``n`` crops of the same frame."""
        return NormStats([(m.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for m, v in self.layers])

    @staticmethod
    def mix(a: "NormStats", b: "NormStats", t: float) -> "NormStats":
        """``(1 - t) * a + t * b`` layer by layer: a smooth hand-over between two captures."""
        return NormStats([((1 - t) * ma + t * mb, (1 - t) * va + t * vb)
                          for (ma, va), (mb, vb) in zip(a.layers, b.layers)])

    @staticmethod
    def pool(captures: List["NormStats"]) -> "NormStats":
        """Batch-1 statistics of all ``captures`` taken together, as if their frames were one
        image (pooled mean; variance = mean of ``var + mean**2`` minus the pooled mean squared).
        Used to give a whole film, or a shot, one look."""
        if not captures:
            raise ValueError("pool needs at least one capture")
        layers = []
        for per_layer in zip(*(c.layers for c in captures)):
            means = torch.cat([m.reshape(-1, *m.shape[1:]) for m, _ in per_layer])
            second = torch.cat([(v + m * m).reshape(-1, *v.shape[1:]) for m, v in per_layer])
            mean = means.mean(dim=0, keepdim=True)
            layers.append((mean, (second.mean(dim=0, keepdim=True) - mean * mean).clamp_min(0)))
        return NormStats(layers)


class StatsCursor:
    """Walks the layers of a ``NormStats`` during one forward pass and records what was used."""

    def __init__(self, frozen: Optional[NormStats]):
        self._frozen = frozen
        self.used: List[MeanVar] = []

    def next(self, x: torch.Tensor, eps: float) -> MeanVar:
        if self._frozen is None:
            var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, unbiased=False)
        else:
            mean, var = self._frozen.layers[len(self.used)]
        self.used.append((mean, var))
        return mean, var

    def result(self) -> NormStats:
        return NormStats(self.used)


class FrozenNorm(nn.Module):
    """Instance norm with an externally chosen scale and shift.

    ``forward(x, gamma, beta, cursor)``: x ``(N, C, H, W)`` float32; gamma, beta ``(C,)`` (the
    style's blended parameters); the cursor supplies live or frozen statistics. Returns ``x``
    itself, normalised **in place**: x must be a temporary the caller owns (a conv's output).
    The networks are inference-only, and at 720p one 32-channel activation is 118 MB, so a
    normalisation that allocated its ``x - mean``, ``* scale`` and ``+ beta`` anew held three of
    them at once.
    """

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.channels = channels
        self.eps = eps

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                cursor: StatsCursor) -> torch.Tensor:
        mean, var = cursor.next(x, self.eps)
        return self.apply_stats(x, gamma, beta, mean, var)

    def apply_stats(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                    mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """``(x - mean) * gamma / sqrt(var + eps) + beta`` into ``x`` itself, with given
        statistics ``(N or 1, C, 1, 1)``: elementwise, so a stripe of an activation normalised
        alone equals that stripe of the whole, normalised."""
        scale = gamma.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        # Same operations in the same order as (x - mean) * scale + beta: bit-identical.
        return x.sub_(mean).mul_(scale).add_(beta.view(1, -1, 1, 1))
