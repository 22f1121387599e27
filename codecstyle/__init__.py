"""codecstyle: flicker-free neural style transfer for whole films, steered by the codec's motion vectors.

Public API::

    from codecstyle import stylize_video, ProcessOptions, Stylizer
    summary = stylize_video("in.mp4", "out.mp4", ProcessOptions(style="19"))

Names are imported on first use, so ``codecstyle --help`` does not wait for torch to load.
"""
from .errors import CodecStyleError
from .options import ProcessOptions

__all__ = ["CodecStyleError", "ProcessOptions", "RunSummary", "Stylizer", "stylize_video"]
__version__ = "0.1.0"

_LAZY = {"Stylizer": "codecstyle.nets.stylizer", "RunSummary": "codecstyle.pipeline",
         "stylize_video": "codecstyle.pipeline"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'codecstyle' has no attribute {name!r}")
