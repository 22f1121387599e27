"""``InferenceNet``: a network built from a state dict, frozen for inference."""
from __future__ import annotations

from typing import Dict, TypeVar

import torch
from torch import nn

Net = TypeVar("Net", bound="InferenceNet")


class InferenceNet(nn.Module):
    """Base of the style networks: ``from_state_dict`` builds one (no constructor arguments),
    loads every parameter strictly, and returns it in eval mode without gradients."""

    @classmethod
    def from_state_dict(cls: type[Net], state: Dict[str, torch.Tensor]) -> Net:
        net = cls()
        net.load_state_dict(state, strict=True)
        return net.eval().requires_grad_(False)
