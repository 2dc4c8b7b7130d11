"""The reader: shards -> `(L, ab)` float32 batches, as a `tf.data.Dataset` or as NumPy arrays."""

from data_pipeline import features
from data_pipeline import manifest as manifest_lib


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

    L is float32 `(B, H, W, 1)` in [0, 100] and ab float32 `(B, H, W, 2)` in CIELAB units, the
    contract of every model and loss of the library. Each batch is parsed by one
    `tf.io.parse_example` call.

    Args:
        directory: a directory written by `write_shards`.
        batch_size: examples per batch.
        shuffle: shuffle files, interleave them and shuffle records; else manifest order.
        split: the split to read; may be omitted when there is one.
        shuffle_buffer: records in the shuffle buffer.
        flip: random left-right flips; with a seed, batch n's flips depend only on seed and n.
        repeat: repeat forever (for `steps_per_epoch` training).
        drop_remainder: drop the last short batch (a static batch shape).
        seed: seeds shuffling and flips.
        deterministic: tf.data's deterministic ordering; default on when a seed is given or
            `shuffle=False`.
        cycle_length: shard files read at once (default: up to 8).
        verify: "size", "checksum" or "none"; see `manifest.verify_split`.
        with_ids: also yield the example ids (bytes) as a third element.

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards
    >>> out = tempfile.mkdtemp()
    >>> _ = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> L, ab = next(iter(read_shards(out, batch_size=4)))
    >>> tuple(L.shape), tuple(ab.shape)
    ((4, 32, 32, 1), (4, 32, 32, 2))
    """
    import tensorflow as tf

    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be at least 1. Received: batch_size={batch_size!r}")
    manifest = manifest_lib.load_manifest(directory)
    split, entry = manifest_lib.select_split(manifest, split, directory)
    paths = [
        str(path) for path in manifest_lib.verify_split(directory, split, entry, verify=verify)
    ]
    size = int(entry["image_size"])
    compression = entry["config"].get("compression") or ""
    if deterministic is None:
        deterministic = seed is not None or not shuffle
    autotune = tf.data.AUTOTUNE

    if shuffle:
        files = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=seed)
        records = files.interleave(
            lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
            cycle_length=cycle_length or min(len(paths), 8),
            num_parallel_calls=autotune,
            deterministic=deterministic,
        ).shuffle(shuffle_buffer, seed=seed)
    else:
        records = tf.data.TFRecordDataset(paths, compression_type=compression)
    if repeat:
        records = records.repeat()
    batches = records.batch(int(batch_size), drop_remainder=drop_remainder)
    if flip and seed is not None:
        # Stateless draws keyed on (seed, batch number): the same flips whatever ran before.
        batches = batches.enumerate()
    spec = features.feature_spec()

    def parse(*batch):
        number, serialized = batch if len(batch) == 2 else (None, batch[0])
        parsed = tf.io.parse_example(serialized, spec)
        lab = tf.io.decode_raw(parsed[features.LAB_KEY], tf.float16, little_endian=True)
        lab = tf.reshape(lab, [-1, size, size, 3])
        if flip:
            if number is None:
                draws = tf.random.uniform([tf.shape(lab)[0]])
            else:
                draws = tf.random.stateless_uniform(
                    [tf.shape(lab)[0]],
                    seed=tf.stack([tf.constant(int(seed) + 1, tf.int64), number]),
                )
            columns = tf.range(size)
            columns = tf.where(
                (draws < 0.5)[:, None], (size - 1 - columns)[None, :], columns[None, :]
            )
            # Each example's own columns, mirrored or not.
            lab = tf.gather(lab, columns, axis=2, batch_dims=1)
        lab = tf.cast(lab, tf.float32)
        if with_ids:
            return lab[..., :1], lab[..., 1:], parsed[features.ID_KEY]
        return lab[..., :1], lab[..., 1:]

    batches = batches.map(parse, num_parallel_calls=autotune, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    return batches.with_options(options).prefetch(autotune)


def iterate_numpy(directory, batch_size, shuffle=True, **options):
    """The batches of `read_shards` as NumPy arrays, for JAX or PyTorch training loops.

    Takes the same arguments as `read_shards`; with `with_ids=True` the ids
    come as a list of `str`.

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards
    >>> out = tempfile.mkdtemp()
    >>> _ = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> L, ab = next(iterate_numpy(out, batch_size=4))
    >>> L.shape, ab.shape, L.dtype.name
    ((4, 32, 32, 1), (4, 32, 32, 2), 'float32')
    """
    for batch in read_shards(directory, batch_size, shuffle, **options).as_numpy_iterator():
        if len(batch) == 3:
            batch = (batch[0], batch[1], [example_id.decode("utf-8") for example_id in batch[2]])
        yield batch
