import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from clips import make_clip  # noqa: E402

MEDIA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "media")


@pytest.fixture(scope="session")
def multistyle_net():
    """The 26-style network with the package's weights (loaded once; tests only run it)."""
    from codecstyle.nets.multistyle import MultiStyleNet
    from codecstyle.nets.weights import load_state_dict

    return MultiStyleNet.from_state_dict(load_state_dict("multistyle26"))


@pytest.fixture(scope="session")
def arbitrary_net():
    """Magenta's style-image transformer with the package's weights (loaded once)."""
    from codecstyle.nets.arbitrary import ArbitraryStyleNet
    from codecstyle.nets.weights import load_state_dict

    return ArbitraryStyleNet.from_state_dict(load_state_dict("arbitrary_transform"))


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def ipb_clip(clip_dir):
    """128x96, 24 frames, x264 with B-frames (GOP 12), moving 2 px right and 1 px down per frame."""
    return make_clip(str(clip_dir / "ipb.mp4"))


@pytest.fixture(scope="session")
def ipb_audio_clip(clip_dir):
    """As ``ipb_clip`` plus a 440 Hz AAC stereo track."""
    return make_clip(str(clip_dir / "ipb_audio.mp4"), audio=True)


@pytest.fixture(scope="session")
def vp9_clip(clip_dir):
    """A codec that exports no motion vectors."""
    return make_clip(str(clip_dir / "novec.webm"), codec="libvpx-vp9")


def media(name):
    """Path of a real clip in ../shared/media, or skip when that folder is absent."""
    path = os.path.join(MEDIA, name)
    if not os.path.exists(path):
        pytest.skip(f"{name} not available (../shared/media is optional)")
    return path


#: The umask commands run under in end-to-end tests, so that file modes have a known answer.
CLI_UMASK = 0o027


def run_cli(*args, cwd=None, timeout=600):
    """Run the installed ``codecstyle`` command, as a user would, from ``cwd`` (default: a
    neutral temporary folder, so a source checkout in the working directory cannot shadow the
    installed package), under ``CLI_UMASK``. Returns the ``CompletedProcess`` with text
    stdout/stderr."""
    script = os.path.join(os.path.dirname(sys.executable), "codecstyle")
    command = [script] if os.path.exists(script) else [shutil.which("codecstyle") or "codecstyle"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory() as neutral:
        return subprocess.run(command + list(args), capture_output=True, text=True,
                              cwd=cwd or neutral, env=env, timeout=timeout, umask=CLI_UMASK)
