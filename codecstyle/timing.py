"""Wall-clock time per pipeline stage (decode, motion, propagate, network, encode, ...).

Stages are timed on the main thread and add up to (nearly) the run's time, except
``encode_thread``: the encoder's own time on its thread, overlapping the others (``encode`` is
what the main thread spent handing frames over and waiting for it)."""
from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Dict, Iterator


class StageTimer:
    """Accumulates seconds per named stage. ``with timer.stage("network"): ...``"""

    def __init__(self):
        self.seconds: Dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def as_dict(self) -> Dict[str, float]:
        return {k: round(v, 4) for k, v in self.seconds.items()}
