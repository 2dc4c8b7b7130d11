"""The build's fast paths produce exactly what the straightforward computations produce."""

import io

import numpy as np
import pytest
from PIL import Image

from data_pipeline import crops, decode, features, preprocess, writer
from dp_testdata import photo_tiles


def _reference_example(lab, example_id, grey):
    import tensorflow as tf

    def feature(**kwargs):
        return tf.train.Feature(**kwargs)

    return tf.train.Example(
        features=tf.train.Features(
            feature={
                "lab": feature(bytes_list=tf.train.BytesList(value=[np.asarray(lab, "<f2").tobytes()])),
                "height": feature(int64_list=tf.train.Int64List(value=[lab.shape[0]])),
                "width": feature(int64_list=tf.train.Int64List(value=[lab.shape[1]])),
                "id": feature(bytes_list=tf.train.BytesList(value=[example_id.encode("utf-8")])),
                "grey": feature(int64_list=tf.train.Int64List(value=[int(grey)])),
            }
        )
    ).SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    "shape, example_id, grey",
    [
        ((64, 64, 3), "class_0/img_000.png", False),
        ((1, 1, 3), "", True),  # empty id, one pixel
        ((3, 200, 3), "photo.jpg#3", True),
        ((128, 128, 3), "é漢字/" * 40, False),  # a multi-byte UTF-8 id over 127 bytes; a 3-byte length varint
        ((300, 2, 3), "x" * 20000, False),  # an id whose length needs a 3-byte varint
    ],
)
def test_serialize_example_equals_tf_train_example(shape, example_id, grey):
    rng = np.random.default_rng(sum(shape))
    lab = (rng.normal(size=shape) * 60).astype(np.float32)
    lab.flat[:3] = [np.nan, -0.0, 1e-7]  # NaN, signed zero, a float16 subnormal
    expected = _reference_example(lab, example_id, grey)
    assert features.serialize_example(np.ascontiguousarray(lab, "<f2"), example_id, grey=grey) == expected
    assert features.encode_example(lab, example_id, grey=grey) == expected


def test_serialize_example_refuses_what_it_cannot_write():
    with pytest.raises(ValueError):
        features.serialize_example(np.zeros((4, 4, 3), np.float32), "a")
    with pytest.raises(ValueError):
        features.serialize_example(np.zeros((4, 4, 3), "<f2")[:, ::2], "a")


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_colour_modes_match_their_numpy_definitions():
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    # Greyscale and bilevel: R = G = B = the grey level.
    for image, grey in [(Image.fromarray(ramp), ramp), (Image.fromarray(ramp % 3 == 0), np.where(ramp % 3 == 0, 255, 0))]:
        np.testing.assert_array_equal(preprocess.pil_to_rgb(image), np.repeat(np.asarray(grey, np.uint8)[..., None], 3, -1))
    # 16-bit greyscale: scaled by 255/65535 and rounded.
    levels = (np.arange(256, dtype=np.uint16) * 257 + np.arange(256, dtype=np.uint16) % 200).reshape(16, 16)
    decoded = preprocess.decode_image(_png(Image.fromarray(levels)))
    np.testing.assert_array_equal(decoded, np.repeat(np.round(levels * (255 / 65535)).astype(np.uint8)[..., None], 3, -1))
    # RGBA over white: fully transparent is white, opaque keeps its colour.
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    rgba[0, 1] = (200, 100, 50, 0)
    np.testing.assert_array_equal(preprocess.pil_to_rgb(Image.fromarray(rgba))[0], [[10, 20, 30], [255, 255, 255]])


