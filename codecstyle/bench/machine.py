"""What a benchmark ran on: the machine and the library versions, for its report."""
from __future__ import annotations

import os
import platform
from typing import Optional

from .peer import PEER_COMMAND


def machine_info() -> dict:
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = None
    try:
        ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable, "ram_gb": ram,
            "platform": platform.platform(), "machine": platform.machine()}


def _dist_version(*names: str) -> Optional[str]:
    from importlib import metadata
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def library_versions(peer: bool = False) -> dict:
    from .. import __version__
    versions = {
        "python": platform.python_version(), "codecstyle": __version__,
        "torch": _dist_version("torch"), "av": _dist_version("av"), "numpy": _dist_version("numpy"),
        "numba": _dist_version("numba"),
        "opencv": _dist_version("opencv-contrib-python-headless", "opencv-python-headless",
                                "opencv-contrib-python", "opencv-python"),
        "matplotlib": _dist_version("matplotlib"), "onnxruntime": _dist_version("onnxruntime"),
    }
    try:
        import av
        versions["ffmpeg"] = str(getattr(av, "ffmpeg_version_info", None) or "") or None
    except ImportError:
        versions["ffmpeg"] = None
    if peer:
        versions[PEER_COMMAND] = _dist_version(PEER_COMMAND)
    return versions
