"""The shard writer: source -> CIELAB `tf.train.Example` shards + manifest.

`build_shard(source, config, index, num_shards, out_dir)` is the unit of
work: a pure function of (source, build settings, shard index) that decodes
its own block of items, converts them with `colorization.color.rgb_to_lab`,
writes `{split}-{i:05d}-of-{n:05d}.tfrecord` under a temporary name, and
renames it into place only when it is complete. Shard i always holds the
examples planned for positions [128 i, 128 (i + 1)) of the source (item
e // crops_per_image, crop e % crops_per_image), minus any that are
skipped, so the plan -- and the `-of-n` in every file name -- is known
before a single image is decoded, shards can be built in any order and on
any machine (the Beam runner of a later issue maps `build_shard` over
indices), and a shard's bytes never depend on the others. With clean input
every shard holds 128 examples but the last; a skipped item leaves its
shard shorter, and the manifest records the exact counts.

`write_shards` drives it: plans, skips shards a previous (killed) run
finished, builds the rest in parallel, and keeps `manifest.json` current
after every shard so that a re-run resumes where the last one stopped and
ends with the same files and manifest an uninterrupted build writes.
"""

import concurrent.futures
import dataclasses
import math
import multiprocessing
import os
import pathlib
import sys
import threading
import time

import numpy as np

from data_pipeline import features
from data_pipeline import manifest as manifest_lib
from data_pipeline import preprocess
from data_pipeline import sources as sources_lib

# Testing knob: seconds to sleep before a finished shard is renamed into place,
# so a test can kill a build part-way through deterministically.
_DELAY_ENV = "DATA_PIPELINE_SHARD_DELAY"


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """The settings that determine a build's bytes (all recorded in the manifest).

    Args:
        image_size: side of the square examples (64 for report 000's U-Net,
            224/256 for the larger networks).
        examples_per_shard: 128, as report 000 (section 4.3) used.
        crops_per_image: examples cut from each source item.
        crop: "center" (shorter side resized to `image_size`, centre
            square) or "random" (squares of random scale and position).
        crop_scale: (low, high) fraction of the shorter side a random crop
            spans; never below `image_size` pixels.
        grey: what to do with greyscale examples: "skip" (default),
            "flag" (keep, mark `grey=1`, list in the manifest) or "keep".
        grey_threshold: 99th-percentile chroma (Lab units) below which an
            example counts as grey.
        allow_upscale: upscale images smaller than `image_size` instead of
            skipping them.
        compression: None or "GZIP".
        seed: seeds the random crops (per item, so order never matters).
    """

    image_size: int = 64
    examples_per_shard: int = 128
    crops_per_image: int = 1
    crop: str = "center"
    crop_scale: tuple = (0.25, 1.0)
    grey: str = "skip"
    grey_threshold: float = 2.0
    allow_upscale: bool = False
    compression: str = None
    seed: int = 0

    def __post_init__(self):
        if int(self.image_size) < 1:
            raise ValueError(f"image_size must be a positive integer; received image_size={self.image_size!r}.")
        if int(self.examples_per_shard) < 1:
            raise ValueError(f"examples_per_shard must be >= 1; received {self.examples_per_shard!r}.")
        if int(self.crops_per_image) < 1:
            raise ValueError(f"crops_per_image must be >= 1; received {self.crops_per_image!r}.")
        if self.crop not in ("center", "random"):
            raise ValueError(f"crop must be 'center' or 'random'; received crop={self.crop!r}.")
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1; received crop_scale={self.crop_scale!r}.")
        if self.grey not in ("skip", "flag", "keep"):
            raise ValueError(f"grey must be 'skip', 'flag' or 'keep'; received grey={self.grey!r}.")
        if self.compression not in (None, "GZIP"):
            raise ValueError(f"compression must be None or 'GZIP'; received compression={self.compression!r}.")
        object.__setattr__(self, "crop_scale", (float(low), float(high)))

    def to_json(self):
        out = dataclasses.asdict(self)
        out["crop_scale"] = list(self.crop_scale)
        return out


def plan(source, config):
    """(number of planned examples, number of shards) for a source and settings."""
    total = len(source) * config.crops_per_image
    return total, max(1, math.ceil(total / config.examples_per_shard))


def _temp_name(final_name):
    return f".{final_name}.tmp-{os.getpid()}-{threading.get_ident()}"


