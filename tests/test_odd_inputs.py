"""End-to-end: every input in the odd-and-broken corpus (``odd_inputs.CORPUS``) through the real CLI.

An input either renders (exit 0, every decodable frame in display order with strictly increasing
times, audio kept and as long as the video, one warning line exactly when frames were lost) or
fails with one clean line and exit code 2, leaving nothing behind. The input is never touched.
"""
import hashlib
import json
import os

import av
import pytest

from conftest import run_cli
from odd_inputs import CORPUS

#: Audio may run past the last frame by up to one AAC frame and the interleave rounding.
AUDIO_SLACK_S = 0.1


def _digest(path):
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _source_times(path):
    """The source's own frame times (seconds) where they are usable: every frame has one and they
    increase (else None: the reader derives them)."""
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            pts = [f.pts for f in container.decode(stream)]
    except (av.error.FFmpegError, IndexError):
        return None
    if not pts or None in pts or any(b <= a for a, b in zip(pts, pts[1:])):
        return None
    return [float(p * stream.time_base) for p in pts]


def _video_times(path):
    """Decoded frames' times (seconds), the video's end, and the audio's end (None: no audio)."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    with av.open(path) as container:
        audio_end = None
        if container.streams.audio:
            audio = container.streams.audio[0]
            ends = [float((p.pts + p.duration) * p.time_base) for p in container.demux(audio) if p.pts is not None]
            audio_end = max(ends) if ends else None
    step = (times[-1] - times[-2]) if len(times) > 1 else 0.04
    return times, times[-1] + step, audio_end


@pytest.mark.parametrize("entry", CORPUS, ids=[e.name for e in CORPUS])
def test_odd_input(entry, tmp_path):
    if entry.skip_if_root and os.geteuid() == 0:
        pytest.skip("file permissions do not apply to root")
    source = entry.make(str(tmp_path))
    before = _digest(source)
    output = os.path.join(str(tmp_path), entry.output_name)
    result = run_cli("process", source, "-o", output, "--json", "-q", timeout=300)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert _digest(source) == before, "the input was changed"
    leftovers = [n for n in os.listdir(os.path.dirname(output) if os.path.isdir(os.path.dirname(output))
                                       else str(tmp_path)) if ".partial-" in n]
    assert not leftovers, leftovers

    if entry.expect == "error":
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1 and lines[0].startswith("codecstyle: error:"), result.stderr
        assert entry.message and __import__("re").search(entry.message, lines[0]), lines[0]
        assert not os.path.exists(output)
        return

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    times, video_end, audio_end = _video_times(output)
    assert all(b > a for a, b in zip(times, times[1:])), times
    assert summary["frames"] == len(times)
    if entry.frames is not None:
        assert len(times) == entry.frames
    own = _source_times(source) if not entry.warns else None
    if own is not None:  # usable times are kept as they are (variable frame rate included)
        assert times == pytest.approx(own, abs=1e-3)
    assert len(times) >= 1
    warnings = [line for line in lines if line.startswith("codecstyle: warning:")]
    assert len(warnings) == (1 if entry.warns else 0), result.stderr
    assert len(lines) == len(warnings), result.stderr  # nothing else on stderr with -q
    if entry.audio:
        assert audio_end is not None, "the audio was dropped"
        assert abs(audio_end - video_end) <= AUDIO_SLACK_S + 0.05, (audio_end, video_end)
