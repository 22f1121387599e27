"""VideoWriter: frames, timestamps, rotation and odd sizes survive; audio/subtitles are packet
copies; nothing half-written is ever left behind."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from clips import make_clip  # noqa: E402
from subtitle_clips import DEFAULT_CUES, make_subtitled_clip  # noqa: E402
from codecstyle.errors import CodecStyleError  # noqa: E402
from codecstyle.video.reader import probe, read_frames  # noqa: E402
from codecstyle.video.writer import VideoWriter  # noqa: E402


def _copy(source: str, output: str, max_frames=None, **kwargs) -> VideoWriter:
    """Write every (or the first ``max_frames``) decoded source frame unchanged; return the writer."""
    info = probe(source)
    with VideoWriter(output, info, **kwargs) as writer:
        for record in read_frames(source, vectors=False, max_frames=max_frames):
            writer.write(record.rgb, record.pts)
    return writer


def _times(path: str):
    return [record.time for record in read_frames(path, vectors=False)]


def _packets(path: str, kind: str):
    """Non-empty packets of the first ``kind`` stream: list of (bytes, start s, end s)."""
    with av.open(path) as container:
        stream = getattr(container.streams, kind)[0]
        return [(bytes(p), float(p.pts * p.time_base), float((p.pts + (p.duration or 0)) * p.time_base))
                for p in container.demux(stream) if p.size]


def _leftovers(directory) -> list:
    return sorted(name for name in os.listdir(directory) if ".partial-" in name)


def test_round_trip_keeps_frames_timestamps_and_audio_packets(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=24, bframes=3, audio=True)
    output = str(tmp_path / "out.mp4")
    writer = _copy(source, output)

    frame_time = 1 / 25
    src_times, out_times = _times(source), _times(output)
    assert len(out_times) == len(src_times) == 24
    np.testing.assert_allclose(out_times, src_times, atol=frame_time / 2)

    src_audio, out_audio = _packets(source, "audio"), _packets(output, "audio")
    assert [p[0] for p in out_audio] == [p[0] for p in src_audio]  # byte-identical: a copy, not a re-encode
    src_span = src_audio[-1][2] - src_audio[0][1]
    out_span = out_audio[-1][2] - out_audio[0][1]
    assert abs(out_span - src_span) < frame_time
    assert writer.copied_streams == ["audio aac"] and writer.dropped_streams == []

    info = probe(output)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 128, 96)
    first_in = next(read_frames(source, vectors=False)).rgb.astype(int)
    first_out = next(read_frames(output, vectors=False)).rgb.astype(int)
    assert np.abs(first_out - first_in).mean() < 4  # the frames given, at crf 18
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", [".mkv", ".mov"])
def test_other_containers_keep_frames_and_audio(tmp_path, ext):
    source = make_clip(str(tmp_path / ("src" + ext)), frames=12, audio=True)
    output = str(tmp_path / ("out" + ext))
    _copy(source, output)
    np.testing.assert_allclose(_times(output), _times(source), atol=0.02)
    assert [p[0] for p in _packets(output, "audio")] == [p[0] for p in _packets(source, "audio")]


def test_variable_frame_rate_keeps_timestamps(tmp_path):
    frame_times = [0.0, 0.04, 0.10, 0.12, 0.30, 0.31, 0.50, 0.90, 0.94, 1.20]
    source = make_clip(str(tmp_path / "vfr.mp4"), frames=len(frame_times), frame_times=frame_times)
    output = str(tmp_path / "out.mp4")
    _copy(source, output)
    np.testing.assert_allclose(_times(output), frame_times, atol=0.005)


def test_odd_size_is_padded_to_even_by_repeating_the_edge(tmp_path):
    source = make_clip(str(tmp_path / "odd.mp4"), width=127, height=95, pix_fmt="yuv444p", frames=4)
    output = str(tmp_path / "out.mp4")
    _copy(source, output)
    info = probe(output)
    assert (info.width, info.height) == (128, 96)
    given = next(read_frames(source, vectors=False)).rgb.astype(int)
    written = next(read_frames(output, vectors=False)).rgb.astype(int)
    assert np.abs(written[:95, :127] - given).mean() < 4
    assert np.abs(written[:95, 127] - given[:, 126]).mean() < 8  # replicated column, not black
    assert np.abs(written[95, :127] - given[94, :]).mean() < 8


def test_rotation_metadata_is_copied(tmp_path):
    source = make_clip(str(tmp_path / "rot.mp4"), rotation=90, frames=4)
    output = str(tmp_path / "out.mp4")
    _copy(source, output)
    with av.open(output) as container:
        frame = next(container.decode(video=0))
        assert round(frame.rotation) % 360 == 90
        assert (frame.width, frame.height) == (128, 96)  # pixels stay in coded orientation


def test_subrip_subtitles_are_copied_into_mkv(tmp_path):
    source = make_subtitled_clip(str(tmp_path / "subs.mkv"), audio=True)
    output = str(tmp_path / "out.mkv")
    writer = _copy(source, output)
    assert [p[0] for p in _packets(output, "subtitles")] == [text.encode() for _, _, text in DEFAULT_CUES]
    assert [round(p[1], 3) for p in _packets(output, "subtitles")] == [start for start, _, _ in DEFAULT_CUES]
    assert writer.copied_streams == ["audio aac", "subtitle srt"]
    with av.open(output) as container:
        assert container.streams.subtitles[0].metadata.get("language") == "eng"


def test_mov_text_subtitles_are_copied_into_mp4(tmp_path):
    source = make_subtitled_clip(str(tmp_path / "subs.mp4"), subtitle_codec="mov_text")
    output = str(tmp_path / "out.mp4")
    _copy(source, output)

    def cues(path):  # the mp4 muxer adds its own empty gap samples (payload 00 00): compare the text ones
        return [(p[0], round(p[1], 3), round(p[2], 3)) for p in _packets(path, "subtitles") if len(p[0]) > 2]

    assert cues(output) == cues(source)
    assert [c[0][2:].decode() for c in cues(output)] == [text for _, _, text in DEFAULT_CUES]


def test_subtitles_the_container_cannot_hold_are_dropped_with_a_warning(tmp_path):
    source = make_subtitled_clip(str(tmp_path / "subs.mkv"), audio=True)
    output = str(tmp_path / "out.mp4")
    with pytest.warns(UserWarning, match="subtitle srt"):
        writer = _copy(source, output)
    assert writer.dropped_streams == ["subtitle srt"] and writer.copied_streams == ["audio aac"]
    with av.open(output) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]


def test_end_time_cuts_audio_and_subtitles(tmp_path):
    source = make_subtitled_clip(str(tmp_path / "subs.mkv"), audio=True, frames=24)
    output = str(tmp_path / "out.mkv")
    _copy(source, output, max_frames=12, end_time=12 / 25)
    assert len(_times(output)) == 12
    audio = _packets(output, "audio")
    assert audio[-1][1] < 12 / 25 <= audio[-1][2]
    assert len(audio) < len(_packets(source, "audio"))
    assert [p[0] for p in _packets(output, "subtitles")] == [b"hello", b"second cue"]


def test_other_codec_with_crf(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=6)
    output = str(tmp_path / "out.mkv")
    _copy(source, output, codec="libvpx-vp9", crf=40)
    assert probe(output).codec == "vp9"
    assert len(_times(output)) == 6


def test_exception_in_block_leaves_no_files(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=6, audio=True)
    output = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(str(output), probe(source)) as writer:
            for record in read_frames(source, vectors=False):
                writer.write(record.rgb, record.pts)
                assert not output.exists()
                assert len(_leftovers(tmp_path)) == 1  # the hidden video-only temporary
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["src.mp4"]


def test_abort_leaves_no_files(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    writer = VideoWriter(str(tmp_path / "out.mp4"), probe(source))
    record = next(read_frames(source, vectors=False))
    writer.write(record.rgb, record.pts)
    writer.abort()
    writer.close()  # a no-op after abort: must not publish anything
    assert sorted(os.listdir(tmp_path)) == ["src.mp4"]


def test_close_without_frames_fails_and_leaves_no_files(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    writer = VideoWriter(str(tmp_path / "out.mp4"), probe(source))
    with pytest.raises(CodecStyleError, match="no frames"):
        writer.close()
    assert sorted(os.listdir(tmp_path)) == ["src.mp4"]


def test_missing_output_directory_fails_before_writing(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    with pytest.raises(CodecStyleError, match="does not exist"):
        VideoWriter(str(tmp_path / "missing" / "out.mp4"), probe(source))
    assert sorted(os.listdir(tmp_path)) == ["src.mp4"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_directory_fails_before_writing(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(CodecStyleError, match="not writable"):
            VideoWriter(str(locked / "out.mp4"), probe(source))
    finally:
        locked.chmod(0o700)


def test_output_equal_to_source_is_refused(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    before = open(source, "rb").read()
    for spelling in (source, str(tmp_path / "." / "src.mp4")):
        with pytest.raises(CodecStyleError, match="overwrite the input"):
            VideoWriter(spelling, probe(source))
    os.symlink(source, tmp_path / "link.mp4")
    with pytest.raises(CodecStyleError, match="overwrite the input"):
        VideoWriter(str(tmp_path / "link.mp4"), probe(source))
    assert open(source, "rb").read() == before


def test_unknown_codec_is_refused(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    with pytest.raises(CodecStyleError, match="unknown video codec: nope"):
        VideoWriter(str(tmp_path / "out.mp4"), probe(source), codec="nope")
    with pytest.raises(CodecStyleError, match="unknown video codec: aac"):
        VideoWriter(str(tmp_path / "out.mp4"), probe(source), codec="aac")
    assert _leftovers(tmp_path) == []


def test_bad_frames_are_refused(tmp_path):
    source = make_clip(str(tmp_path / "src.mp4"), frames=3)
    with VideoWriter(str(tmp_path / "out.mp4"), probe(source)) as writer:
        with pytest.raises(ValueError, match="uint8"):
            writer.write(np.zeros((96, 128, 3), np.float32), 0)
        writer.write(np.zeros((96, 128, 3), np.uint8), 0)
        with pytest.raises(ValueError, match="differs"):
            writer.write(np.zeros((48, 64, 3), np.uint8), 512)
        with pytest.raises(ValueError, match="increase"):
            writer.write(np.zeros((96, 128, 3), np.uint8), 0)
    assert len(_times(str(tmp_path / "out.mp4"))) == 1
