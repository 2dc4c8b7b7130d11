"""Benchmark of the data pipeline; prints one JSON object.

(a) build throughput (images/s) from a folder of JPEG photos to 64x64
    shards, `write_shards` (default settings, as a new user calls it) with
    1, 2, ... worker processes, against a plain one-process loop (Pillow
    decode, resize + centre crop, `skimage.color.rgb2lab`,
    `tf.train.Example` write), on two folders measured side by side in one
    run: 600 synthetic JPEGs (320-640 px, cut from the bundled photos) and
    the 800 ImageNet photos of `../shared/photos/imagenet-800` (short side
    256; skipped with the reason when absent). Targets: >= 3x the plain loop
    with 2 workers on 2 cores, >= 1.8x from 1 to 2 workers. Each figure is
    the best of `--repeats` builds (3) into fresh folders. The `write_shards`
    timings include starting the worker processes; the fork server they
    start from (once per process) is started by a warm-up build. Then the
    per-stage CPU costs (a worker's per-image work, the parent's writing)
    and the build rate they allow on 16 cores.
(b) read throughput of `(L, ab)` batches at 64x64 from `read_shards`
    (and, for information, the TensorFlow-free `iterate_numpy`); target
    >= 20,000 examples/s.
(c) bytes on disk per 64x64 example against report 000's 64x64x313
    float32 classification targets; target >= 100x smaller.

Usage: python benchmarks/pipeline.py [--photos 600] [--workers 1,2] [--repeats 3] [--read-seconds 8]
"""

import argparse
import json
import os
import pathlib
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from PIL import Image


