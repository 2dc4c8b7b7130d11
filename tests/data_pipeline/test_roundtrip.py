"""Round trips: sources -> shards -> read_shards / iterate_numpy against independent Lab values."""

import json

import keras
import numpy as np
import pytest
from skimage.color import rgb2lab

from data_pipeline import iterate_numpy
from data_pipeline import read_shards
from data_pipeline import write_shards

# float16 keeps 11 significant bits: half a step at |x| < 128 is 0.03125.
F16_TOL = 0.0313 + 1e-3


def _read_all_tf(out, **kwargs):
    L, ab, ids = [], [], []
    for batch in read_shards(out, 8, shuffle=False, with_ids=True, **kwargs):
        L.append(batch[0].numpy())
        ab.append(batch[1].numpy())
        ids.extend(x.decode() for x in batch[2].numpy())
    return np.concatenate(L), np.concatenate(ab), ids


def test_folder_round_trip_matches_skimage_lab(png_folder, tmp_path):
    root, expected = png_folder
    out = tmp_path / "shards"
    entry = write_shards(f"folder:{root}", out, image_size=16, examples_per_shard=8, grey="keep")
    assert [s["count"] for s in entry["shards"]] == [8, 8, 4]
    assert sorted(p.name for p in out.glob("*.tfrecord")) == [
        f"train-{i:05d}-of-00003.tfrecord" for i in range(3)
    ]
    L, ab, ids = _read_all_tf(out)
    assert ids == sorted(expected)  # sorted relative paths, recursively, labels ignored
    assert L.dtype == np.float32 and L.shape == (20, 16, 16, 1) and ab.shape == (20, 16, 16, 2)
    reference = np.stack([rgb2lab(expected[i]) for i in ids])
    np.testing.assert_allclose(L[..., 0], reference[..., 0], atol=F16_TOL, rtol=0)
    np.testing.assert_allclose(ab, reference[..., 1:], atol=F16_TOL + 2e-3, rtol=0)
    # The NumPy reader (no TensorFlow) decodes the same bytes to the same arrays.
    batches = list(iterate_numpy(out, 8, shuffle=False, with_ids=True))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), L)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), ab)
    assert sum((b[2] for b in batches), []) == ids
    manifest = json.loads((out / "manifest.json").read_text())
    train = manifest["splits"]["train"]
    assert train["image_size"] == 16 and train["dtype"] == "float16" and train["num_examples"] == 20
    assert all(len(s["sha256"]) == 64 for s in train["shards"])


def test_center_crop_takes_the_middle_square(tmp_path):
    from PIL import Image
    from skimage import data

    photo = np.ascontiguousarray(
        data.astronaut()[100:116, 100:124]
    )  # 16 x 24: the crop needs no resize
    folder = tmp_path / "one"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "wide.png")
    write_shards(f"folder:{folder}", tmp_path / "out", image_size=16)
    L, ab = next(iterate_numpy(tmp_path / "out", 1, shuffle=False))
    reference = rgb2lab(photo[:, 4:20])
    np.testing.assert_allclose(np.concatenate([L, ab], -1)[0], reference, atol=F16_TOL + 2e-3)


def test_numpy_lab_source_inverts_opencv_8bit_scaling_exactly(tmp_path):
    rng = np.random.default_rng(1)
    L8 = rng.integers(0, 256, (300, 8, 8), dtype=np.uint8)
    ab8 = rng.integers(60, 200, (300, 8, 8, 2), dtype=np.uint8)
    np.save(tmp_path / "L.npy", L8)
    np.save(tmp_path / "ab1.npy", ab8[:100])
    np.save(tmp_path / "ab2.npy", ab8[100:])
    out = tmp_path / "out"
    entry = write_shards(
        f"npy:{tmp_path / 'L.npy'},{tmp_path / 'ab1.npy'},{tmp_path / 'ab2.npy'}",
        out,
        image_size=8,
        grey="keep",
    )
    assert [s["count"] for s in entry["shards"]] == [128, 128, 44]  # 128 per shard but the last
    L, ab, ids = _read_all_tf(out)
    assert ids[:2] == ["L.npy[0]", "L.npy[1]"] and len(ids) == 300
    # Hand-worked inverse of OpenCV's 8-bit Lab: L = L8 * 100 / 255, a = a8 - 128, b = b8 - 128.
    np.testing.assert_allclose(L[..., 0], L8.astype(np.float64) * 100 / 255, atol=F16_TOL)
    np.testing.assert_array_equal(
        ab, ab8.astype(np.float32) - 128
    )  # integers below 2048 are exact in float16


