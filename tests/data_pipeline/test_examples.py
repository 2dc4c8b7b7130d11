"""The per-item work (`examples.item_examples`) against independent computations."""

import io

import numpy as np
import pytest
from dp_testdata import photo_tiles
from PIL import Image
from skimage.color import rgb2lab

from data_pipeline.examples import BuildConfig
from data_pipeline.examples import Example
from data_pipeline.examples import Skipped
from data_pipeline.examples import _load
from data_pipeline.examples import _to_rgb
from data_pipeline.examples import item_examples
from data_pipeline.sources import SkipItem

F16_TOL = 0.0313 + 2e-3  # float16 rounding of Lab values below 128, plus slack


def _lab(example, size):
    import tensorflow as tf

    features = tf.train.Example.FromString(example.record).features.feature
    assert features["height"].int64_list.value == features["width"].int64_list.value == [size]
    lab = (
        np.frombuffer(features["lab"].bytes_list.value[0], "<f2")
        .reshape(size, size, 3)
        .astype(np.float64)
    )
    return lab


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_colour_modes_match_their_numpy_definitions():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    # Greyscale and bilevel: R = G = B = the grey level.
    for image, grey in [
        (Image.fromarray(ramp), ramp),
        (Image.fromarray(ramp % 3 == 0), np.where(ramp % 3 == 0, 255, 0)),
    ]:
        np.testing.assert_array_equal(
            np.asarray(_to_rgb(image)), np.repeat(np.asarray(grey, np.uint8)[..., None], 3, -1)
        )
    # 16-bit greyscale: scaled by 255/65535 and rounded.
    levels = (
        np.arange(256, dtype=np.uint16) * 257 + np.arange(256, dtype=np.uint16) % 200
    ).reshape(16, 16)
    decoded, full_size = _load(_png(Image.fromarray(levels)), 16)
    assert full_size == (16, 16)
    np.testing.assert_array_equal(
        np.asarray(decoded),
        np.repeat(np.round(levels * (255 / 65535)).astype(np.uint8)[..., None], 3, -1),
    )
    # RGBA over white: transparent is white, opaque keeps its colour; as a file and as an array.
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    rgba[0, 1] = (200, 100, 50, 0)
    for payload in (_png(Image.fromarray(rgba)), rgba):
        np.testing.assert_array_equal(
            np.asarray(_load(payload, 2)[0])[0], [[10, 20, 30], [255, 255, 255]]
        )
    with pytest.raises(SkipItem, match="dtype float64"):
        _load(np.zeros((4, 4, 3)), 4)


def test_random_crops_are_windows_of_the_photo_fixed_by_seed_and_id():
    photo = photo_tiles(40, 1)[0][:30]  # 30 x 40
    config = BuildConfig(
        image_size=16, crops_per_image=3, crop_scale=(0.5, 0.5), seed=5
    )  # 15 px: raised to 16, no resize
    crops = item_examples("photo", photo, config)
    assert [c.id for c in crops] == ["photo#0", "photo#1", "photo#2"]
    windows = {(y, x): rgb2lab(photo[y : y + 16, x : x + 16]) for y in range(15) for x in range(25)}
    for crop in crops:
        error = min(np.abs(_lab(crop, 16) - window).max() for window in windows.values())
        assert error <= F16_TOL
    again = item_examples("photo", photo, config)
    assert all(
        a.record == b.record for a, b in zip(crops, again)
    )  # a pure function of (seed, id, photo)
    other_seed = item_examples(
        "photo", photo, BuildConfig(image_size=16, crops_per_image=3, crop_scale=(0.5, 0.5), seed=6)
    )
    assert not all(a.record == b.record for a, b in zip(crops, other_seed))


def test_jpeg_decoded_at_a_reduced_scale_matches_the_full_decode(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).resize((512, 384)).save(path, quality=95)
    [example] = item_examples("astronaut", path, BuildConfig(image_size=64, grey="keep"))
    full = Image.open(path).convert("RGB")  # full-resolution decode, then the centre square resized
    reference = rgb2lab(
        np.asarray(full.resize((64, 64), Image.Resampling.BICUBIC, box=(64, 0, 448, 384)))
    )
    difference = np.abs(_lab(example, 64) - reference)
    assert (
        difference.mean() < 1.0 and np.percentile(difference, 99) < 6.0
    )  # a few Lab units at sharp edges


@pytest.mark.parametrize("coloured_pixels, grey", [(11, False), (5, True), (10, True)])
def test_grey_test_is_the_99th_percentile_of_chroma(coloured_pixels, grey):
    image = np.full(
        (32, 32, 3), 128, np.uint8
    )  # 1,024 pixels: grey when fewer than 10.24 are coloured
    image.reshape(-1, 3)[:coloured_pixels] = (200, 30, 30)
    [outcome] = item_examples("grey", image, BuildConfig(image_size=32))
    if grey:
        assert (
            isinstance(outcome, Skipped)
            and outcome.reason
            == f"greyscale: {coloured_pixels / 1024:.2%} of the pixels with chroma >= 2.0"
        )
    else:
        assert isinstance(outcome, Example)
    [flagged] = item_examples("grey", image, BuildConfig(image_size=32, grey="flag"))
    assert isinstance(flagged, Example) and flagged.grey == grey


def test_items_that_cannot_be_used_are_skipped_with_their_reason(tmp_path):
    config = BuildConfig(image_size=16, crops_per_image=2)
    assert item_examples("bad", b"not an image", config) == [
        Skipped("bad", "not an image: the decoder does not recognise the file format", 2)
    ]
    assert item_examples("gone", SkipItem("removed"), config) == [Skipped("gone", "removed", 2)]
    [small] = item_examples("small", np.zeros((10, 30, 3), np.uint8), config)
    assert small.reason == "too small: 30x10 pixels, shorter side below 16"
    [upscaled, _] = item_examples(
        "small",
        photo_tiles(10, 1)[0],
        BuildConfig(image_size=16, crops_per_image=2, allow_upscale=True),
    )
    assert _lab(upscaled, 16).shape == (16, 16, 3)
