"""codecstyle: flicker-free neural style transfer for whole films, steered by the codec's motion vectors.

Public API::

    from codecstyle import stylize_video, ProcessOptions, Stylizer
    summary = stylize_video("in.mp4", "out.mp4", ProcessOptions(style="19"))

Names are imported on first use, so ``codecstyle --help`` does not wait for torch to load.
"""
import importlib.util as _ilu
import os as _os
import sys as _sys

from .errors import CodecStyleError
from .options import ProcessOptions


def _map_source_native() -> None:
    """In a source checkout ``native/`` sits beside this package rather than inside it (setup.cfg
    maps it to ``codecstyle.native`` at install). Map it the same way when running from the
    checkout, e.g. ``python -m codecstyle`` in the repository root."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    source = _os.path.join(here, _os.pardir, "native")
    init = _os.path.join(source, "__init__.py")
    if ("codecstyle.native" in _sys.modules or _os.path.isdir(_os.path.join(here, "native"))
            or not _os.path.isfile(init) or _ilu.find_spec("codecstyle.native") is not None):
        return
    spec = _ilu.spec_from_file_location("codecstyle.native", init, submodule_search_locations=[source])
    module = _ilu.module_from_spec(spec)
    _sys.modules["codecstyle.native"] = module
    spec.loader.exec_module(module)
    globals()["native"] = module


_map_source_native()

__all__ = ["CodecStyleError", "ProcessOptions", "RunSummary", "Stylizer", "stylize_video"]
__version__ = "0.1.0"

_LAZY = {"Stylizer": "codecstyle.nets.stylizer", "RunSummary": "codecstyle.pipeline",
         "stylize_video": "codecstyle.pipeline"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'codecstyle' has no attribute {name!r}")
