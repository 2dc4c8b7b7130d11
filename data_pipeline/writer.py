"""The shard writer: source -> CIELAB `tf.train.Example` shards + manifest.

Every shard holds exactly `examples_per_shard` (128) examples but the last,
whatever inputs are skipped. The design, in three layers:

*Blocks decide, per input, kept or skipped.* Example position p of a source
is crop p % c of item p // c (c = `crops_per_image`). Positions are grouped
into fixed blocks of `examples_per_shard`: block b is positions
[128 b, 128 (b + 1)). A block is the unit of processing: its items are
decoded and cropped (`data_pipeline.crops`, in worker processes), its RGB
crops converted to CIELAB as one batch, checked for grey and serialised.
The result -- for every position, the example's bytes or the reason it was
skipped -- is a pure function of (source, settings, b): it does not depend
on which process, how many workers, or which run computed it (the Lab
conversion runs one compiled function of a fixed batch shape, see
`_to_lab`). With clean input, block b holds the examples earlier versions
wrote as shard b.

*The cut is a function of those decisions.* The kept examples, in position
order, are cut into shards: shard j holds kept examples [128 j, 128 (j + 1))
and *covers* the positions from its first example up to the next shard's
first example (shard 0 from position 0, the last shard to the end), so every
skipped input is recorded, with its reason, in the one shard that covers it.
Shard j is written when the first example of shard j + 1 has been seen or
the source has ended.

*Writing and resuming.* The main process writes the shards in order, each
under a temporary name renamed to a hidden staged name
(`.{split}-{j:05d}-staged.tfrecord`) only when complete, and saves
`manifest.json` (status "building") with each written shard's file, count,
sha256, skipped inputs and covered positions `[lo, hi)` -- after the first
shard, then at most once a second and when the build stops, so that the
saves stay cheap when a build has thousands of shards. The number
of shards -- the `-of-n` of TFDS-style names -- is known only once the last
block is processed; then every staged file is renamed to
`{split}-{j:05d}-of-{n:05d}.tfrecord` and the manifest marked "complete".
A re-run (after a kill, even SIGKILL) keeps the longest prefix of recorded
shards whose files are intact (size and sha256) and resumes at the block
holding the position where that prefix ends, discarding the positions
before it: blocks are always processed whole, so every Lab batch, and so
every byte, is that of an uninterrupted build.

*Parallelism.* Decoding and cropping (about two thirds of the work) run in
`workers` processes forked from a fork server (or started with "spawn"),
which import only Pillow (`data_pipeline.decode`) and send each crop's raw
RGB bytes; the main process keeps a bounded window of items in flight, so
the workers decode the next blocks while it converts block b to Lab
(TensorFlow), checks grey and serialises (the protobuf wire format written
directly, `features.serialize_example`) and writes. `data_pipeline.beam` runs the same
blocks and the same cut on Apache Beam.
"""

import collections
import concurrent.futures
import dataclasses
import functools
import itertools
import math
import multiprocessing
import os
import pathlib
import sys
import threading
import time
import types

import numpy as np

from data_pipeline import crops as crops_lib
from data_pipeline import decode as decode_lib
from data_pipeline import features
from data_pipeline import manifest as manifest_lib
from data_pipeline import preprocess
from data_pipeline import progress as progress_lib
from data_pipeline import sources as sources_lib

# Testing knob: seconds to sleep before a finished shard is renamed into place,
# so a test can kill a build part-way through deterministically.
_DELAY_ENV = "DATA_PIPELINE_SHARD_DELAY"
# Seconds between two saves of the manifest during a build (see `_ShardWriter`).
MANIFEST_SAVE_INTERVAL_S = 1.0

