"""User pictures as styles: parsing, loading, the arbitrary network inside the engines, the photo look."""
import cv2
import numpy as np
import pytest

from clips import make_clip, texture
from codecstyle.engine.codec import CodecEngine, CodecSettings
from codecstyle.engine.look import LookEngine
from codecstyle.errors import CodecStyleError
from codecstyle.nets.stylizer import Stylizer
from codecstyle.style_images import load_style_images, parse_style_images
from codecstyle.timing import StageTimer
from codecstyle.video.reader import probe, read_frames


@pytest.fixture(scope="module")
def painting(tmp_path_factory):
    path = tmp_path_factory.mktemp("styles") / "painting.webp"
    cv2.imwrite(str(path), cv2.cvtColor(texture(300, 420, seed=9), cv2.COLOR_RGB2BGR))
    return str(path)


def test_parse_style_images_weights_and_colons():
    assert parse_style_images("a.jpg") == [("a.jpg", 1.0)]
    assert parse_style_images("a.jpg:3,b.png:1") == [("a.jpg", 0.75), ("b.png", 0.25)]
    assert parse_style_images("C:/art/x.jpg") == [("C:/art/x.jpg", 1.0)]  # not a weight: part of the path
    with pytest.raises(CodecStyleError):
        parse_style_images("a.jpg:-1")
    with pytest.raises(CodecStyleError):
        parse_style_images(" , ")


def test_missing_and_corrupt_style_images_fail_clearly(tmp_path, painting):
    with pytest.raises(CodecStyleError, match="not found"):
        load_style_images(str(tmp_path / "nope.jpg"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(CodecStyleError, match="bad.jpg"):
        load_style_images(str(bad))
    (rgb, weight), = load_style_images(painting)
    assert rgb.shape == (300, 420, 3) and weight == 1.0


def test_style_image_blend_lives_in_style_vector_space(painting):
    pictures = load_style_images(painting)
    other = [(texture(256, 256, seed=2), 1.0)]
    a = Stylizer(device="cpu", style_images=pictures)
    b = Stylizer(device="cpu", style_images=other)
    mixed = Stylizer(device="cpu", style_images=[(pictures[0][0], 0.5), (other[0][0], 0.5)])
    assert np.allclose(mixed._style.numpy(), 0.5 * (a._style + b._style).numpy(), atol=1e-5)


def test_codec_mode_refines_tiles_with_a_style_image(tmp_path, painting):
    path = make_clip(str(tmp_path / "move.mp4"), width=192, height=128, frames=12, gop=12)
    info = probe(path)
    stylizer = Stylizer(device="cpu", style_images=load_style_images(painting))
    engine = CodecEngine(stylizer, StageTimer(), (info.width, info.height), info.codec, CodecSettings())
    records = list(read_frames(path))
    out = []
    for r in records:
        out += engine.push(r)
    out += engine.flush()
    assert len(out) == 12 and engine.refresh_frames == [0]
    assert engine.stats.network_share < 0.5
    # A tile with frozen full-frame statistics reproduces the full-frame output inside it.
    full, stats = stylizer.stylize(records[5].rgb)
    tile, _ = stylizer.stylize(records[5].rgb[0:128, 0:120], stats)
    assert np.abs(tile[:, :56].astype(int) - full[:, :56]).mean() < 1.0


def test_photo_look_engine_is_steady_and_moves_colours(painting, ipb_clip):
    target = load_style_images(painting)[0][0]
    engine = LookEngine(target, 1.0, StageTimer())
    graded = [engine.push(r)[0][1] for r in read_frames(ipb_clip)]
    assert len(graded) == 24 and engine.stats.network_share == 0.0
    assert engine.describe()["shots"] == [0]
    # the grade is frozen after the first frames of the shot: the mean colour stays put
    means = np.array([g.reshape(-1, 3).mean(axis=0) for g in graded[4:]])
    assert np.ptp(means, axis=0).max() < 2.0
    lab = lambda rgb: cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(axis=0)
    source = next(read_frames(ipb_clip)).rgb
    assert np.abs(lab(graded[0]) - lab(target)).sum() < np.abs(lab(source) - lab(target)).sum()


def test_cli_style_image_in_codec_mode_photo_look_and_errors(tmp_path, painting, ipb_audio_clip):
    from conftest import run_cli
    import json

    out = tmp_path / "art.mp4"
    r = run_cli("process", ipb_audio_clip, "-o", str(out), "--style-image", painting, "--json", "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["frames"] == 24 and summary["options"]["mode"] == "codec"
    assert summary["network_share"] < 1.0 and out.exists()
    photo = tmp_path / "photo.mp4"
    r = run_cli("process", ipb_audio_clip, "-o", str(photo), "--style-image", painting, "--look", "photo", "--json", "-q")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["engine"]["engine"] == "photo-look"
    for bad in (["--style-image", str(tmp_path / "missing.png")], ["--look", "photo"]):
        r = run_cli("process", ipb_audio_clip, "-o", str(tmp_path / "x.mp4"), *bad)
        assert r.returncode == 2 and r.stderr.startswith("codecstyle: error:") and "Traceback" not in r.stderr
        assert not (tmp_path / "x.mp4").exists()
    sheet = tmp_path / "preview.png"
    r = run_cli("styles", ipb_audio_clip, "--style-image", painting, "-o", str(sheet), "--tile", "96")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(sheet)) is not None


def test_segments_share_the_films_content_style(tmp_path, painting):
    """With style images at strength < 1 the look depends on the content's own style vector:
    every segment's worker takes it from the film's first frame, as a single pass does."""
    from types import SimpleNamespace

    from codecstyle.options import ProcessOptions
    from codecstyle.render.tasks import pin_content_style

    clip = make_clip(str(tmp_path / "two_shots.mp4"), frames=8, gop=4)
    info = probe(clip)
    job = SimpleNamespace(input=clip, info=info, options=ProcessOptions(), threads=1)
    (rgb, _), = load_style_images(painting)
    frames = [r.rgb for r in read_frames(clip)]
    single = Stylizer(style_images=[(rgb, 1.0)], strength=0.5, device="cpu")
    single.stylize(frames[0])                       # a single pass measures its first frame
    worker = Stylizer(style_images=[(rgb, 1.0)], strength=0.5, device="cpu")
    pin_content_style(worker, job)                  # a worker starting at frame 4
    assert worker.content_source == clip
    assert np.array_equal(worker.stylize(frames[5])[0], single.stylize(frames[5])[0])
    unpinned = Stylizer(style_images=[(rgb, 1.0)], strength=0.5, device="cpu")
    unpinned.stylize(np.ascontiguousarray(255 - frames[4]))   # some other first frame
    assert not np.array_equal(unpinned.stylize(frames[5])[0], single.stylize(frames[5])[0])
