"""The shard writer: a source -> CIELAB `tf.train.Example` shards of exactly 128 + `manifest.json`.

The source yields items in a fixed order; `examples.item_examples` turns each into its
examples (in worker processes); this process cuts them into shards and writes them;
`manifest` records them.

*Positions and the cut.* Example position p is crop p % c of item p // c
(c = `crops_per_image`); each outcome (a kept example, or a skipped input with its reason) is a
pure function of its item. The kept examples, in position order, are cut into shards of
`examples_per_shard`; shard j covers the positions from its first example up to the next
shard's, so each skipped input is recorded in exactly one shard.

*Writing and resuming.* Each complete shard is renamed from a temporary name to a hidden
staged name (`.{split}-{j:05d}-staged.tfrecord`); `manifest.json` (status "building") records
each shard's file, count, sha256, skipped inputs and positions, saved at most once a second
(a save per shard would make long builds quadratic). When the source ends, the staged files
are renamed to `{split}-{j:05d}-of-{n:05d}.tfrecord` and the split marked "complete". A re-run
resumes after the longest prefix of intact recorded shards, so its bytes are those of an
uninterrupted build. `data_pipeline.beam` runs the same steps on Apache Beam.
"""

import collections
import concurrent.futures
import dataclasses
import itertools
import math
import multiprocessing
import os
import pathlib
import threading
import time

from data_pipeline import examples
from data_pipeline import features
from data_pipeline import manifest as manifest_lib
from data_pipeline import sources as sources_lib
from data_pipeline.examples import BuildConfig
from data_pipeline.examples import Example
from data_pipeline.examples import Skipped
from data_pipeline.progress import Progress

MANIFEST_SAVE_INTERVAL_S = 1.0