# A kept example (its serialised bytes) and a skipped input (its manifest record), at a planned position.
Kept = collections.namedtuple("Kept", ["position", "example_id", "data", "flagged"])
Skipped = collections.namedtuple("Skipped", ["position", "record"])


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """The settings that determine a build's bytes (all recorded in the manifest).

    Args:
        image_size: side of the square examples (64 for report 000's U-Net,
            224/256 for the larger networks).
        examples_per_shard: examples in every shard but the last; 128, as
            report 000 (section 4.3) used.
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



def usable_cores():
    """The CPU cores this process may run on (its affinity mask), the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def crop_settings(config):
    """The part of a `BuildConfig` the decode workers need."""
    return crops_lib.CropSettings(
        config.image_size, config.crops_per_image, config.crop, config.crop_scale, config.allow_upscale, config.seed
    )


def num_planned(source, config):
    """Planned example positions: items x crops per image."""
    return len(source) * config.crops_per_image


def block_range(config, total, block):
    """Planned positions `[lo, hi)` of block `block` and the items `[first, end)` they come from."""
    per_block, per_item = config.examples_per_shard, config.crops_per_image
    lo, hi = block * per_block, min((block + 1) * per_block, total)
    return lo, hi, lo // per_item, (hi - 1) // per_item + 1


@functools.lru_cache(maxsize=None)
def _compiled_rgb_to_lab(backend_name):
    from colorization.color import rgb_to_lab

    if backend_name == "tensorflow":
        import tensorflow as tf

        return tf.function(rgb_to_lab, jit_compile=True)
    if backend_name == "jax":
        import jax

        return jax.jit(rgb_to_lab)
    return rgb_to_lab


def _to_lab(rgb_batch, batch_size):
    """CIELAB of a block's RGB crops (`colorization.color.rgb_to_lab`), float32.

    The bytes of a build must not depend on the history of the process that
    makes them (how many blocks it converted before, whether it resumed), so
    every block goes through the same compiled function of one fixed shape:
    the crops padded to `batch_size` (the block size). A plain call of
    `rgb_to_lab` would not do: it runs eagerly the first time it sees a
    shape and compiled afterwards, and the two round differently.

    `rgb_batch` is a list of uint8 `(H, W, 3)` crops, or already a uint8
    array `(N, H, W, 3)` with N >= `batch_size` whose rows past the crops
    are zero (the padding), which saves a copy.
    """
    import keras

    if isinstance(rgb_batch, np.ndarray) and len(rgb_batch) >= batch_size:
        padded = rgb_batch
    else:
        batch = np.stack(rgb_batch)
        padded = np.zeros((max(batch_size, len(batch)),) + batch.shape[1:], batch.dtype)
        padded[: len(batch)] = batch
    lab = _compiled_rgb_to_lab(keras.backend.backend())(padded)
    return np.asarray(lab, dtype=np.float32)


