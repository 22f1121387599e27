"""The pieces of the long-film renderer, without the network: segment plans, windowed reading,
packet-level joins, the manifest, shared normalisation statistics, worker planning."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from clips import make_clip  # noqa: E402
from codecstyle.errors import CodecStyleError  # noqa: E402
from codecstyle.options import ProcessOptions, RenderOptions  # noqa: E402
from codecstyle.render import norm  # noqa: E402
from codecstyle.render.concat import join_segments  # noqa: E402
from codecstyle.render.manifest import Manifest, manifest_dir  # noqa: E402
from codecstyle.render.segments import plan_segments  # noqa: E402
from codecstyle.render.workers import LocalPool, plan_workers  # noqa: E402
from codecstyle.video.reader import probe, read_frames  # noqa: E402
from codecstyle.video.writer import VideoWriter  # noqa: E402

OPEN_GOP = {"x264-params": "bframes=3:keyint=12:min-keyint=12:scenecut=0:open-gop=1", "preset": "veryfast"}


@pytest.fixture(scope="module")
def closed_clip(tmp_path_factory):
    """48 frames, closed GOPs of 12 (keyframes every 0.48 s), B-frames, AAC audio."""
    return make_clip(str(tmp_path_factory.mktemp("render") / "closed.mp4"), frames=48, gop=12, audio=True)


@pytest.fixture(scope="module")
def open_clip(tmp_path_factory):
    """48 frames, open GOPs: every keyframe after the first has leading B-frames."""
    return make_clip(str(tmp_path_factory.mktemp("render") / "open.mkv"), frames=48, gop=12, options=OPEN_GOP)


def _all_pts(path):
    return [r.pts for r in read_frames(path, vectors=False)]


def _tiles(plan, pts):
    """Every frame falls in exactly one segment window."""
    for p in pts:
        inside = [s for s in plan.segments if (s.start_pts is None or s.start_pts <= p)
                  and (s.end_pts is None or p < s.end_pts)]
        assert len(inside) == 1, p
    assert [s.frames for s in plan.segments] == [
        sum(1 for p in pts if (s.start_pts is None or s.start_pts <= p) and (s.end_pts is None or p < s.end_pts))
        for s in plan.segments]


def test_plan_cuts_at_closed_keyframes(closed_clip):
    plan = plan_segments(closed_clip, 0.4)
    assert [s.frames for s in plan.segments] == [12, 12, 12, 12]
    assert plan.segments[0].start_pts is None and plan.segments[-1].end_pts is None
    assert plan.open_keyframes == 0 and plan.windowed and plan.end_time is None
    keys = set(plan.keyframe_pts.tolist())
    assert all(s.start_pts in keys for s in plan.segments[1:])
    _tiles(plan, _all_pts(closed_clip))
    # longer targets merge GOPs; a short tail joins the last segment
    assert [s.frames for s in plan_segments(closed_clip, 0.9).segments] == [24, 24]
    assert [s.frames for s in plan_segments(closed_clip, 1.0).segments] == [48]  # a 0.48 s tail is too short
    assert [s.frames for s in plan_segments(closed_clip, 5.0).segments] == [48]


def test_plan_with_open_gops_and_frame_limit(open_clip, closed_clip):
    plan = plan_segments(open_clip, 0.4)
    assert plan.open_keyframes == 3 and len(plan.segments) == 4
    assert [s.open_gop for s in plan.segments] == [False, True, True, True]
    _tiles(plan, _all_pts(open_clip))
    cut = plan_segments(closed_clip, 0.4, max_frames=30)
    assert cut.frames == 30 and cut.end_time == pytest.approx(30 / 25)
    assert [s.frames for s in cut.segments] == [12, 12, 6]
    assert cut.segments[-1].end_pts == _all_pts(closed_clip)[30]


def test_automatic_length_covers_several_gops_for_warm_up(tmp_path):
    path = make_clip(str(tmp_path / "eight.mp4"), frames=200, gop=12)  # 8 s, a keyframe every 0.48 s
    assert plan_segments(path).target_seconds == pytest.approx(2.0)  # 8 s / 16, at least 2 s
    plan = plan_segments(path, min_gops=5)
    assert plan.target_seconds == pytest.approx(5 * 0.48)
    assert all(s.warmup_frames == 12 for s in plan.segments[1:]) and plan.segments[0].warmup_frames == 0
    assert [s.warmup_pts for s in plan.segments[1:]] == [s.start_pts - 12 * 512 for s in plan.segments[1:]]


def test_plan_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 50)
    with pytest.raises(CodecStyleError, match="not a video"):
        plan_segments(str(text))


@pytest.mark.parametrize("fixture", ["closed_clip", "open_clip"])
def test_windowed_reading_matches_the_full_decode(request, fixture):
    path = request.getfixturevalue(fixture)
    full = list(read_frames(path, vectors=False))
    plan = plan_segments(path, 0.4)
    joined = []
    for seg in plan.segments:
        part = list(read_frames(path, vectors=False, start_pts=seg.start_pts, end_pts=seg.end_pts))
        assert [r.display_index for r in part] == list(range(len(part)))
        joined.extend(part)
    assert [r.pts for r in joined] == [r.pts for r in full]
    for a, b in zip(joined, full):
        assert np.array_equal(a.rgb, b.rgb), a.pts  # no frame lost, duplicated or decoded wrongly


def test_decoded_frames_are_freed_at_once_with_motion_vectors(closed_clip):
    """Streaming: nothing keeps a decoded frame alive after its record is built (PyAV's cached
    ``frame.side_data`` is a reference cycle that only a full garbage collection frees; memory
    then grew with video length)."""
    import gc

    gc.collect()
    gc.disable()
    try:
        count = sum(1 for _ in read_frames(closed_clip, vectors=True))
        # type(), not isinstance(): that reads every object's __class__, and a deprecated torch
        # alias warns when read
        alive = sum(1 for o in gc.get_objects() if type(o) is av.VideoFrame)
    finally:
        gc.enable()
    assert count == 48 and alive <= 1


def _write_segments(source, folder, plan, ext=".mp4"):
    info = probe(source)
    paths = []
    for seg in plan.segments:
        path = str(folder / f"seg-{seg.index}{ext}")
        with VideoWriter(path, info, copy_streams=False, reproducible=True) as writer:
            for record in read_frames(source, vectors=False, start_pts=seg.start_pts, end_pts=seg.end_pts):
                writer.write(record.rgb, record.pts)
        paths.append(path)
    return info, paths


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_join_keeps_frames_timestamps_and_audio(closed_clip, tmp_path, ext):
    plan = plan_segments(closed_clip, 0.4)
    info, paths = _write_segments(closed_clip, tmp_path, plan, ext)
    assert all(os.path.exists(p) for p in paths) and not [n for n in os.listdir(tmp_path) if "partial" in n]
    out = str(tmp_path / f"joined{ext}")
    copied, dropped, packets = join_segments(paths, info, out)
    assert copied == ["audio aac"] and dropped == [] and packets == 48
    frames = list(read_frames(out, vectors=False))
    source = list(read_frames(closed_clip, vectors=False))
    assert len(frames) == 48
    # Matroska cannot start below 0, so the muxer moves every stream by the audio's 21 ms priming
    # (as VideoWriter does for a single file); MP4 keeps the source's timestamps exactly.
    shift = 0.0 if ext == ".mp4" else 1024 / 48000
    np.testing.assert_allclose([f.time for f in frames], [f.time + shift for f in source], atol=1e-3)
    assert max(np.abs(a.rgb.astype(int) - b.rgb).mean() for a, b in zip(frames, source)) < 4
    with av.open(out) as a, av.open(closed_clip) as b:
        got = [(bytes(p), float(p.pts * p.time_base)) for p in a.demux(audio=0) if p.size]
        want = [(bytes(p), float(p.pts * p.time_base)) for p in b.demux(audio=0) if p.size]
    assert [g[0] for g in got] == [w[0] for w in want]  # copied once, byte for byte
    np.testing.assert_allclose([g[1] for g in got], [w[1] + shift for w in want], atol=1e-3)  # in sync


def test_join_refuses_segments_with_other_parameters(closed_clip, tmp_path):
    plan = plan_segments(closed_clip, 0.4)
    info, paths = _write_segments(closed_clip, tmp_path, plan)
    other = str(tmp_path / "other.mp4")
    with VideoWriter(other, info, copy_streams=False, crf=30, preset="ultrafast") as writer:
        for record in read_frames(closed_clip, vectors=False, start_pts=plan.segments[1].start_pts,
                                  end_pts=plan.segments[1].end_pts):
            writer.write(record.rgb, record.pts)
    out = str(tmp_path / "joined.mp4")
    with pytest.raises(CodecStyleError, match="other parameters"):
        join_segments([paths[0], other] + paths[2:], info, out)
    assert not os.path.exists(out) and not [n for n in os.listdir(tmp_path) if "partial" in n]


def test_reproducible_segments_are_identical_bytes(closed_clip, tmp_path):
    plan = plan_segments(closed_clip, 5.0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _write_segments(closed_clip, tmp_path / "a", plan)[1][0]
    b = _write_segments(closed_clip, tmp_path / "b", plan)[1][0]
    with av.open(a) as x, av.open(b) as y:
        assert [bytes(p) for p in x.demux(video=0)] == [bytes(p) for p in y.demux(video=0)]


def test_manifest_commits_resumes_and_invalidates(tmp_path):
    output = str(tmp_path / "film.mp4")
    description = {"input": "x", "options": {"style": "19"}}
    m = Manifest.open(output, description)
    assert m.directory == manifest_dir(output) and os.path.basename(m.directory) == ".film.mp4.codecstyle"
    with pytest.raises(CodecStyleError, match="another codecstyle process"):
        Manifest.open(output, description)  # locked while the first render runs
    for i in range(3):
        with open(m.path(f"seg-{i}.mp4"), "wb") as f:
            f.write(b"x" * (10 + i))
        m.commit_segment({"index": i, "file": f"seg-{i}.mp4", "bytes": 10 + i, "frames": 5})
    m.commit_norm(b"npz", {"samples": 1, "shots": 1})
    with pytest.raises(CodecStyleError, match="shares"):
        m.commit_segment({"index": 5, "file": "seg-5.mp4", "bytes": 1, "frames": 1})
    open(m.path(".seg-3.partial-abc.video.mp4"), "wb").close()  # what a killed worker leaves
    m.release(keep=True)

    with open(os.path.join(manifest_dir(output), "seg-1.mp4"), "ab") as f:
        f.write(b"torn")  # a segment file that is not what was committed
    again = Manifest.open(output, description)
    assert sorted(again.done) == [0, 2] and again.norm["samples"] == 1 and not again.restarted
    assert not [n for n in os.listdir(again.directory) if "partial" in n]
    again.release(keep=True)

    changed = Manifest.open(output, dict(description, options={"style": "3"}))
    assert changed.restarted and changed.done == {} and changed.norm is None
    assert sorted(os.listdir(changed.directory)) == ["lock", "manifest.json"]
    changed.release(keep=False)
    assert not os.path.exists(manifest_dir(output))


def _capture(pts, value, hist_bin, channels=(2, 3)):
    size = sum(channels)
    hist = np.zeros(norm.HIST_BINS ** 3, np.float32)
    hist[hist_bin] = 1
    return norm.Capture(pts, np.full(size, value, np.float32), np.full(size, 1.0, np.float32), hist, channels)


def test_norm_global_and_shot_schedules(tmp_path):
    torch = pytest.importorskip("torch")
    caps = [_capture(0, 0.0, 0), _capture(10, 2.0, 0), _capture(20, 10.0, 5), _capture(30, 12.0, 5)]
    path = tmp_path / "norm.npz"
    path.write_bytes(norm.pack(caps, "global"))
    film = norm.StatsSchedule.load(str(path))
    mean, var = film.at(-5).layers[1]
    assert mean.shape == (1, 3, 1, 1) and float(mean[0, 0]) == pytest.approx(6.0)
    assert float(var[0, 0]) == pytest.approx(1 + np.mean(np.square([0, 2, 10, 12])) - 36)  # pooled variance
    assert film.at(25) is film.at(0)

    path.write_bytes(norm.pack(caps, "shot"))
    shots = norm.StatsSchedule.load(str(path))
    assert shots.starts == [0, 20]
    first, second = (float(shots.at(p).layers[0][0][0, 0]) for p in (15, 25))
    w = 2 / (2 + norm.SHRINK)
    assert first == pytest.approx((1 - w) * 6 + w * 1) and second == pytest.approx((1 - w) * 6 + w * 11)
    assert torch.equal(shots.at(-1).layers[0][0], shots.at(19).layers[0][0])


def test_sample_points_spread_across_the_film(closed_clip):
    plan = plan_segments(closed_clip, 0.4)
    assert norm.sample_pts(plan, "frame") == []
    picks = norm.sample_pts(plan, "global")
    assert len(picks) == 4 and picks == sorted(picks) and picks[0] < plan.segments[1].start_pts < picks[-1]
    shot = norm.sample_pts(plan, "shot")
    assert set(picks) <= set(shot) and set(plan.keyframe_pts.tolist()) <= set(shot)


def test_worker_planning():
    assert plan_workers(None, None, 10, cores=2) == (2, 1)
    assert plan_workers(None, None, 1, cores=8) == (1, 8)
    assert plan_workers(2, None, 10, cores=8) == (2, 4)
    assert plan_workers(None, 2, 10, cores=8) == (4, 2)
    assert plan_workers(3, 1, 10, cores=2) == (3, 1)  # explicit settings are obeyed


def _report_threads(job, reporter):
    import numba
    import torch

    reporter.put(("start", job, "w"))
    return torch.get_num_threads(), numba.get_num_threads(), os.environ.get("OMP_NUM_THREADS"), os.getpid()


def test_local_pool_gives_each_worker_its_thread_budget():
    events = []
    pool = LocalPool(2, 1, events.append)
    try:
        results = dict(pool.run(_report_threads, [0, 1, 2, 3]))
    finally:
        pool.close()
    assert sorted(results) == [0, 1, 2, 3]
    assert {r[:3] for r in results.values()} == {(1, 1, "1")}
    assert os.getpid() not in {r[3] for r in results.values()}
    assert sorted(e[1] for e in events) == [0, 1, 2, 3]


def test_render_options_validation():
    RenderOptions().validate()
    for bad, words in [(RenderOptions(workers=0), "--workers"), (RenderOptions(norm="shots"), "--norm"),
                       (RenderOptions(segment_seconds=0), "--segment-seconds"),
                       (RenderOptions(ray_address="auto"), "--backend ray"), (RenderOptions(backend="k8s"), "--backend")]:
        with pytest.raises(CodecStyleError, match=words):
            bad.validate()
    assert ProcessOptions().validate()


def test_kernel_caches_are_bounded_unless_the_user_chose(monkeypatch):
    from codecstyle.render import tasks

    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    monkeypatch.setenv("LRU_CACHE_CAPACITY", "7")
    tasks.bound_kernel_caches()
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == str(tasks.KERNEL_CACHE_ENTRIES)
    assert os.environ["LRU_CACHE_CAPACITY"] == "7"