def usable_cores():
    """The CPU cores this process may run on (its affinity mask): the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def write_shards(
    source,
    out_dir,
    image_size=64,
    examples_per_shard=128,
    *,
    split=None,
    workers=None,
    overwrite=False,
    progress=False,
    progress_interval=None,
    data_dir=None,
    download=True,
    **settings,
):
    """Writes a source as CIELAB TFRecord shards plus `manifest.json`.

    The bytes depend only on the source and the settings, not on `workers` nor on resuming.
    Re-running a finished build does nothing. With `workers` > 1, scripts must guard their
    entry point with `if __name__ == "__main__":`, as `multiprocessing` requires.

    Args:
        source: a source from `data_pipeline.sources` or a spec string
            (`tfds:NAME[:SPLIT]`, `folder:PATH`, `npy:L.npy,AB.npy`,
            `samples[:SPLIT]`).
        out_dir: the output directory (created); several splits may share it.
        image_size, examples_per_shard: see `BuildConfig`.
        split: the split of a spec string without one (default "train").
        workers: processes doing the per-image work (default: the usable cores); 1: none.
        overwrite: replace a build of this split made with other settings (else an error).
        progress: print progress with an ETA to stderr.
        progress_interval: seconds between progress lines when stderr is no terminal.
        data_dir, download: passed to the TFDS source of a spec string.
        **settings: the other fields of `BuildConfig`.

    Returns:
        The split's manifest entry (a dict).

    Example:

    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> entry = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> entry["num_examples"], entry["num_shards"]
    (12, 1)
    """
    import tensorflow  # noqa: F401  (imported before the clock of the progress line starts)

    config = BuildConfig(image_size=image_size, examples_per_shard=examples_per_shard, **settings)
    workers = usable_cores() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"`workers` must be at least 1. Received: workers={workers}")
    build = prepare_build(
        source,
        out_dir,
        config,
        split=split,
        overwrite=overwrite,
        data_dir=data_dir,
        download=download,
    )
    per_item = config.crops_per_image
    meter = Progress(
        len(build.source),
        enabled=progress,
        interval=10.0 if progress_interval is None else progress_interval,
        prefix=f"[{build.split}] ",
        initial=build.position // per_item,
    )
    if progress:
        _say_found(meter, build)
    if build.complete:
        return build.entry
    done = list(build.done)
    before = sum(record["count"] for record in done)
    manifest = manifest_lib.load_manifest(build.out_dir)
    saved = {"count": len(done), "time": None}

    def save():
        manifest["splits"][build.split] = dict(build.identity, status="building", shards=done)
        manifest_lib.save_manifest(build.out_dir, manifest)
        saved.update(count=len(done), time=time.monotonic())

    def count_item(index, kept, seen):
        left = build.total - (index + 1) * per_item
        expected = before + kept + left * (kept / seen if seen else 1.0)
        estimate = max(len(done) + (left > 0), math.ceil(expected / config.examples_per_shard), 1)
        meter.update(index + 1, detail=f", shards {len(done)}/~{estimate}")

    try:
        outcomes = _outcomes(build, workers, count_item)
        for index, lo, hi, shard in cut_shards(
            outcomes, config.examples_per_shard, len(done), build.position, build.total
        ):
            done.append(write_shard(build.out_dir, build.split, config, index, lo, hi, shard))
            if (
                saved["time"] is None
                or time.monotonic() - saved["time"] >= MANIFEST_SAVE_INTERVAL_S
            ):
                save()
    finally:
        if len(done) > saved["count"]:
            save()  # every shard written is recorded, whatever stopped the build
    entry = finish_build(build.out_dir, build.split, build.identity, done)
    meter.close()
    if progress:
        elapsed = time.monotonic() - meter.start
        items = len(build.source) - meter.initial
        meter.note(
            f"[{build.split}] done: {items} images in {elapsed:.1f} s "
            f"({items / max(elapsed, 1e-9):.0f} images/s); {entry['num_examples']} examples in "
            f"{entry['num_shards']} shards, {entry['num_skipped']} skipped, "
            f"in {build.out_dir}"
        )
    return entry


def positioned(index, outcomes, crops_per_image):
    """`(position, outcome)` of item `index`'s outcomes; a skipped item sits at its first crop's."""
    return [(index * crops_per_image + k, outcome) for k, outcome in enumerate(outcomes)]


def _outcomes(build, workers, count_item):
    """`(position, outcome)` from `build.position` on, in order; `count_item` after each item."""
    config, per_item = build.config, build.config.crops_per_image
    first = build.position // per_item
    items = build.source.iter_range(first, len(build.source))
    if workers == 1:
        results = (examples.item_examples(item_id, payload, config) for item_id, payload in items)
    else:
        results = _in_workers(items, config, workers)
    kept = seen = 0
    for index, outcomes in enumerate(results, first):
        for position, outcome in positioned(index, outcomes, per_item):
            if position >= build.position:
                kept += isinstance(outcome, Example)
                seen += outcome.examples if isinstance(outcome, Skipped) else 1
                yield position, outcome
        count_item(index, kept, seen)  # runs once the consumer has written what this item completed


def _in_workers(items, config, workers):
    """`item_examples` of each item, in order, from `workers` processes, a bounded window in flight.

    Workers come from a fork server (else "spawn"), never by forking this process, which
    holds TensorFlow's threads.
    """
    per_task = max(1, 16 // config.crops_per_image)
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(features.example_descriptors(),),
    )
    pending = collections.deque()
    try:
        while True:
            task = list(itertools.islice(items, per_task))
            if task:
                pending.append(pool.submit(examples.items_examples, task, config))
            # Results leave in order as soon as they are done; the window only bounds memory.
            while pending and (len(pending) >= 4 * workers or not task or pending[0].done()):
                try:
                    yield from pending.popleft().result()
                except concurrent.futures.process.BrokenProcessPool:
                    raise RuntimeError(
                        "a worker process died (out of memory?); pass workers=1 to work in this "
                        "process."
                    ) from None
            if not task:
                return
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(example_descriptors):
    """Worker initializer: Examples without TensorFlow; an end with the build's process."""
    features.use_example_descriptors(example_descriptors)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()


