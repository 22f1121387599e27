"""``flow`` mode: the codec engine's propagate-check-refine loop along dense optical flow.

The baseline in the style of the optical-flow video stylizers: frames are processed in display
order, each predicted from the previous one along OpenCV DIS flow (``motion.flow``), checked
against the decoded frame and refined where the check fails. The stream's I-frames mean nothing
here; only the first frame, scene cuts and mostly-changed frames are stylized whole.
"""
from __future__ import annotations

from typing import Optional, Tuple

from ..nets.stylizer import Stylizer
from ..timing import StageTimer
from .codec import CodecEngine, CodecSettings


class FlowEngine(CodecEngine):
    """``CodecEngine`` with DIS flow as the motion source and no keyframe refreshes."""

    name = "flow"

    def __init__(self, stylizer: Stylizer, timer: StageTimer, coded_size: Tuple[int, int],
                 codec_name: str, settings: Optional[CodecSettings] = None):
        super().__init__(stylizer, timer, coded_size, codec_name, settings, motion="flow", keyframes=False)
