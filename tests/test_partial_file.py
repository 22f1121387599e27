"""Partial files: hidden names beside the output, and the permissions a new file gets."""
import os
import stat

import pytest

from codecstyle.partial_file import partial_file


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_partial_file_has_the_modes_of_a_new_file(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = partial_file(str(tmp_path / "film.mp4"), suffix=".video.mp4")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(old)
    assert os.umask(old) == old  # the caller's umask is left as it was
    name = os.path.basename(path)
    assert os.path.dirname(path) == str(tmp_path)
    assert name.startswith(".film.mp4.partial-") and name.endswith(".video.mp4")
    assert os.path.getsize(path) == 0
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o666 & ~mask == stat.S_IMODE(os.stat(tmp_path / "plain").st_mode)


def test_unwritable_folder_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        partial_file(str(tmp_path / "missing" / "film.mp4"))