def _crops_of(payload, item_id, config):
    """All `crops_per_image` crops of one item: ("rgb", uint8 list) or ("lab", float list)."""
    size = config.image_size
    min_side = None if config.allow_upscale else size
    if isinstance(payload, preprocess.SkipItem):
        raise payload
    if isinstance(payload, sources_lib.LabImage):
        kind, image = "lab", np.asarray(payload.lab, dtype=np.float32)
    elif isinstance(payload, np.ndarray):
        kind, image = "rgb", preprocess.rgb_array_to_uint8(payload)
    else:
        draft = size if config.crop == "center" else math.ceil(size / config.crop_scale[0])
        kind, image = "rgb", preprocess.decode_image(payload, min_side=min_side, draft_side=draft)
    height, width = image.shape[:2]
    if min_side is not None and min(height, width) < min_side:
        raise preprocess.SkipItem(f"too small: {width}x{height} pixels, shorter side below {min_side}")
    boxes = preprocess.crop_boxes(
        height, width, size, config.crops_per_image, config.crop, config.crop_scale,
        preprocess.item_rng(config.seed, item_id),
    )
    resize = preprocess.crop_resize_lab if kind == "lab" else preprocess.crop_resize_rgb
    return kind, [resize(image, box, size) for box in boxes]


def _to_lab(rgb_batch):
    from colorization.color import rgb_to_lab

    return np.asarray(rgb_to_lab(np.stack(rgb_batch)), dtype=np.float32)


def _crops_or_skip(args):
    item_id, payload, config = args
    try:
        return _crops_of(payload, item_id, config)
    except preprocess.SkipItem as skip:
        return skip


def build_shard(source, config, index, num_shards, out_dir, map_fn=map):
    """Builds shard `index` of `num_shards` into `out_dir`; returns its manifest record.

    A pure function of its arguments: it reads only the items planned for
    this shard, and the file it leaves is complete or absent (written under
    a hidden temporary name, then renamed). `map_fn` (an order-preserving
    map such as `ThreadPoolExecutor.map`) parallelises decoding and
    cropping of the shard's items; it never changes the result.
    """
    import tensorflow as tf

    per_shard, per_item = config.examples_per_shard, config.crops_per_image
    total = len(source) * per_item
    lo, hi = index * per_shard, min((index + 1) * per_shard, total)
    examples, skipped = [], []  # examples: (example_id, kind, array)
    if hi > lo:
        first_item, end_item = lo // per_item, (hi - 1) // per_item + 1
        items = list(source.iter_range(first_item, end_item))
        results = map_fn(_crops_or_skip, [(item_id, payload, config) for item_id, payload in items])
        for item_index, (item_id, _), result in zip(range(first_item, end_item), items, results):
            wanted = [k for k in range(per_item) if lo <= item_index * per_item + k < hi]
            if isinstance(result, preprocess.SkipItem):
                if wanted[0] == 0:  # reported once, by the shard holding the item's first crop
                    skipped.append({"id": item_id, "reason": result.reason, "examples": per_item})
                continue
            kind, crops = result
            for k in wanted:
                example_id = item_id if per_item == 1 else f"{item_id}#{k}"
                examples.append((example_id, kind, crops[k]))
    rgb_positions = [i for i, (_, kind, _) in enumerate(examples) if kind == "rgb"]
    labs = [array for (_, _, array) in examples]
    if rgb_positions:
        converted = _to_lab([labs[i] for i in rgb_positions])
        for j, i in enumerate(rgb_positions):
            labs[i] = converted[j]

    split = source.split
    final_name = features.shard_filename(split, index, num_shards)
    out_dir = pathlib.Path(out_dir)
    tmp_path = out_dir / _temp_name(final_name)
    options = tf.io.TFRecordOptions(compression_type=config.compression or "")
    count, flagged = 0, []
    try:
        with tf.io.TFRecordWriter(str(tmp_path), options) as writer:
            for (example_id, _, _), lab in zip(examples, labs):
                score = preprocess.grey_score(lab)
                is_grey = score < config.grey_threshold
                if is_grey and config.grey == "skip":
                    skipped.append(
                        {"id": example_id, "reason": f"greyscale: chroma p99 {score:.2f} < {config.grey_threshold}", "examples": 1}
                    )
                    continue
                if is_grey and config.grey == "flag":
                    flagged.append(example_id)
                writer.write(features.encode_example(lab, example_id, grey=is_grey and config.grey == "flag"))
                count += 1
        delay = float(os.environ.get(_DELAY_ENV, "0") or 0)
        if delay:
            time.sleep(delay)
        record = {
            "index": index,
            "file": final_name,
            "count": count,
            "bytes": tmp_path.stat().st_size,
            "sha256": manifest_lib.sha256_file(tmp_path),
            "skipped": skipped,
            "flagged_grey": flagged,
        }
        os.replace(tmp_path, out_dir / final_name)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return record