def test_gzip_shards_read_back_identically(png_folder, tmp_path):
    root, _ = png_folder
    plain, zipped = tmp_path / "plain", tmp_path / "gzip"
    write_shards(f"folder:{root}", plain, image_size=16, grey="keep")
    write_shards(f"folder:{root}", zipped, image_size=16, grey="keep", compression="GZIP")
    a, b = _read_all_tf(plain), _read_all_tf(zipped)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (zipped / "train-00000-of-00001.tfrecord").read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    c = next(iterate_numpy(zipped, 20, shuffle=False))
    np.testing.assert_array_equal(c[1], a[1])


def test_reader_options_shuffle_flip_repeat_drop_remainder(png_folder, tmp_path):
    root, _ = png_folder
    out = tmp_path / "shards"
    write_shards(f"folder:{root}", out, image_size=16, examples_per_shard=8, grey="keep")
    L0, ab0, ids0 = _read_all_tf(out)
    by_id = {i: (L0[k], ab0[k]) for k, i in enumerate(ids0)}

    keras.utils.set_random_seed(
        0
    )  # with a global seed, a stateful op's stream depends on the ops made before it
    batches = list(
        read_shards(out, 6, shuffle=True, seed=3, flip=True, drop_remainder=True, with_ids=True)
    )
    assert [b[0].shape[0] for b in batches] == [6, 6, 6]
    seen, flips = [], 0
    for L, ab, ids in batches:
        for k, i in enumerate(x.decode() for x in ids.numpy()):
            seen.append(i)
            ref_L, ref_ab = by_id[i]
            if np.array_equal(L[k].numpy(), ref_L):
                np.testing.assert_array_equal(ab[k].numpy(), ref_ab)
            else:  # otherwise it must be the mirror image
                np.testing.assert_array_equal(L[k].numpy(), ref_L[:, ::-1])
                np.testing.assert_array_equal(ab[k].numpy(), ref_ab[:, ::-1])
                flips += 1
    assert len(set(seen)) == 18 and seen != sorted(seen) and 0 < flips < 18
    again = list(
        read_shards(out, 6, shuffle=True, seed=3, flip=True, drop_remainder=True, with_ids=True)
    )
    assert [
        x.decode() for b in again for x in b[2].numpy()
    ] == seen  # a seed makes the order reproducible
    for first, second in zip(batches, again):  # ... and the flips
        np.testing.assert_array_equal(first[0].numpy(), second[0].numpy())

    repeated = read_shards(out, 8, repeat=True).take(7)
    assert sum(int(b[0].shape[0]) for b in repeated) == 56  # more than one epoch

    np_ids = [
        i
        for b in iterate_numpy(out, 6, shuffle=True, seed=0, flip=True, with_ids=True)
        for i in b[2]
    ]
    assert sorted(np_ids) == sorted(ids0) and np_ids != ids0


def test_reader_refuses_directory_disagreeing_with_manifest(png_folder, tmp_path):
    root, _ = png_folder
    out = tmp_path / "shards"
    write_shards(f"folder:{root}", out, image_size=16, examples_per_shard=8, grey="keep")
    shard = out / "train-00001-of-00003.tfrecord"
    data = shard.read_bytes()
    shard.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="train-00001-of-00003"):
        read_shards(out, 4)
    with pytest.raises(ValueError, match="train-00001-of-00003"):
        next(iterate_numpy(out, 4))
    shard.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, different bytes
    read_shards(out, 4)  # the size check passes...
    with pytest.raises(ValueError, match="train-00001-of-00003.*sha256"):
        read_shards(out, 4, verify="checksum")
    shard.unlink()
    with pytest.raises(ValueError, match="train-00001-of-00003.*missing"):
        read_shards(out, 4)
    shard.write_bytes(data)
    (out / "train-00007-of-00009.tfrecord").write_bytes(b"")
    with pytest.raises(ValueError, match="train-00007-of-00009.*not listed"):
        read_shards(out, 4)