def _to_lab_and_stored(batch, batch_size):
    """`_to_lab` of a padded uint8 batch, and the same Lab in `features.STORAGE_DTYPE` (float16).

    On TensorFlow the float16 copy comes from `tf.cast` of the result, four
    times faster than NumPy's conversion and bit-identical to it (both round
    to nearest even; a test compares them); elsewhere it is NumPy's.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        lab = _to_lab(batch, batch_size)
        return lab, lab.astype(features.STORAGE_DTYPE)
    import tensorflow as tf

    lab = _compiled_rgb_to_lab("tensorflow")(batch)
    return np.asarray(lab, dtype=np.float32), tf.cast(lab, tf.float16).numpy().astype(features.STORAGE_DTYPE, copy=False)


def _crop_array(crop, size):
    """A crop as a uint8 `(size, size, 3)` array (the workers send encoded images' crops as raw bytes)."""
    if isinstance(crop, bytes):
        return np.frombuffer(crop, np.uint8).reshape(size, size, 3)
    return crop


def _grey_scores(labs, threshold):
    """`preprocess.grey_score` of the examples that may be grey; None for those that certainly are not.

    The score (99th percentile of chroma) needs a sort; most photos are far
    from grey, so a cheap test comes first: an image with more than 1% of
    its chroma values clearly (0.1%) above `threshold` has a score above it,
    whatever the rounding. Only the rest get the exact score, from the same
    function as before, so the decisions and the manifest's reasons are the
    same.
    """
    if isinstance(labs, np.ndarray) and labs.ndim == 4 and threshold > 0:
        n = labs.shape[1] * labs.shape[2]
        index = 0.99 * (n - 1)  # np.percentile's "linear" position of the 99th percentile
        low = math.floor(index)
        if n > 1 and index - low < 0.45:  # the score is then c[low] + (c[low + 1] - c[low]) * t >= c[low]
            squared = labs[..., 1] * labs[..., 1]
            squared += labs[..., 2] * labs[..., 2]
            above = np.count_nonzero(squared.reshape(len(labs), -1) >= np.float32(threshold * threshold * 1.001), axis=1)
            maybe = np.flatnonzero(above < n - low + 1)  # (n - low + 1 values above: c[low - 1] is above too)
            scores = [None] * len(labs)
            if len(maybe):
                for i, score in zip(maybe, preprocess.grey_scores(labs[maybe])):
                    scores[i] = score
            return scores
    same_size = len({lab.shape for lab in labs}) <= 1
    return preprocess.grey_scores(np.stack(labs)) if len(labs) and same_size else [preprocess.grey_score(lab) for lab in labs]


def convert_block(config, lo, hi, item_results):
    """The outcomes of planned positions `[lo, hi)`, in position order.

    Args:
        config: the `BuildConfig`.
        lo, hi: the block's positions.
        item_results: maps each item index of the block to `(item_id,
            result)`, the result of `crops.crops_or_skip` (or of
            `decode.decode_task`, whose RGB crops are raw bytes).

    Returns:
        A list of `Kept` (serialised example) and `Skipped` (manifest
        record) in position order; an item that cannot be used is one
        `Skipped` at its first crop's position, reported by the block
        holding that position.
    """
    per_item, size = config.crops_per_image, config.image_size
    slots = []
    for item_index in range(lo // per_item, (hi - 1) // per_item + 1):
        item_id, result = item_results[item_index]
        first = item_index * per_item
        if isinstance(result, preprocess.SkipItem):
            if lo <= first < hi:
                slots.append(Skipped(first, {"id": item_id, "reason": result.reason, "examples": per_item}))
            continue
        kind, arrays = result
        for k in range(max(lo - first, 0), min(hi - first, per_item)):
            example_id = item_id if per_item == 1 else f"{item_id}#{k}"
            slots.append((first + k, example_id, kind, arrays[k]))
    examples = [slot for slot in slots if not isinstance(slot, Skipped)]
    rgb = [i for i, (_, _, kind, _) in enumerate(examples) if kind == "rgb"]
    if rgb:  # one batch per block: the same batches, so the same float rounding, in every run
        batch = np.zeros((max(config.examples_per_shard, len(rgb)), size, size, 3), np.uint8)
        for j, i in enumerate(rgb):
            batch[j] = _crop_array(examples[i][3], size)
        converted, converted_stored = _to_lab_and_stored(batch, config.examples_per_shard)
    stored = None
    if len(rgb) == len(examples):
        labs = converted[: len(rgb)] if rgb else np.zeros((0, size, size, 3), np.float32)
        stored = converted_stored[: len(rgb)] if rgb else None
    else:
        labs = [array for (_, _, _, array) in examples]
        for j, i in enumerate(rgb):
            labs[i] = converted[j]
        if len({lab.shape for lab in labs}) == 1:
            labs = np.stack(labs)
    scores = [None] * len(examples) if config.grey == "keep" else _grey_scores(labs, config.grey_threshold)
    if stored is None and isinstance(labs, np.ndarray):
        stored = labs.astype(features.STORAGE_DTYPE)
    outcomes, e = [], 0
    for slot in slots:
        if isinstance(slot, Skipped):
            outcomes.append(slot)
            continue
        position, example_id = slot[0], slot[1]
        score = scores[e]
        is_grey = score is not None and score < config.grey_threshold
        if is_grey and config.grey == "skip":
            reason = f"greyscale: chroma p99 {score:.2f} < {config.grey_threshold}"
            outcomes.append(Skipped(position, {"id": example_id, "reason": reason, "examples": 1}))
        else:
            flagged = is_grey and config.grey == "flag"
            lab16 = stored[e] if stored is not None else np.ascontiguousarray(labs[e], dtype=features.STORAGE_DTYPE)
            outcomes.append(Kept(position, example_id, features.serialize_example(lab16, example_id, grey=flagged), flagged))
        e += 1
    return outcomes


def block_outcomes(source, config, block):
    """`convert_block` for block `block` of a source, decoded in this process (the Beam tasks use it)."""
    settings = crop_settings(config)
    lo, hi, first, end = block_range(config, num_planned(source, config), block)
    results = {
        index: (item_id, crops_lib.crops_or_skip(item_id, payload, settings))
        for index, (item_id, payload) in enumerate(source.iter_range(first, end), first)
    }
    return convert_block(config, lo, hi, results)


def cut_shards(outcomes, examples_per_shard, first_index=0, start=0, end=None):
    """Cuts position-ordered outcomes into shards of `examples_per_shard` kept examples.

    Yields `(index, lo, hi, outcomes)` per shard, as soon as it is known to
    be complete: shard j covers positions from its first example (or
    `start`) up to the next shard's first example (or `end`), so skipped
    inputs between two shards belong to the earlier one.
    """
    index, lo, current, count = first_index, start, [], 0
    for outcome in outcomes:
        if isinstance(outcome, Kept):
            if count == examples_per_shard:
                yield index, lo, outcome.position, current
                index, lo, current, count = index + 1, outcome.position, [], 0
            count += 1
        current.append(outcome)
    if current or index == 0:
        yield index, lo, end, current


def staged_name(split, index):
    """The hidden name of a finished shard while the total number of shards is not yet known."""
    return f".{split}-{index:05d}-staged.tfrecord"


def _temp_name(final_name):
    return f".{final_name.lstrip('.')}.tmp-{os.getpid()}-{threading.get_ident()}"


def write_shard(out_dir, split, config, index, lo, hi, outcomes):
    """Writes one shard's kept examples to its staged name (atomically); returns its manifest record."""
    import tensorflow as tf

    out_dir = pathlib.Path(out_dir)
    name = staged_name(split, index)
    tmp_path = out_dir / _temp_name(name)
    kept = [outcome for outcome in outcomes if isinstance(outcome, Kept)]
    options = tf.io.TFRecordOptions(compression_type=config.compression or "")
    try:
        with tf.io.TFRecordWriter(str(tmp_path), options) as writer:
            for example in kept:
                writer.write(example.data)
        delay = float(os.environ.get(_DELAY_ENV, "0") or 0)
        if delay:
            time.sleep(delay)
        record = {
            "index": index,
            "file": name,
            "count": len(kept),
            "bytes": tmp_path.stat().st_size,
            "sha256": manifest_lib.sha256_file(tmp_path),
            "positions": [lo, hi],
            "skipped": [outcome.record for outcome in outcomes if isinstance(outcome, Skipped)],
            "flagged_grey": [example.example_id for example in kept if example.flagged],
        }
        os.replace(tmp_path, out_dir / name)
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


def _finalise(entry):
    shards = sorted(entry["shards"], key=lambda s: s["index"])
    entry["shards"] = shards
    entry["num_shards"] = len(shards)
    entry["num_examples"] = sum(s["count"] for s in shards)
    entry["skipped"] = [item for s in shards for item in s["skipped"]]
    entry["num_skipped"] = sum(item["examples"] for item in entry["skipped"])
    entry["num_flagged_grey"] = sum(len(s["flagged_grey"]) for s in shards)
    entry["status"] = "complete"
    return entry


def finish_build(out_dir, split, identity, records):
    """Renames the staged shards to `{split}-{j:05d}-of-{n:05d}.tfrecord` and marks the split complete.

    Shared by every engine. Shard files of this split that the build does not
    list (left by an older build) are removed. Returns the final entry.
    """
    out_dir = pathlib.Path(out_dir)
    records = [dict(record) for record in sorted(records, key=lambda r: r["index"])]
    if [r["index"] for r in records] != list(range(len(records))):
        raise RuntimeError(f"split {split!r}: shards {[r['index'] for r in records]} are not 0..n-1.")
    for record in records:
        final = features.shard_filename(split, record["index"], len(records))
        if record["file"] != final:
            os.replace(out_dir / record["file"], out_dir / final)
            record["file"] = final
    listed = {record["file"] for record in records}
    for path in out_dir.glob(f"{split}-*-of-*.tfrecord"):
        if path.name not in listed:
            path.unlink()
    manifest = manifest_lib.load_manifest(out_dir, required=False)
    entry = _finalise(dict(identity, shards=records))
    manifest["splits"][split] = entry
    manifest_lib.save_manifest(out_dir, manifest)
    return entry


@dataclasses.dataclass
class PreparedBuild:
    """A planned build of one split: what `prepare_build` found and decided.

    `complete` is True when the split was already fully built with these
    settings (and verified); `entry` is then its final manifest entry.
    Otherwise `done` lists the records of the shards a previous run finished
    (the longest intact prefix: files found, sizes and checksums verified),
    and `position` is the planned position where the next shard starts.
    `found` says what the directory held: `status` (None, "building" or
    "complete"), `recorded` (shards listed) and `intact` (shards kept).
    """

    source: object
    config: BuildConfig
    out_dir: pathlib.Path
    split: str
    total: int
    identity: dict
    entry: dict
    done: list
    position: int
    complete: bool
    found: dict

    @property
    def first_block(self):
        return self.position // self.config.examples_per_shard

    @property
    def num_blocks(self):
        return math.ceil(self.total / self.config.examples_per_shard)


def _locate(out_dir, split, record):
    """The file holding a recorded shard (staged or final name), verified by size and sha256, or None."""
    index = record.get("index")
    candidates = [record.get("file"), staged_name(split, index)]
    candidates += sorted(path.name for path in out_dir.glob(f"{split}-{index:05d}-of-*.tfrecord"))
    for name in dict.fromkeys(c for c in candidates if c):
        path = out_dir / name
        if path.is_file() and path.stat().st_size == record.get("bytes") and manifest_lib.sha256_file(path) == record.get("sha256"):
            return path
    return None


def prepare_build(source, out_dir, config, *, split=None, overwrite=False, data_dir=None, download=True):
    """Plans a build and applies the identity, overwrite and resume rules.

    Shared by every engine that builds shards (`write_shards`, the Beam
    pipeline), so a directory written by one is resumed identically by another.
    A split already built from another source or with other settings is an
    error unless `overwrite`, which deletes its shards. Temporary files of a
    killed run, and staged shards that are not part of the intact prefix, are
    removed (one build per directory at a time).
    """
    source = sources_lib.from_spec(source, split=split, data_dir=data_dir, download=download)
    out_dir = _check_writable(out_dir)
    total = num_planned(source, config)
    if total == 0:
        raise ValueError(f"source {source.spec!r} has no items.")
    split = source.split
    identity = {
        "source": source.spec,
        "image_size": config.image_size,
        "dtype": features.STORAGE_DTYPE_NAME,
        "config": config.to_json(),
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
        for path in [*out_dir.glob(f"{split}-*-of-*.tfrecord"), *out_dir.glob(f".{split}-*-staged.tfrecord")]:
            path.unlink()
        entry = None
    found = {"status": None if entry is None else entry.get("status"), "recorded": len((entry or {}).get("shards", []))}
    if entry is not None and entry.get("status") == "complete":
        manifest_lib.verify_split(out_dir, split, entry, verify="checksum")
        found["intact"] = found["recorded"]
        return PreparedBuild(source, config, out_dir, split, total, identity, entry, entry["shards"], total, True, found)

    for path in [*out_dir.glob(f".{split}-*.tfrecord.tmp-*"), *out_dir.glob(f".{manifest_lib.MANIFEST_NAME}.tmp-*")]:
        path.unlink(missing_ok=True)
    done, position = [], 0
    for expected, record in enumerate(sorted((entry or {}).get("shards", []), key=lambda r: r.get("index", -1))):
        positions = record.get("positions")
        if record.get("index") != expected or not positions or positions[0] != position:
            break
        path = _locate(out_dir, split, record)
        if path is None:
            break
        done.append(dict(record, file=path.name))
        position = positions[1]
    kept = {record["file"] for record in done}
    for path in out_dir.glob(f".{split}-*-staged.tfrecord"):
        if path.name not in kept:
            path.unlink()
    found["intact"] = len(done)
    entry = dict(identity, status="building", shards=done)
    manifest["splits"][split] = entry
    manifest_lib.save_manifest(out_dir, manifest)
    return PreparedBuild(source, config, out_dir, split, total, identity, entry, done, position, False, found)


def _pool_context():
    """The multiprocessing context of the decode workers: "forkserver" where available, else "spawn".

    Both start workers from a fresh interpreter, never a fork of this
    process (which holds TensorFlow's threads). The fork server imports
    `data_pipeline.decode` (standard library and Pillow) once, then forks
    each worker from itself in milliseconds; every "spawn" worker would
    start an interpreter and import that itself, about 0.2 s of CPU each,
    which on a small machine is a tenth of a build. The server lives as long
    as this process and serves later builds too.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["concurrent.futures.process", "data_pipeline.decode"])
    return context


def decode_pool(workers):
    """The worker processes of a build, all started before this returns.

    They start from a fresh interpreter (see `_pool_context`) and import
    only what `data_pipeline.decode` needs (no TensorFlow, and NumPy only for
    in-memory payloads and random crops); while they start the caller's
    `__main__` module is hidden from `multiprocessing`, so a script that
    calls `write_shards` without an `if __name__ == "__main__":` guard is not
    re-run by every worker (the workers run only library code).
    """
    context = _pool_context()
    # ProcessPoolExecutor starts a process per submit only while no worker is idle; the barrier keeps every
    # worker busy (in its initializer) until all have started, so all start here, with `__main__` hidden.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=decode_lib.init_worker, initargs=(context.Barrier(workers),)
    )
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        started = [pool.submit(os.getpid) for _ in range(workers)]  # each submit starts one process
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    concurrent.futures.wait(started)
    return pool


def _source_items(source, config, first_block, num_blocks):
    """`(item_index, (item_id, payload))` of blocks `first_block..`, read block by block.

    Reading a block's own range (as Beam tasks do) keeps every engine reading
    the same slices of the source (a TFDS split is read as `split[a:b]`).
    """
    total, next_item = num_planned(source, config), None
    for block in range(first_block, num_blocks):
        _, _, first, end = block_range(config, total, block)
        first = first if next_item is None else max(first, next_item)
        yield from enumerate(source.iter_range(first, end), first)
        next_item = end


class _PoolStarter:
    """Starts `decode_pool(workers)` in a background thread, so this process can work while the workers start."""

    def __init__(self, workers):
        self._done = threading.Event()
        self._pool = self._error = None
        self._thread = threading.Thread(target=self._start, args=(workers,), name="decode-pool-start", daemon=True)
        self._thread.start()

    def _start(self, workers):
        try:
            self._pool = decode_pool(workers)
        except BaseException as error:  # re-raised in the caller's thread by `pool()`
            self._error = error
        finally:
            self._done.set()

    def ready(self):
        return self._done.is_set()

    def pool(self):
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._pool

    def shutdown(self):
        self._done.wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _item_results(source, config, first_block, num_blocks, workers):
    """Yields `(item_index, item_id, crops result)` for the items of blocks `first_block..`, in order.

    With `workers` > 1 the items are decoded by that many worker processes,
    in tasks of a few items, with a bounded window in flight (about two
    blocks) so memory stays flat however large the source. Until the
    workers have started (the first build of a process also starts the fork
    server, ~0.1 s) this process decodes the first tasks itself, with the
    same function.
    """
    settings = crop_settings(config)
    items = _source_items(source, config, first_block, num_blocks)
    first_item = block_range(config, num_planned(source, config), first_block)[2]
    per_task = max(1, 8 // config.crops_per_image)
    if workers <= 1 or len(source) - first_item <= per_task:
        for index, (item_id, payload) in items:
            yield index, item_id, crops_lib.crops_or_skip(item_id, payload, settings)
        return
    block_items = math.ceil(config.examples_per_shard / config.crops_per_image)
    window = max(4 * workers, math.ceil(2 * block_items / per_task))
    starter = _PoolStarter(workers)
    pending = collections.deque()
    try:
        while not starter.ready():
            chunk = list(itertools.islice(items, per_task))
            if not chunk:
                return
            results = decode_lib.decode_task([(item_id, payload) for _, (item_id, payload) in chunk], settings)
            for (index, (item_id, _)), result in zip(chunk, results):
                yield index, item_id, result
        pool = starter.pool()
        while True:
            chunk = list(itertools.islice(items, per_task))
            if chunk:
                task = [(item_id, payload) for _, (item_id, payload) in chunk]
                pending.append((chunk, pool.submit(decode_lib.decode_task, task, settings)))
            while pending and (len(pending) >= window or not chunk):
                done_chunk, future = pending.popleft()
                try:
                    results = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    raise RuntimeError(
                        "a decode worker process died (out of memory?); pass workers=1 to decode in this process."
                    ) from None
                for (index, (item_id, _)), result in zip(done_chunk, results):
                    yield index, item_id, result
            if not chunk:
                return
    finally:
        starter.shutdown()


def _block_stream(build, workers, meter):
    """Outcomes of the build's remaining blocks, in position order, from `build.position` on."""
    config, total = build.config, build.total
    results = _item_results(build.source, config, build.first_block, build.num_blocks, workers)
    buffered, kept, seen = {}, 0, 0
    for block in range(build.first_block, build.num_blocks):
        lo, hi, first, end = block_range(config, total, block)
        for index in [i for i in buffered if i < first]:
            del buffered[index]
        while end - 1 not in buffered:
            index, item_id, result = next(results)
            buffered[index] = (item_id, result)
        outcomes = [outcome for outcome in convert_block(config, lo, hi, buffered) if outcome.position >= build.position]
        kept += sum(isinstance(outcome, Kept) for outcome in outcomes)
        seen += hi - max(lo, build.position)
        yield from outcomes  # the consumer writes the shards these outcomes complete...
        meter.update(end, kept, seen)  # ...before the line that counts them


def _say_found(meter, build):
    found, out = build.found, str(build.out_dir)
    if build.complete:
        entry = build.entry
        meter.say(
            f"already complete in {out}: {entry['num_examples']} examples in {entry['num_shards']} shards "
            f"({entry['num_skipped']} skipped), checksums verified; nothing to do"
        )
    elif found["status"] is not None:
        examples = sum(r["count"] for r in build.done)
        lost = found["recorded"] - found["intact"]
        note = f" ({lost} recorded shard(s) missing or changed, rebuilt)" if lost else ""
        if build.done:
            item = build.position // build.config.crops_per_image
            meter.say(
                f"resuming an unfinished build in {out}: {found['intact']} shards intact{note}, {examples} examples "
                f"from images 0-{item - 1} of {len(build.source)}; continuing from image {item}"
            )
        else:
            meter.say(f"found an unfinished build in {out} with no intact shard{note}; starting from image 0")


class _ShardWriter:
    """Writes the shards, in order, in one background thread while the calling thread converts the next blocks.

    Each shard is written (`write_shard`) and appended to `done` as a
    synchronous loop would, so the files are the same; the waits on the disk
    (renames, the manifest's fsync) no longer stall the conversion. At most
    `max_pending` finished shards wait to be written. An error in the thread
    is raised in the caller at its next `submit`, `wait` or exit.

    The manifest is saved after a shard when `manifest_interval` seconds
    have passed since the last save (and after the first shard), and always
    on exit, error or not: its size grows with the shards (78 ms a save at
    10,000 shards, ImageNet's count), so a save per shard would make a large
    build quadratic. A kill loses the record of at most that interval's
    shards; the re-run writes them again, with the same bytes.
    """

    def __init__(self, build, manifest, done, meter, max_pending=2, manifest_interval=None):
        self.build, self.manifest, self.done, self.meter = build, manifest, done, meter
        self.max_pending = max_pending
        self.manifest_interval = MANIFEST_SAVE_INTERVAL_S if manifest_interval is None else manifest_interval
        self.last_save = None
        self.saved_count = len(done)
        self.pending = collections.deque()
        self.failed = False
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer")

    def _save_manifest(self):
        build = self.build
        self.manifest["splits"][build.split] = dict(build.identity, status="building", shards=self.done)
        manifest_lib.save_manifest(build.out_dir, self.manifest)
        self.last_save, self.saved_count = time.monotonic(), len(self.done)

    def _write(self, index, lo, hi, outcomes):
        if self.failed:  # never a shard after one that failed: the manifest stays a prefix
            return
        build = self.build
        try:
            record = write_shard(build.out_dir, build.split, build.config, index, lo, hi, outcomes)
            self.done.append(record)
            if self.last_save is None or time.monotonic() - self.last_save >= self.manifest_interval:
                self._save_manifest()
        except BaseException:
            self.failed = True
            raise
        self.meter.shard_written(len(self.done))

    def submit(self, index, lo, hi, outcomes):
        while self.pending and (self.pending[0].done() or len(self.pending) >= self.max_pending):
            self.pending.popleft().result()
        self.pending.append(self.executor.submit(self._write, index, lo, hi, outcomes))

    def wait(self):
        """Returns once every submitted shard is written (raising the first error)."""
        while self.pending:
            self.pending.popleft().result()

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        try:
            if error_type is None:
                self.wait()
        finally:
            self.executor.shutdown(wait=True)  # after an error: the shards already finished are still written
            if len(self.done) > self.saved_count:
                self._save_manifest()  # every shard written is recorded, whatever stopped the build


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
    overwrite=False,
    progress=False,
    progress_interval=None,
    data_dir=None,
    download=True,
):
    """Writes a source as CIELAB TFRecord shards plus `manifest.json`.

    Every shard holds exactly `examples_per_shard` examples but the last;
    the bytes depend only on the source and the settings (not on `workers`,
    nor on whether the build was interrupted and resumed).

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
        workers: processes that decode and crop (default: the usable cores,
            `len(os.sched_getaffinity(0))`); the calling process converts to
            Lab and writes meanwhile. 1 does everything in this process.
        overwrite: replace an existing build of this split made with
            different settings (otherwise that is an error).
        progress: print progress to stderr: what a re-run found, a line per
            interval (images/s, shards done / estimated total, ETA), a
            closing summary.
        progress_interval: seconds between progress lines (default 1 on a
            terminal, 10 otherwise; 0: one per block).
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
    import tensorflow  # noqa: F401  (imported before the clock starts: start-up is not build time)

    config = make_config(
        image_size, examples_per_shard, crops_per_image, crop, crop_scale, grey, grey_threshold,
        allow_upscale, compression, seed,
    )
    workers = usable_cores() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1; received workers={workers}.")
    build = prepare_build(source, out_dir, config, split=split, overwrite=overwrite, data_dir=data_dir, download=download)
    meter = progress_lib.BuildProgress(
        build.split, len(build.source), config.crops_per_image, config.examples_per_shard,
        enabled=progress, interval=progress_interval,
    )
    _say_found(meter, build)
    if build.complete:
        return build.entry
    done = list(build.done)
    meter.resume_from(build.position // config.crops_per_image, len(done), sum(r["count"] for r in done))
    manifest = manifest_lib.load_manifest(build.out_dir)
    stream = _block_stream(build, workers, meter)
    with _ShardWriter(build, manifest, done, meter) as shards:
        meter.before_line = shards.wait  # a progress line counts only the shards already written
        for index, lo, hi, outcomes in cut_shards(stream, config.examples_per_shard, len(done), build.position, build.total):
            shards.submit(index, lo, hi, outcomes)
    entry = finish_build(build.out_dir, build.split, build.identity, done)
    meter.finish(entry, build.out_dir)
    return entry