def _check_writable(out_dir):
    out_dir = pathlib.Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"output directory {str(out_dir)!r} is not writable: {error}") from None
    return out_dir


class _Progress:
    def __init__(self, split, total_shards, enabled):
        self.split, self.total, self.enabled = split, total_shards, enabled
        self.start = self.last = time.monotonic()
        self.tty = enabled and sys.stderr.isatty()

    def update(self, done, examples, final=False):
        if not self.enabled:
            return
        now = time.monotonic()
        if not (final or self.tty or now - self.last >= 5.0):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = examples / elapsed
        eta = (self.total - done) * elapsed / max(done, 1)
        line = f"[{self.split}] {done}/{self.total} shards, {examples} examples, {rate:.0f} examples/s, ETA {eta:.0f}s"
        sys.stderr.write(("\r" if self.tty else "") + line + ("\n" if final or not self.tty else ""))
        sys.stderr.flush()


def _collect(futures, record_done):
    try:
        for future in concurrent.futures.as_completed(futures):
            record_done(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _finalise(entry):
    shards = sorted(entry["shards"], key=lambda s: s["index"])
    entry["shards"] = shards
    entry["num_examples"] = sum(s["count"] for s in shards)
    entry["skipped"] = [item for s in shards for item in s["skipped"]]
    entry["num_skipped"] = sum(item["examples"] for item in entry["skipped"])
    entry["num_flagged_grey"] = sum(len(s["flagged_grey"]) for s in shards)
    entry["status"] = "complete"
    return entry


def make_config(
    image_size=64, examples_per_shard=128, crops_per_image=1, crop=None, crop_scale=(0.25, 1.0), grey="skip",
    grey_threshold=2.0, allow_upscale=False, compression=None, seed=0,
):
    """`BuildConfig` from `write_shards`' arguments: types normalised, `crop` defaulted.

    `crop` defaults to "center" for one crop per image and "random" for several.
    """
    return BuildConfig(
        image_size=int(image_size),
        examples_per_shard=int(examples_per_shard),
        crops_per_image=int(crops_per_image),
        crop=crop or ("center" if int(crops_per_image) == 1 else "random"),
        crop_scale=tuple(crop_scale),
        grey=grey,
        grey_threshold=float(grey_threshold),
        allow_upscale=bool(allow_upscale),
        compression=compression.upper() if isinstance(compression, str) else compression,
        seed=int(seed),
    )


@dataclasses.dataclass
class PreparedBuild:
    """A planned build of one split: what `prepare_build` found and decided.

    `complete` is True when the split was already fully built with these
    settings (and verified); `entry` is then its final manifest entry.
    Otherwise `entry` is the split's manifest entry, saved with status
    "building", and `done` maps the indices of shards a previous run finished
    (sizes and checksums verified) to their records; the rest are `pending`.
    """

    source: object
    config: BuildConfig
    out_dir: pathlib.Path
    split: str
    num_shards: int
    identity: dict
    manifest: dict
    entry: dict
    done: dict
    complete: bool

    @property
    def pending(self):
        return [i for i in range(self.num_shards) if i not in self.done]


def prepare_build(source, out_dir, config, *, split=None, overwrite=False, data_dir=None, download=True):
    """Plans a build and applies the identity, overwrite and resume rules.

    Shared by every engine that builds shards (`write_shards`, the Beam
    pipeline), so a directory written by one is resumed identically by another.
    A split already built from another source or with other settings is an
    error unless `overwrite`, which deletes its shards. Temporary files of a
    killed run are removed (one build per directory at a time).
    """
    source = sources_lib.from_spec(source, split=split, data_dir=data_dir, download=download)
    out_dir = _check_writable(out_dir)
    total, num_shards = plan(source, config)
    if total == 0:
        raise ValueError(f"source {source.spec!r} has no items.")
    split = source.split
    identity = {
        "source": source.spec,
        "image_size": config.image_size,
        "dtype": features.STORAGE_DTYPE_NAME,
        "config": config.to_json(),
        "num_shards": num_shards,
        "num_planned": total,
    }
    manifest = manifest_lib.load_manifest(out_dir, required=False)
    entry = manifest["splits"].get(split)
    if entry is not None and any(entry.get(k) != v for k, v in identity.items()):
        if not overwrite:
            raise ValueError(
                f"{str(out_dir)!r} already holds split {split!r} built from {entry.get('source')!r} with other "
                "settings; pass overwrite=True (--overwrite) or choose another directory."
            )
        for path in out_dir.glob(f"{split}-*-of-*.tfrecord"):
            path.unlink()
        entry = None
    if entry is not None and entry.get("status") == "complete":
        manifest_lib.verify_split(out_dir, split, entry, verify="checksum")
        return PreparedBuild(source, config, out_dir, split, num_shards, identity, manifest, entry, {}, True)

    for path in [*out_dir.glob(f".{split}-*.tfrecord.tmp-*"), *out_dir.glob(f".{manifest_lib.MANIFEST_NAME}.tmp-*")]:
        path.unlink(missing_ok=True)
    done = {}
    for record in (entry or {}).get("shards", []):
        path = out_dir / record["file"]
        if path.is_file() and path.stat().st_size == record["bytes"] and manifest_lib.sha256_file(path) == record["sha256"]:
            done[record["index"]] = record
    entry = dict(identity, status="building", shards=sorted(done.values(), key=lambda s: s["index"]))
    manifest["splits"][split] = entry
    manifest_lib.save_manifest(out_dir, manifest)
    return PreparedBuild(source, config, out_dir, split, num_shards, identity, manifest, entry, done, False)


def write_shards(
    source,
    out_dir,
    image_size=64,
    examples_per_shard=128,
    *,
    split=None,
    crops_per_image=1,
    crop=None,
    crop_scale=(0.25, 1.0),
    grey="skip",
    grey_threshold=2.0,
    allow_upscale=False,
    compression=None,
    seed=0,
    workers=None,
    executor="thread",
    overwrite=False,
    progress=False,
    data_dir=None,
    download=True,
):
    """Writes a source as CIELAB TFRecord shards plus `manifest.json`.

    Args:
        source: a source from `data_pipeline.sources` or a spec string
            (`tfds:NAME[:SPLIT]`, `folder:PATH`, `npy:L.npy,AB.npy`,
            `samples[:SPLIT]`).
        out_dir: output directory (created). Several splits may share it.
        image_size, examples_per_shard, crops_per_image, crop_scale, grey,
            grey_threshold, allow_upscale, compression, seed: see
            `BuildConfig`. `crop` defaults to "center" for one crop per
            image and "random" for several.
        split: split name for spec strings without one (default "train").
        workers: parallel shard builders (default: the CPU count).
        executor: "thread" (default; Pillow decoding and TensorFlow ops
            release the GIL, and it measured faster, see
            benchmarks/README.md) or "process" (one shard per spawned
            process, each importing TensorFlow: only for very large builds).
        overwrite: replace an existing build of this split made with
            different settings (otherwise that is an error).
        progress: print a progress line to stderr.
        data_dir, download: passed to the TFDS source for spec strings.

    Returns:
        The split's manifest entry (a dict).

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards, read_shards
    >>> out = tempfile.mkdtemp()
    >>> entry = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> entry["num_examples"]
    12
    """
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process'; received executor={executor!r}.")
    config = make_config(
        image_size, examples_per_shard, crops_per_image, crop, crop_scale, grey, grey_threshold,
        allow_upscale, compression, seed,
    )
    build = prepare_build(source, out_dir, config, split=split, overwrite=overwrite, data_dir=data_dir, download=download)
    if build.complete:
        return build.entry
    source, out_dir, split, num_shards = build.source, build.out_dir, build.split, build.num_shards
    manifest, entry, done, pending = build.manifest, build.entry, build.done, build.pending
    workers = max(1, int(workers or os.cpu_count() or 1))
    meter = _Progress(split, num_shards, progress)
    examples = sum(r["count"] for r in done.values())

    def record_done(record):
        nonlocal examples
        done[record["index"]] = record
        examples += record["count"]
        entry["shards"] = sorted(done.values(), key=lambda s: s["index"])
        manifest_lib.save_manifest(out_dir, manifest)
        meter.update(len(done), examples)

    if workers == 1 or not pending:
        for index in pending:
            record_done(build_shard(source, config, index, num_shards, out_dir))
    elif executor == "thread":
        # Items of a shard are decoded by `workers` threads (Pillow releases the
        # GIL); two shards are in flight so one converts and writes while the
        # next decodes.
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as items_pool, \
                concurrent.futures.ThreadPoolExecutor(max_workers=2) as shard_pool:
            futures = [
                shard_pool.submit(build_shard, source, config, i, num_shards, out_dir, items_pool.map) for i in pending
            ]
            _collect(futures, record_done)
    else:
        # One whole shard per process; each process imports TensorFlow once.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(build_shard, source, config, i, num_shards, out_dir) for i in pending]
            _collect(futures, record_done)
    meter.update(len(done), examples, final=True)
    _finalise(entry)
    manifest_lib.save_manifest(out_dir, manifest)
    return entry