def make_jpeg_folder(directory, count, seed=0):
    """`count` JPEGs (quality 90, 320-640 px on the long side) cut from the bundled photographs."""
    from data_pipeline import sources

    photos = []
    for split in ("train", "validation"):
        source = sources.sample_photos(split)
        paths = [p for _, p in source.iter_range(0, len(source)) if isinstance(p, pathlib.Path)]
        photos += [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        ch, cw = int(rng.integers(min(h, 240), h + 1)), int(rng.integers(min(w, 240), w + 1))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        image = Image.fromarray(photo[y : y + ch, x : x + cw])
        scale = int(rng.integers(320, 641)) / max(image.size)
        image = image.resize(
            (max(64, int(image.size[0] * scale)), max(64, int(image.size[1] * scale))),
            Image.Resampling.BICUBIC,
        )
        image.save(directory / f"photo_{i:05d}.jpg", quality=90)


def baseline_build(folder, out_path, size=64):
    """The plain loop the issue compares against: one process, full decode, skimage Lab."""
    import tensorflow as tf
    from skimage.color import rgb2lab

    from data_pipeline.features import encode_example

    count = 0
    with tf.io.TFRecordWriter(str(out_path)) as writer:
        for path in sorted(folder.glob("*.jpg")):
            image = Image.open(path).convert("RGB")
            w, h = image.size
            s = min(w, h)
            box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
            rgb = np.asarray(image.resize((size, size), Image.Resampling.BICUBIC, box=box))
            writer.write(encode_example(rgb2lab(rgb).astype(np.float32), path.name))
            count += 1
    return count


def read_rate(iterator_factory, seconds, warmup_batches=5):
    iterator = iterator_factory()
    for _ in range(warmup_batches):
        next(iterator)
    examples, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        L, ab = next(iterator)[:2]
        examples += int(L.shape[0])
    return examples / (time.perf_counter() - start)


IMAGENET = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "photos" / "imagenet-800"


def build_rates(folder, workers_list, tmp, name, repeats=3):
    """images/s of the plain loop and of `write_shards` for each worker count, on one folder.

    Each figure is the best of `repeats` builds into a fresh folder (the
    plain loop the same), so that one build disturbed by another process does
    not decide a ratio; the first build of each also warms the page cache.
    """
    from data_pipeline import write_shards

    def best_rate(build):
        times = []
        for attempt in range(repeats):
            start = time.perf_counter()
            result = build(attempt)
            times.append(time.perf_counter() - start)
        return result, min(times)

    load = lambda: [round(x, 2) for x in os.getloadavg()]  # noqa: E731
    out = {"load_average_at_start": load()}
    n, seconds = best_rate(
        lambda attempt: baseline_build(folder, tmp / f"{name}_baseline_{attempt}.tfrecord")
    )
    baseline = n / seconds
    out.update(photos=n, repeats=repeats, baseline_images_per_s=round(baseline, 1))
    for workers in workers_list:
        out[f"workers_{workers}_load_average_at_start"] = load()
        entry, seconds = best_rate(
            lambda attempt, workers=workers: write_shards(
                f"folder:{folder}",
                tmp / f"{name}_w{workers}_{attempt}",
                image_size=64,
                workers=workers,
            )
        )
        rate = n / seconds
        out[f"workers_{workers}_images_per_s"] = round(rate, 1)
        out[f"workers_{workers}_speedup"] = round(rate / baseline, 2)
        out["examples"], out["skipped"], out["shards"] = (
            entry["num_examples"],
            entry["num_skipped"],
            entry["num_shards"],
        )
    if 1 in workers_list and 2 in workers_list:
        out["scaling_2_over_1_workers"] = round(
            out["workers_2_images_per_s"] / out["workers_1_images_per_s"], 2
        )
    out["stages"] = stage_costs(folder, tmp / f"{name}_stages", baseline, repeats)
    return out


def stage_costs(folder, tmp, baseline, repeats=3, size=64, cores=16):
    """CPU time per image of the build's two stages, each run alone, and the rate on `cores` cores.

    Worker: `examples.item_examples` (decode, crop, resize, Lab, grey test)
    and pickling its answer. Parent: unpickling the answers, cutting,
    `tf.train.Example` encoding, TFRecord writing and sha256. With one
    parent and `cores` workers sharing `cores` cores, the build runs at
    `min(1 / parent, cores / (worker + parent))` images/s; the parent is the
    bottleneck only if the first term is the smaller. Best of `repeats`.
    """
    import pickle

    from data_pipeline import examples
    from data_pipeline import writer

    config = examples.BuildConfig(image_size=size)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    worker = parent = float("inf")
    for attempt in range(repeats):
        start = time.process_time()
        answers = [
            pickle.dumps(examples.items_examples([(p.name, p) for p in paths[i : i + 16]], config))
            for i in range(0, len(paths), 16)
        ]
        worker = min(worker, (time.process_time() - start) / len(paths))
        out_dir = tmp / str(attempt)
        out_dir.mkdir(parents=True)
        start = time.process_time()
        results = [result for answer in answers for result in pickle.loads(answer)]
        pairs = (
            pair
            for index, result in enumerate(results)
            for pair in writer.positioned(index, result, 1)
        )
        for index, lo, hi, shard in writer.cut_shards(pairs, 128, end=len(paths)):
            writer.write_shard(out_dir, "stages", config, index, lo, hi, shard)
        parent = min(parent, (time.process_time() - start) / len(paths))
    estimate = min(1 / parent, cores / (worker + parent))
    return {
        "worker_ms_per_image": round(worker * 1e3, 3),
        "parent_ms_per_image": round(parent * 1e3, 3),
        f"estimate_{cores}_cores_images_per_s": round(estimate),
        f"estimate_{cores}_cores_speedup": round(estimate / baseline, 1),
        f"parent_busy_at_{cores}_cores": round(estimate * parent, 2),
        "parent_is_bottleneck": 1 / parent < cores / (worker + parent),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--photos", type=int, default=600, help="synthetic JPEG photos in the build benchmark"
    )
    parser.add_argument(
        "--workers",
        default=None,
        help="comma-separated worker counts (default: 1, 2 and the usable cores)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="builds per figure; the best counts (default 3)"
    )
    parser.add_argument("--read-seconds", type=float, default=8.0)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import tensorflow as tf

    from data_pipeline import iterate_numpy
    from data_pipeline import read_shards
    from data_pipeline import write_shards
    from data_pipeline.writer import usable_cores

    cores = usable_cores()
    workers_list = (
        [int(w) for w in args.workers.split(",")] if args.workers else sorted({1, 2, cores})
    )
    result = {
        "machine": f"{platform.machine()}, {cores} usable cores of {os.cpu_count()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "tensorflow": tf.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        folder = tmp / "jpegs"
        make_jpeg_folder(folder, args.photos)
        # Once per process, before the clock: imports, and the fork server of the worker processes.
        write_shards("samples:validation", tmp / "warmup", image_size=64, workers=2)

        result["build"] = {"target_speedup_2_workers": 3.0}
        result["build"]["synthetic"] = build_rates(
            folder, workers_list, tmp, "synthetic", args.repeats
        )
        if IMAGENET.is_dir():
            result["build"]["imagenet_800"] = build_rates(
                IMAGENET.resolve(), workers_list, tmp, "imagenet", args.repeats
            )
        else:
            result["build"]["imagenet_800"] = f"skipped: {IMAGENET} not found"
        ours = tmp / "synthetic_w1_0"

        # (b) read: a 64x64 set of 4096+ examples from the sample photos (random crops).
        reads = tmp / "reads"
        write_shards("samples:train", reads, image_size=64, crops_per_image=456, grey="keep")
        tf_rate = read_rate(
            lambda: iter(read_shards(reads, args.batch_size, shuffle=True, repeat=True)),
            args.read_seconds,
        )
        flip_rate = read_rate(
            lambda: iter(read_shards(reads, args.batch_size, shuffle=True, repeat=True, flip=True)),
            args.read_seconds / 2,
        )
        np_rate = read_rate(
            lambda: iterate_numpy(reads, args.batch_size, shuffle=True, repeat=True),
            args.read_seconds / 2,
        )
        result["read"] = {
            "batch_size": args.batch_size,
            "read_shards_examples_per_s": round(tf_rate),
            "read_shards_with_flips_examples_per_s": round(flip_rate),
            "iterate_numpy_examples_per_s": round(np_rate),
            "target_examples_per_s": 20000,
        }

        # (c) bytes on disk per example, shard framing and manifest-free.
        entry = json.loads((ours / "manifest.json").read_text())["splits"]["train"]
        per_example = sum(s["bytes"] for s in entry["shards"]) / entry["num_examples"]
        onehot = 64 * 64 * 313 * 4
        result["disk"] = {
            "bytes_per_example": round(per_example, 1),
            "report000_target_bytes_per_example": onehot,
            "ratio": round(onehot / per_example, 1),
            "target_ratio": 100,
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
