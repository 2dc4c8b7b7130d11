"""The reader: shards -> `tf.data.Dataset` of `(L, ab)` float32 batches for `model.fit`."""

import pathlib

from data_pipeline import features
from data_pipeline import manifest as manifest_lib


def shard_paths(directory, split=None, verify="size"):
    """(split, manifest entry, shard paths) after checking the files against the manifest."""
    manifest = manifest_lib.load_manifest(directory)
    split, entry = manifest_lib.select_split(manifest, split, directory)
    paths = manifest_lib.verify_split(directory, split, entry, verify=verify)
    return split, entry, paths


def read_shards(
    directory,
    batch_size,
    shuffle=True,
    *,
    split=None,
    shuffle_buffer=4096,
    flip=False,
    repeat=False,
    drop_remainder=False,
    seed=None,
    deterministic=None,
    cycle_length=None,
    verify="size",
    with_ids=False,
):
    """A `tf.data.Dataset` of `(L, ab)` batches read from a shard directory.

    L is float32 `(B, H, W, 1)` in [0, 100]; ab is float32 `(B, H, W, 2)` in
    CIELAB units -- the data contract every model and loss of the library
    accepts. The pipeline interleaves shard files, shuffles serialized
    records, batches, parses each batch in one vectorised
    `tf.io.parse_example` call, decodes the float16 bytes, optionally flips,
    and prefetches.

    Args:
        directory: a directory written by `write_shards`.
        batch_size: examples per batch.
        shuffle: shuffle file order, interleave shards and shuffle records
            (buffer `shuffle_buffer`); without it, examples come in
            manifest order.
        split: which split to read; may be omitted when there is one.
        flip: random left-right flips (augmentation); with a seed, the
            flips of the n-th batch depend only on the seed and n.
        repeat: repeat forever (for `steps_per_epoch` training).
        drop_remainder: drop the last short batch (static batch shape).
        seed: seeds shuffling and flips; with a seed (or
            `deterministic=True`) the order is reproducible.
        deterministic: force tf.data's deterministic ordering on or off;
            by default on when a seed is given or `shuffle=False`, else
            off for speed.
        cycle_length: shard files read concurrently (default AUTOTUNE).
        verify: "size" (default), "checksum" or "none"; see
            `manifest.verify_split`. A mismatch raises ValueError naming the
            shard.
        with_ids: also yield the example ids as a third element.

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards, read_shards
    >>> out = tempfile.mkdtemp()
    >>> _ = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> L, ab = next(iter(read_shards(out, batch_size=4)))
    >>> tuple(L.shape), tuple(ab.shape)
    ((4, 32, 32, 1), (4, 32, 32, 2))
    """
    import tensorflow as tf

    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; received batch_size={batch_size!r}.")
    split, entry, paths = shard_paths(directory, split, verify=verify)
    size = int(entry["image_size"])
    compression = entry["config"].get("compression") or ""
    if deterministic is None:
        deterministic = seed is not None or not shuffle
    autotune = tf.data.AUTOTUNE

    if shuffle:
        files = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = files.interleave(
            lambda f: tf.data.TFRecordDataset(f, compression_type=compression),
            cycle_length=cycle_length or min(len(paths), 8),
            block_length=1,
            num_parallel_calls=autotune,
            deterministic=deterministic,
        )
    else:  # manifest order, shard by shard
        ds = tf.data.TFRecordDataset([str(p) for p in paths], compression_type=compression)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    spec = features.feature_spec()
    if flip and seed is not None:
        # Stateless draws keyed on (seed, batch number): two datasets with one seed flip alike, whatever
        # random ops ran before in the process (a stateful op's stream depends on them).
        ds = ds.enumerate()

    def parse(*batch):
        batch_number, serialized = batch if len(batch) == 2 else (None, batch[0])
        parsed = tf.io.parse_example(serialized, spec)
        lab = tf.io.decode_raw(parsed[features.LAB_KEY], tf.float16, little_endian=True)
        lab = tf.reshape(lab, [-1, size, size, 3])
        if flip:  # per-example left-right flip as a batched gather of columns (measured ~4x faster than tf.where)
            if batch_number is None:
                draws = tf.random.uniform([tf.shape(lab)[0]])
            else:
                key = tf.stack([tf.constant(int(seed) + 1, tf.int64), batch_number])
                draws = tf.random.stateless_uniform([tf.shape(lab)[0]], seed=key)
            flipped = draws < 0.5
            columns = tf.range(size)
            columns = tf.where(flipped[:, None], (size - 1 - columns)[None, :], columns[None, :])
            lab = tf.gather(lab, columns, axis=2, batch_dims=1)
        lab = tf.cast(lab, tf.float32)
        L, ab = lab[..., :1], lab[..., 1:]
        if with_ids:
            return L, ab, parsed[features.ID_KEY]
        return L, ab

    ds = ds.map(parse, num_parallel_calls=autotune, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    ds = ds.with_options(options)
    return ds.prefetch(autotune)


def num_examples(directory, split=None):
    """Number of examples the manifest records for a split."""
    manifest = manifest_lib.load_manifest(directory)
    return manifest_lib.select_split(manifest, split, pathlib.Path(directory))[1]["num_examples"]
