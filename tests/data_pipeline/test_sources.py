"""Sources: TFDS through tfds.testing.mock_data, the bundled sample photos, spec strings."""

import numpy as np
import pytest
from skimage.color import rgb2lab

from data_pipeline import iterate_numpy
from data_pipeline import sources
from data_pipeline import write_shards


def test_tfds_source_through_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    out = tmp_path / "cifar"
    with tfds.testing.mock_data(num_examples=20):
        entry = write_shards(
            "tfds:cifar10:train", out, image_size=32, examples_per_shard=8, grey="keep"
        )
        # What the source yields (the build reads the split as `train[0:20]`), straight from TFDS:
        reference = {
            r["tfds_id"].decode(): r["image"]
            for r in tfds.as_numpy(
                tfds.builder("cifar10").as_dataset(
                    split="train[0:20]",
                    shuffle_files=False,
                    read_config=tfds.ReadConfig(add_tfds_id=True),
                )
            )
        }
    assert entry["source"] == "tfds:cifar10:train" and [s["count"] for s in entry["shards"]] == [
        8,
        8,
        4,
    ]
    assert sorted(p.name for p in out.glob("*.tfrecord"))[0] == "train-00000-of-00003.tfrecord"
    examples = {}
    for L, ab, ids in iterate_numpy(out, 8, shuffle=False, with_ids=True):
        examples.update({i: np.concatenate([L[k], ab[k]], -1) for k, i in enumerate(ids)})
    assert sorted(examples) == sorted(reference) and len(examples) == 20
    for key in examples:
        np.testing.assert_allclose(examples[key], rgb2lab(reference[key]), atol=0.04)


def test_tfds_offline_without_prepared_data_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cifar10.*no split|no split.*train"):
        sources.tfds("cifar10", "train", data_dir=str(tmp_path), download=False)


def test_sample_photos_are_real_colour_photos_split_by_photo(tmp_path):
    train, validation = sources.sample_photos("train"), sources.sample_photos("validation")
    train_ids = [i for i, _ in train.iter_range(0, len(train))]
    val_ids = [i for i, _ in validation.iter_range(0, len(validation))]
    assert len(train_ids) == 9 and len(val_ids) == 3 and not set(train_ids) & set(val_ids)
    out = tmp_path / "samples"
    entry = write_shards("samples:validation", out, image_size=32, crops_per_image=20)
    assert entry["num_examples"] == 60 and entry["skipped"] == []
    L, ab, ids = next(iterate_numpy(out, 60, shuffle=False, with_ids=True))
    assert ids[:2] == ["skimage/chelsea#0", "skimage/chelsea#1"]
    assert {i.split("#")[0] for i in ids} == set(val_ids)
    # Real colour: every photo has chroma, and random crops differ from each other.
    assert np.hypot(ab[..., 0], ab[..., 1]).mean() > 5
    assert not np.array_equal(L[0], L[1])
    assert 0 <= L.min() and L.max() <= 100
    with pytest.raises(ValueError, match="split must be one of"):
        sources.sample_photos("test")


def test_spec_strings_resolve_to_sources(png_folder):
    root, _ = png_folder
    folder = sources.from_spec(f"folder:{root}", split="validation")
    assert (
        isinstance(folder, sources.ImageFolder)
        and folder.split == "validation"
        and len(folder) == 20
    )
    assert sources.from_spec("samples").split == "train"
    assert sources.from_spec("samples:validation").spec == "samples:validation"
    with pytest.raises(ValueError, match="names split"):
        sources.from_spec("samples:validation", split="train")
    with pytest.raises(ValueError, match="npy:L.npy,AB.npy"):
        sources.from_spec("npy:only_one.npy")
    with pytest.raises(ValueError, match="plain split"):
        sources.from_spec("tfds:cifar10:train[:10%]", download=False)


def test_first_n_yields_the_sources_first_items_only():
    full = sources.sample_photos("train")
    subset = sources.first_n(full, 3, split="train3")
    assert (len(subset), subset.split, subset.spec) == (3, "train3", "samples:train[:3]")
    expected = [item_id for item_id, _ in full.iter_range(0, 3)]
    assert [item_id for item_id, _ in subset.iter_range(0, 10)] == expected
    assert len(sources.first_n(full, 1000)) == len(full)
    with pytest.raises(ValueError, match="n=0"):
        sources.first_n(full, 0)


def test_every_nth_split_is_disjoint_complete_and_fixed():
    from data_pipeline import sources

    base = sources.sample_photos("train")
    held_out = sources.every_nth(base, "validation", every=3)
    training = sources.every_nth(base, "train", every=3)
    ids = lambda source: [item_id for item_id, _ in source.iter_range(0, len(source))]
    all_ids = ids(base)
    assert ids(held_out) == all_ids[::3]
    assert sorted(ids(held_out) + ids(training)) == sorted(all_ids)
    assert ids(training)[1:3] == ids(sources.every_nth(base, "train", every=3))[1:3]
    assert training.spec.endswith("[not ::3]") and held_out.spec.endswith("[::3]")
    with pytest.raises(ValueError, match="split must be one of"):
        sources.every_nth(base, "test", every=3)


def test_photo_split_names_a_missing_folder(tmp_path):
    from notebook_support import photo_split

    with pytest.raises(FileNotFoundError, match="nowhere.*COLORIZATION_PHOTOS"):
        photo_split.photo_source("train", folder=tmp_path / "nowhere")


def test_photo_split_of_the_real_photos_holds_out_every_seventh():
    from notebook_support import photo_split

    folder = photo_split.find_photo_folder()
    if folder is None:
        pytest.skip(
            f"real photos {photo_split.default_photo_folder()} are absent "
            "(they sit beside the clone)"
        )
    names = sorted(p.name for p in folder.glob("*.jpg"))
    validation = photo_split.photo_source("validation")
    assert [i for i, _ in validation.iter_range(0, len(validation))] == names[::7]
    L, ab, ids = photo_split.load_split("validation", 16, limit=5)
    assert ids == names[::7][:5] and L.shape == (5, 16, 16, 1) and ab.shape == (5, 16, 16, 2)
