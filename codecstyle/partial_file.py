"""Partial files: where an output is written before it is renamed into place.

Every file codecstyle produces (the video, a segment, the manifest) is written under a hidden
temporary name in the destination folder and renamed when complete, so no half-written file ever
carries the real name. ``tempfile.mkstemp`` creates such names with mode 0600 for privacy; once
renamed, the output would then be unreadable to the user's group and others, unlike a file any
other program writes. ``partial_file`` gives it the mode ``open()`` would: 0666 minus the umask.
"""
from __future__ import annotations

import os
import tempfile


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; restored at once
    os.umask(mask)
    return mask


def partial_file(final_path: str, suffix: str = "") -> str:
    """Create an empty file beside ``final_path``, named ``.<name>.partial-<random><suffix>``,
    with the permissions a new file gets, and return its path. Raises ``OSError`` where the
    folder is not writable."""
    directory, name = os.path.split(os.path.abspath(final_path))
    handle, temp = tempfile.mkstemp(prefix=f".{name}.partial-", suffix=suffix, dir=directory)
    try:
        os.fchmod(handle, 0o666 & ~_umask())
    finally:
        os.close(handle)
    return temp