def cut_shards(outcomes, examples_per_shard, first_index=0, start=0, end=None):
    """Cuts position-ordered `(position, outcome)` into shards of `examples_per_shard` examples.

    Yields `(index, lo, hi, outcomes)` per shard as soon as it is complete:
    shard j covers the positions from its first example (or `start`) up to
    the next shard's first example (or `end`).

    Example:

    >>> kept, skip = Example("a", None, False), Skipped("b", "unreadable", 1)
    >>> shards = cut_shards(enumerate([kept, skip, kept, kept]), 2, end=4)
    >>> [(index, lo, hi, len(outcomes)) for index, lo, hi, outcomes in shards]
    [(0, 0, 3, 3), (1, 3, 4, 1)]
    """
    index, lo, current, count = first_index, start, [], 0
    for position, outcome in outcomes:
        if isinstance(outcome, Example):
            if count == examples_per_shard:
                yield index, lo, position, current
                index, lo, current, count = index + 1, position, [], 0
            count += 1
        current.append(outcome)
    if current or index == 0:
        yield index, lo, end, current


def staged_name(split, index):
    """The hidden name of a finished shard while the number of shards is not yet known."""
    return f".{split}-{index:05d}-staged.tfrecord"


def write_shard(out_dir, split, config, index, lo, hi, outcomes):
    """Writes one shard under its staged name (atomically); returns its manifest record."""
    import tensorflow as tf

    out_dir = pathlib.Path(out_dir)
    name = staged_name(split, index)
    tmp_path = out_dir / f".{name.lstrip('.')}.tmp-{os.getpid()}-{threading.get_ident()}"
    kept = [outcome for outcome in outcomes if isinstance(outcome, Example)]
    try:
        with tf.io.TFRecordWriter(
            str(tmp_path), tf.io.TFRecordOptions(compression_type=config.compression or "")
        ) as out:
            for example in kept:
                out.write(example.record)
        record = {
            "index": index,
            "file": name,
            "count": len(kept),
            "bytes": tmp_path.stat().st_size,
            "sha256": manifest_lib.sha256_file(tmp_path),
            "positions": [lo, hi],
            "skipped": [outcome._asdict() for outcome in outcomes if isinstance(outcome, Skipped)],
            "flagged_grey": [example.id for example in kept if example.grey],
        }
        os.replace(tmp_path, out_dir / name)
    finally:
        tmp_path.unlink(missing_ok=True)
    return record


def finish_build(out_dir, split, identity, records):
    """Renames the staged shards to `{split}-{j:05d}-of-{n:05d}.tfrecord`; marks the split complete.

    Shard files of this split that the build does not list (an older
    build's) are removed. Returns the final manifest entry.
    """
    out_dir = pathlib.Path(out_dir)
    records = [dict(record) for record in sorted(records, key=lambda r: r["index"])]
    if [r["index"] for r in records] != list(range(len(records))):
        raise RuntimeError(
            f"split {split!r}: shards {[r['index'] for r in records]} are not 0..n-1."
        )
    for record in records:
        final = features.shard_filename(split, record["index"], len(records))
        if record["file"] != final:
            os.replace(out_dir / record["file"], out_dir / final)
            record["file"] = final
    listed = {record["file"] for record in records}
    for path in out_dir.glob(f"{split}-*-of-*.tfrecord"):
        if path.name not in listed:
            path.unlink()
    skipped = [item for record in records for item in record["skipped"]]
    entry = dict(
        identity,
        status="complete",
        shards=records,
        num_shards=len(records),
        num_examples=sum(r["count"] for r in records),
        skipped=skipped,
        num_skipped=sum(item["examples"] for item in skipped),
        num_flagged_grey=sum(len(r["flagged_grey"]) for r in records),
    )
    manifest = manifest_lib.load_manifest(out_dir, required=False)
    manifest["splits"][split] = entry
    manifest_lib.save_manifest(out_dir, manifest)
    return entry


