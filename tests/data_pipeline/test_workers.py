"""Shards of exactly `examples_per_shard`; bytes that do not depend on the number of workers."""

import json
import pickle
import subprocess
import sys

import pytest
from PIL import Image

from data_pipeline import iterate_numpy
from data_pipeline import write_shards
from data_pipeline import writer


@pytest.fixture
def photos_with_bad_inputs(png_folder):
    """20 colour tiles, a greyscale photo, an unreadable file and a too-small image: 23 inputs."""
    root, expected = png_folder
    Image.fromarray(expected["class_1/img_005.png"]).convert("L").save(
        root / "class_0" / "img_002g.png"
    )
    (root / "class_1" / "img_009b.png").write_bytes(b"not a png")
    Image.fromarray(expected["class_0/img_010.png"][:8, :8]).save(root / "class_0" / "img_010s.png")
    return root, sorted(expected)


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_every_shard_but_the_last_is_full_and_skipped_inputs_are_recorded_once(
    photos_with_bad_inputs, tmp_path
):
    root, colour = photos_with_bad_inputs
    entry = write_shards(
        f"folder:{root}", tmp_path / "out", image_size=16, examples_per_shard=6, workers=1
    )
    assert [s["count"] for s in entry["shards"]] == [6, 6, 6, 2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json"] + [
        f"train-{i:05d}-of-00004.tfrecord" for i in range(4)
    ]
    reasons = {item["id"]: item["reason"] for item in entry["skipped"]}
    assert sorted(reasons) == [
        "class_0/img_002g.png",
        "class_0/img_010s.png",
        "class_1/img_009b.png",
    ]
    assert (
        reasons["class_0/img_002g.png"].startswith("greyscale")
        and "too small" in reasons["class_0/img_010s.png"]
    )
    # The kept examples, in sorted order, cut into consecutive groups of six.
    ids = [
        i
        for batch in iterate_numpy(tmp_path / "out", 6, shuffle=False, with_ids=True)
        for i in batch[2]
    ]
    assert ids == colour
    # Each shard covers the positions from its first example to the next shard's first; each skipped
    # input is reported by the shard covering it.
    inputs = sorted(colour + sorted(reasons))
    spans = [s["positions"] for s in entry["shards"]]
    assert (
        spans[0][0] == 0
        and spans[-1][1] == len(inputs)
        and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    )
    for shard in entry["shards"]:
        covered = inputs[shard["positions"][0] : shard["positions"][1]]
        assert sorted(item["id"] for item in shard["skipped"]) == [
            i for i in covered if i in reasons
        ]


@pytest.mark.parametrize("grey", ["skip", "flag"])
def test_one_and_two_workers_write_identical_shards_and_manifest(
    photos_with_bad_inputs, tmp_path, grey
):
    root, _ = photos_with_bad_inputs
    # Three random crops per image in blocks of five positions: items straddle blocks and shards.
    settings = dict(image_size=8, examples_per_shard=5, crops_per_image=3, grey=grey, seed=7)
    one = write_shards(f"folder:{root}", tmp_path / "one", workers=1, **settings)
    two = write_shards(f"folder:{root}", tmp_path / "two", workers=2, **settings)
    assert one == two
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    counts = [s["count"] for s in one["shards"]]
    assert all(c == 5 for c in counts[:-1]) and 1 <= counts[-1] <= 5
    assert (
        sum(counts) + one["num_skipped"] == 3 * 23
    )  # every crop of every input is kept or skipped
    if grey == "flag":  # only the unreadable file is skipped; the 8x8 image is large enough here
        assert sum(counts) == 3 * 22 and one["num_flagged_grey"] >= 3


