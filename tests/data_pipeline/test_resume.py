"""A build killed part-way (a real SIGKILL of a subprocess) resumes to the uninterrupted result."""

import json
import os
import signal
import subprocess
import sys
import time

from PIL import Image

from data_pipeline import write_shards


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _photos_with_bad_inputs(png_folder, copies=0):
    """The 20 tiles (and `copies` more of them), an unreadable file and a greyscale photo."""
    root, expected = png_folder
    (root / "class_0" / "img_004b.png").write_bytes(b"not a png")
    Image.fromarray(expected["class_1/img_007.png"]).convert("L").save(
        root / "class_1" / "img_007b.png"
    )
    tiles = list(expected.values())
    (root / "class_2").mkdir()
    for i in range(copies):
        Image.fromarray(tiles[i % len(tiles)]).save(root / "class_2" / f"copy_{i:03d}.png")
    return root


# The build to kill: 120 inputs read slowly (0.05 s each, about 6 s in all), so that the test
# can kill it once its first shard is on disk. The source's spec is the folder's: the re-run
# resumes it.
SLOW_BUILD = """
import sys, time
from data_pipeline import sources, write_shards

class SlowFolder(sources.ImageFolder):
    def iter_range(self, start, stop):
        for item in super().iter_range(start, stop):
            time.sleep(0.05)
            yield item

if __name__ == "__main__":
    folder = SlowFolder(sys.argv[1])
    write_shards(folder, sys.argv[2], image_size=16, examples_per_shard=8, workers=2)
"""


def test_killed_build_resumes_to_identical_dataset(png_folder, tmp_path):
    root = _photos_with_bad_inputs(png_folder, copies=98)
    killed = tmp_path / "killed"
    settings = dict(image_size=16, examples_per_shard=8)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-c", SLOW_BUILD, str(root), str(killed)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 900  # a hang guard only
        while not list(killed.glob(".train-*-staged.tfrecord")):
            assert process.poll() is None, process.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the build never wrote a shard"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        # Returns once every holder of the pipes is gone: the workers end with their parent.
        process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    partial = json.loads((killed / "manifest.json").read_text())["splits"]["train"]
    staged = sorted(killed.glob(".train-*-staged.tfrecord"))
    assert partial["status"] == "building" and 1 <= len(staged) < 15
    assert not list(
        killed.glob("train-*-of-*.tfrecord")
    )  # final names only once the number of shards is known

    entry = write_shards(f"folder:{root}", killed, workers=2, **settings)  # the re-run resumes
    assert (
        entry["status"] == "complete" and entry["num_examples"] == 118 and entry["num_shards"] == 15
    )
    # The skipped inputs were filled from the next ones.
    assert [s["count"] for s in entry["shards"]] == [8] * 14 + [6]
    assert sorted(item["id"] for item in entry["skipped"]) == [
        "class_0/img_004b.png",
        "class_1/img_007b.png",
    ]

    for workers in (1, 2):
        clean = tmp_path / f"clean{workers}"
        write_shards(f"folder:{root}", clean, workers=workers, **settings)
        assert (
            _files(killed).keys() == _files(clean).keys()
        )  # no temporary or staged files left behind
        assert _files(killed) == _files(clean)  # byte-identical shards and manifest
    assert json.loads((killed / "manifest.json").read_text()) == json.loads(
        (clean / "manifest.json").read_text()
    )


def test_rerunning_a_finished_build_is_a_no_op_and_other_settings_need_overwrite(
    png_folder, tmp_path
):
    root, _ = png_folder
    out = tmp_path / "out"
    first = write_shards(f"folder:{root}", out, image_size=16, grey="keep")
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert write_shards(f"folder:{root}", out, image_size=16, grey="keep") == first
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamp
    try:
        write_shards(f"folder:{root}", out, image_size=8, grey="keep")
    except ValueError as error:
        assert "overwrite" in str(error)
    else:
        raise AssertionError("a different build into the same split must be refused")
    entry = write_shards(f"folder:{root}", out, image_size=8, grey="keep", overwrite=True)
    assert entry["image_size"] == 8 and sorted(p.name for p in out.glob("*.tfrecord")) == [
        "train-00000-of-00001.tfrecord"
    ]