@dataclasses.dataclass
class PreparedBuild:
    """A planned build of one split, from `prepare_build`.

    `complete`: already built with these settings (`entry` is its manifest entry). Otherwise
    `done` holds the intact shards of an earlier run and `position` where the next starts.
    `found` holds what the directory held: `status`, `recorded` and `intact` shard counts.
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


def prepare_build(
    source, out_dir, config, *, split=None, overwrite=False, data_dir=None, download=True
):
    """Plans a build by the identity, overwrite and resume rules; shared by local and Beam builds.

    A split built from another source or with other settings is an error unless `overwrite`.
    Temporary files and staged shards outside the intact prefix are removed, so only one
    build may run in a directory at a time.
    """
    source = sources_lib.from_spec(source, split=split, data_dir=data_dir, download=download)
    out_dir = pathlib.Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise PermissionError(
            f"output directory {str(out_dir)!r} is not writable: {error}"
        ) from None
    total = len(source) * config.crops_per_image
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
                f"{str(out_dir)!r} already holds split {split!r} built from "
                f"{entry.get('source')!r} with other settings; pass overwrite=True (--overwrite) "
                "or choose another directory."
            )
        for path in [
            *out_dir.glob(f"{split}-*-of-*.tfrecord"),
            *out_dir.glob(f".{split}-*-staged.tfrecord"),
        ]:
            path.unlink()
        entry = None
    recorded = (entry or {}).get("shards", [])
    found = {"status": None if entry is None else entry.get("status"), "recorded": len(recorded)}
    if entry is not None and entry.get("status") == "complete":
        manifest_lib.verify_split(out_dir, split, entry, verify="checksum")
        found["intact"] = len(recorded)
        return PreparedBuild(
            source, config, out_dir, split, total, identity, entry, recorded, total, True, found
        )

    for path in [
        *out_dir.glob(f".{split}-*.tfrecord.tmp-*"),
        *out_dir.glob(f".{manifest_lib.MANIFEST_NAME}.tmp-*"),
    ]:
        path.unlink(missing_ok=True)
    done, position = [], 0
    for expected, record in enumerate(sorted(recorded, key=lambda r: r.get("index", -1))):
        positions = record.get("positions")
        if record.get("index") != expected or not positions or positions[0] != position:
            break
        path = _intact_file(out_dir, split, record)
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
    return PreparedBuild(
        source, config, out_dir, split, total, identity, entry, done, position, False, found
    )


def _intact_file(out_dir, split, record):
    """The file (staged or final name) holding a recorded shard, its size and sha256; or None."""
    index = record.get("index")
    candidates = [record.get("file"), staged_name(split, index)]
    candidates += sorted(path.name for path in out_dir.glob(f"{split}-{index:05d}-of-*.tfrecord"))
    for name in dict.fromkeys(c for c in candidates if c):
        path = out_dir / name
        if path.is_file() and path.stat().st_size == record.get("bytes"):
            if manifest_lib.sha256_file(path) == record.get("sha256"):
                return path
    return None


def _say_found(meter, build):
    found, out, prefix = build.found, build.out_dir, f"[{build.split}] "
    if build.complete:
        entry = build.entry
        meter.note(
            f"{prefix}already complete in {out}: {entry['num_examples']} examples in "
            f"{entry['num_shards']} shards ({entry['num_skipped']} skipped), checksums verified; "
            "nothing to do"
        )
    elif found["status"] is not None:
        lost = found["recorded"] - found["intact"]
        note = f" ({lost} recorded shard(s) missing or changed, rebuilt)" if lost else ""
        if build.done:
            item = build.position // build.config.crops_per_image
            examples_done = sum(r["count"] for r in build.done)
            meter.note(
                f"{prefix}resuming an unfinished build in {out}: {found['intact']} shards intact"
                f"{note}, {examples_done} examples from images 0-{item - 1} of "
                f"{len(build.source)}; "
                f"continuing from image {item}"
            )
        else:
            meter.note(
                f"{prefix}found an unfinished build in {out} with no intact shard{note}; "
                "starting from image 0"
            )