def test_worker_processes_never_import_a_deep_learning_framework(png_folder):
    """A worker imports what `data_pipeline.writer` imports (its fork server's preload)."""
    from data_pipeline import features

    root, _ = png_folder
    script = (
        "import pickle, sys; from data_pipeline import examples, writer; "
        "writer._start_worker(pickle.load(sys.stdin.buffer)); "
        f"[example] = examples.item_examples('a', {str(root / 'class_0/img_000.png')!r}, "
        "examples.BuildConfig(image_size=16)); "
        "print(len(example.record), sorted({m.split('.')[0] for m in sys.modules}))"
    )
    descriptors = pickle.dumps(features.example_descriptors())
    loaded = subprocess.run(
        [sys.executable, "-c", script], input=descriptors, capture_output=True, check=True
    ).stdout.decode()
    assert int(loaded.split()[0]) > 16 * 16 * 3 * 2 and "'PIL'" in loaded and "'skimage'" in loaded
    for heavy in ("tensorflow", "keras", "jax", "torch", "colorization"):
        assert f"'{heavy}'" not in loaded  # each would cost seconds of start-up in every worker


def test_manifest_records_the_cut_and_readers_see_only_final_names(
    photos_with_bad_inputs, tmp_path
):
    root, _ = photos_with_bad_inputs
    write_shards(f"folder:{root}", tmp_path / "out", image_size=16, examples_per_shard=8)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["splits"]["train"]
    assert (
        manifest["status"] == "complete"
        and manifest["num_shards"] == 3
        and manifest["num_examples"] == 20
    )
    assert [s["file"] for s in manifest["shards"]] == [
        f"train-{i:05d}-of-00003.tfrecord" for i in range(3)
    ]
    assert not list((tmp_path / "out").glob(".*"))  # no staged or temporary files left


def test_a_failed_shard_write_stops_the_build_and_the_rerun_resumes(
    png_folder, tmp_path, monkeypatch
):
    root, _ = png_folder
    settings = dict(image_size=16, examples_per_shard=4, workers=1)
    real_write = writer.write_shard

    def failing(out_dir, split, config, index, *args):
        if index == 2:  # written in the background thread: the error reaches the caller
            raise OSError("disk full")
        return real_write(out_dir, split, config, index, *args)

    monkeypatch.setattr(writer, "write_shard", failing)
    with pytest.raises(OSError, match="disk full"):
        write_shards(f"folder:{root}", tmp_path / "out", **settings)
    partial = json.loads((tmp_path / "out" / "manifest.json").read_text())["splits"]["train"]
    assert partial["status"] == "building" and [s["index"] for s in partial["shards"]] == [0, 1]
    monkeypatch.undo()
    write_shards(f"folder:{root}", tmp_path / "out", **settings)
    write_shards(f"folder:{root}", tmp_path / "clean", **settings)
    assert _files(tmp_path / "out") == _files(tmp_path / "clean")


def test_the_manifest_is_saved_once_a_second_not_per_shard_with_the_same_result(
    png_folder, tmp_path, monkeypatch
):
    root, _ = png_folder
    settings = dict(image_size=16, examples_per_shard=1, workers=1)
    monkeypatch.setattr(writer, "MANIFEST_SAVE_INTERVAL_S", 0.0)  # a save after every shard
    write_shards(f"folder:{root}", tmp_path / "every", **settings)
    saves = []
    real_save = writer.manifest_lib.save_manifest

    def counting(directory, manifest):
        entry = manifest["splits"]["train"]
        saves.append((entry["status"], len(entry["shards"])))
        real_save(directory, manifest)

    monkeypatch.setattr(writer, "MANIFEST_SAVE_INTERVAL_S", 3600.0)
    monkeypatch.setattr(writer.manifest_lib, "save_manifest", counting)
    write_shards(f"folder:{root}", tmp_path / "throttled", **settings)
    # The plan, the first shard, all shards at the end of the loop, then the completed build.
    assert saves == [("building", 0), ("building", 1), ("building", 20), ("complete", 20)]
    assert _files(tmp_path / "throttled") == _files(tmp_path / "every")
