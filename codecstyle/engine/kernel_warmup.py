"""Compile (or load) every numba kernel the codec and flow engines call, before a render starts.

numba compiles a kernel on its first call and keeps the machine code in an on-disk cache
(``cache=True``), so normally a worker only loads it. On the first run after an install or an
upgrade the cache is empty, and every worker compiles the same kernels while it renders. LLVM's
memory stays in the worker's heap: one 720p codec worker peaked at 757 MiB with a cold cache
against 649 MiB with a warm one (60 frames of Big Buck Bunny, one thread). So a render first
runs ``warm_kernels`` in a short-lived child (``warm_in_child``), and its workers only load the
code: 649 MiB from a cold cache. Where no child can warm the cache (Ray nodes), workers call
``warm_kernels`` before rendering and hand the freed memory back, which recovers little (737 MiB).

The arrays here have the dtypes and layouts the engines pass, so each call creates exactly the
signature a render uses (``tests/test_kernel_warmup.py`` checks that a render adds none).
"""
from __future__ import annotations

import numpy as np


def warm_kernels() -> None:
    """Call each kernel once on 8x8 inputs. Returns nothing; the effect is numba's cache."""
    from codecstyle.native.distortion import block_distortion
    from codecstyle.native.match import candidate_costs
    from codecstyle.native.propagate import compose_field, render

    from .canvas_store import coord_scale
    from .tiles import feather_mask

    size, cell = 8, 8.0
    luma = np.zeros((size, size), np.float32)
    stored_lumas = np.zeros((1, size, size), np.uint8)  # CanvasStore.lumas / canvas_luma
    candidates = np.zeros((1, 1, 1), np.float32)
    candidate_costs(luma, stored_lumas, np.zeros((1, 1, 1), np.int32), candidates, candidates, cell)
    vector = np.zeros((1, 1), np.float32)
    scale = coord_scale(size, size)  # a Python int, as ``CanvasStore.scale``
    gen, coord = compose_field(np.zeros((1, 1), np.int32), vector, vector, cell, 2.0,
                               np.zeros((1, size, size), np.uint8), np.zeros((1, size, size, 2), np.int16), scale)
    render(np.zeros((1, size, size, 3), np.uint8), stored_lumas, gen, coord, luma, scale=scale)
    feather_mask(np.zeros((1, 1), bool), size, size, size, 4)
    block_distortion(gen, coord, size, scale)


def warm_in_child():
    """Start ``warm_kernels`` in a new interpreter and return its ``Popen``; ``wait()`` for it
    before workers on this machine call a kernel. Their cache is then warm, and the compiler's
    memory leaves with the child. A plain interpreter rather than a multiprocessing child, so the
    caller's main script is not imported (and re-run) there. None where no process can be
    started (the workers then compile for themselves)."""
    import os
    import subprocess
    import sys

    # this interpreter's import path, in its order, so the child finds the same codecstyle
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.abspath(p or os.curdir) for p in sys.path))
    try:
        return subprocess.Popen([sys.executable, "-c", "from codecstyle.engine.kernel_warmup import warm_kernels; "
                                 "warm_kernels()"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