@pytest.mark.parametrize("crop, count, size, upscale", [("center", 1, 16, False), ("random", 3, 8, False), ("center", 1, 40, True)])
def test_worker_bytes_equal_the_numpy_crops(tmp_path, crop, count, size, upscale):
    tiles = photo_tiles(32, 3)
    items = []
    for i, tile in enumerate(tiles):
        big = Image.fromarray(tile).resize((96 + 8 * i, 64), Image.Resampling.BICUBIC)
        big.save(tmp_path / f"p{i}.jpg", quality=90)  # JPEGs: decoded with a draft size
        items.append((f"p{i}.jpg", tmp_path / f"p{i}.jpg"))
        items.append((f"q{i}.png", _png(Image.fromarray(tile).convert("L"))))  # bytes payloads, greyscale
    items += [("bad", b"not an image"), ("missing", preprocess.SkipItem("gone")), ("array", tiles[0])]
    settings = crops.CropSettings(size, count, crop, (0.5, 1.0), upscale, 11)
    for (item_id, payload), fast in zip(items, decode.decode_task(items, settings)):
        slow = crops.crops_or_skip(item_id, payload, settings)
        if isinstance(slow, preprocess.SkipItem):
            assert isinstance(fast, preprocess.SkipItem) and fast.reason == slow.reason
            continue
        assert fast[0] == slow[0] == "rgb" and len(fast[1]) == len(slow[1]) == count
        for got, want in zip(fast[1], slow[1]):
            np.testing.assert_array_equal(writer._crop_array(got, size), want)


def test_grey_prefilter_gives_the_exact_decisions_and_scores():
    rng = np.random.default_rng(3)
    threshold = 2.0
    labs = np.zeros((40, 20, 20, 3), np.float32)  # 400 pixels: the 99th percentile lies at index 395.01
    labs[..., 0] = rng.uniform(0, 100, size=(40, 20, 20))
    for i, lab in enumerate(labs):
        chroma = rng.uniform(0, 1, size=(20, 20)) * threshold * [0.5, 0.99, 1.0, 1.0001, 1.01, 3][i % 6]
        angle = rng.uniform(0, 2 * np.pi, size=(20, 20))
        lab[..., 1], lab[..., 2] = chroma * np.cos(angle), chroma * np.sin(angle)
        if i % 5 == 0:  # 3-7 strongly coloured pixels: around the percentile's position (the top 5 values)
            lab.reshape(-1, 3)[: 3 + i % 5, 1] = 50.0
    labs[7, 0, 0, 1] = np.nan
    exact = preprocess.grey_scores(labs)
    fast = writer._grey_scores(labs, threshold)
    assert any(score is None for score in fast) and any(score is not None for score in fast)
    for got, want in zip(fast, exact):
        if got is None:  # certainly not grey
            assert not want < threshold
        else:
            assert got == want or (np.isnan(got) and np.isnan(want))
    # The filter needs the percentile's position to round down; 32x32 (index 1012.77) takes the exact path for all.
    small = np.zeros((3, 32, 32, 3), np.float32)
    assert writer._grey_scores(small, threshold) == preprocess.grey_scores(small)
    np.testing.assert_array_equal(writer._grey_scores(labs, 0.0), exact)  # no threshold to compare with: all exact


def test_tensorflow_float16_cast_equals_numpy_conversion():
    import tensorflow as tf

    rng = np.random.default_rng(5)
    bits = rng.integers(0, 1 << 32, size=4_000_000, dtype=np.uint64).astype(np.uint32)
    # Every float32 in the range Lab values take (|x| < 256), ties between float16 neighbours included.
    dense = np.arange(0x33000000, 0x43800000, 97, dtype=np.uint32)  # 97 is odd: every rounding residue, ties too
    values = np.concatenate([bits, dense, dense | 0x80000000]).view(np.float32)
    values = values[~np.isnan(values)]  # NaN payloads are not specified; Lab from uint8 RGB has none
    with np.errstate(over="ignore"):
        expected = values.astype("<f2")
    got = tf.cast(values, tf.float16).numpy().astype("<f2", copy=False)
    np.testing.assert_array_equal(got.view(np.uint16), expected.view(np.uint16))


def test_block_lab_and_its_float16_copy_equal_the_plain_computations():
    rng = np.random.default_rng(2)
    batch = np.zeros((8, 4, 4, 3), np.uint8)
    batch[:5] = rng.integers(0, 256, size=(5, 4, 4, 3), dtype=np.uint8)
    lab, stored = writer._to_lab_and_stored(batch, 8)
    np.testing.assert_array_equal(lab, writer._to_lab(list(batch[:5]), 8)[:8])
    np.testing.assert_array_equal(stored.view(np.uint16), lab.astype("<f2").view(np.uint16))
