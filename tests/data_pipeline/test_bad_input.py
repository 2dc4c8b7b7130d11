"""Bad input: one broken file never aborts a build; convertible modes are converted correctly."""

import io
import json

import numpy as np
import pytest
from dp_testdata import photo_tiles
from dp_testdata import png16_rgb
from PIL import Image
from skimage.color import rgb2lab

from data_pipeline import iterate_numpy
from data_pipeline import write_shards

SIZE = 16


@pytest.fixture
def bad_corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    good = photo_tiles(SIZE, 2)
    Image.fromarray(good[0]).save(root / "good.png")
    buffer = io.BytesIO()
    Image.fromarray(np.kron(good[1], np.ones((4, 4, 1), np.uint8))).save(buffer, "JPEG", quality=95)
    (root / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (root / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    Image.new("CMYK", (SIZE, SIZE), (0, 255, 255, 0)).save(
        root / "cmyk.jpg", quality=95
    )  # pure red ink
    rgb16 = (np.random.default_rng(0).random((SIZE, SIZE, 3)) * 65535).astype(np.uint16)
    (root / "rgb16.png").write_bytes(png16_rgb(rgb16))
    grey16 = np.tile(np.linspace(1000, 64000, SIZE).astype(np.uint16), (SIZE, 1))
    Image.fromarray(grey16).save(root / "grey16.png")
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[..., :3] = good[0]
    rgba[..., 3] = 255
    rgba[:, :8, 3] = 0  # left half fully transparent
    rgba[:, 8:12, 3] = 128
    Image.fromarray(rgba).save(root / "rgba.png")
    palette = Image.fromarray(good[0]).quantize(colors=16)
    palette.save(root / "palette.png")
    Image.fromarray(good[0]).convert("L").save(root / "grey.png")
    Image.fromarray(good[0][:10, :10]).save(root / "small.png")
    return root, {
        "good": good[0],
        "rgb16": rgb16,
        "grey16": grey16,
        "rgba": rgba,
        "palette": palette,
    }


def _examples(out):
    L, ab, ids = next(iterate_numpy(out, 100, shuffle=False, with_ids=True))
    return {i: np.concatenate([L[k], ab[k]], axis=-1) for k, i in enumerate(ids)}


def test_bad_corpus_is_converted_or_skipped_with_reasons(bad_corpus, tmp_path):
    root, sources = bad_corpus
    out = tmp_path / "out"
    entry = write_shards(f"folder:{root}", out, image_size=SIZE)  # grey="skip" by default
    reasons = {item["id"]: item["reason"] for item in entry["skipped"]}
    assert set(reasons) == {"truncated.jpg", "notes.jpg", "small.png", "grey.png", "grey16.png"}
    assert "truncated" in reasons["truncated.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "too small: 10x10" in reasons["small.png"]
    assert reasons["grey.png"].startswith("greyscale") and reasons["grey16.png"].startswith(
        "greyscale"
    )
    assert entry["num_skipped"] == 5 and entry["num_examples"] == 5
    on_disk = json.loads((out / "manifest.json").read_text())["splits"]["train"]
    assert on_disk["skipped"] == entry["skipped"]

    examples = _examples(out)
    assert sorted(examples) == ["cmyk.jpg", "good.png", "palette.png", "rgb16.png", "rgba.png"]
    np.testing.assert_allclose(examples["good.png"], rgb2lab(sources["good"]), atol=0.04)
    # 16-bit RGB: within one 8-bit level of the exact 16-bit colour.
    exact16 = rgb2lab(sources["rgb16"].astype(np.float64) / 65535)
    assert np.abs(examples["rgb16.png"] - exact16).max() < 1.5
    # RGBA composited over white: transparent -> white, half alpha -> halfway blend.
    alpha = sources["rgba"][..., 3:].astype(np.float64) / 255
    over_white = np.round(sources["rgba"][..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    np.testing.assert_allclose(examples["rgba.png"], rgb2lab(over_white), atol=0.5)
    np.testing.assert_allclose(
        examples["rgba.png"][:, :8], np.tile([100.0, 0, 0], (SIZE, 8, 1)), atol=0.05
    )
    # Palette: the palette colours themselves.
    np.testing.assert_allclose(
        examples["palette.png"], rgb2lab(np.asarray(sources["palette"].convert("RGB"))), atol=0.04
    )
    # CMYK (0, 100%, 100%, 0) is a strong red: large positive a and b.
    red = examples["cmyk.jpg"].reshape(-1, 3).mean(0)
    assert red[1] > 60 and red[2] > 40


def test_grey_flag_keeps_and_marks_greyscale_images(bad_corpus, tmp_path):
    root, sources = bad_corpus
    entry = write_shards(f"folder:{root}", tmp_path / "out", image_size=SIZE, grey="flag")
    flagged = [i for s in entry["shards"] for i in s["flagged_grey"]]
    assert sorted(flagged) == ["grey.png", "grey16.png"] and entry["num_flagged_grey"] == 2
    examples = _examples(tmp_path / "out")
    # 16-bit grey scaled by 255/65535 (not clipped at 255 as Pillow's "L" conversion would).
    grey8 = np.round(sources["grey16"] * (255 / 65535)).astype(np.uint8)
    np.testing.assert_allclose(
        examples["grey16.png"], rgb2lab(np.repeat(grey8[..., None], 3, -1)), atol=0.05
    )
    assert np.abs(examples["grey16.png"][..., 1:]).max() < 0.05


def test_missing_source_unknown_tfds_and_unwritable_output_fail_at_once(tmp_path, png_folder):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        write_shards(f"folder:{tmp_path / 'does-not-exist'}", tmp_path / "out")
    with pytest.raises(ValueError, match="no_such_dataset_xyz"):
        write_shards("tfds:no_such_dataset_xyz", tmp_path / "out", download=False)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="not writable"):
        write_shards(f"folder:{png_folder[0]}", blocker / "out", image_size=16)
    with pytest.raises(ValueError, match="unknown source spec"):
        write_shards("ftp:somewhere", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="L.npy"):
        write_shards(f"npy:{tmp_path / 'L.npy'},{tmp_path / 'ab.npy'}", tmp_path / "out")
