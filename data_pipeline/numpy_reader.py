"""A NumPy reader of the shards that needs no TensorFlow (for JAX / PyTorch loops).

It reads the TFRecord framing (8-byte length, 4-byte CRC, payload, 4-byte
CRC) and decodes the `tf.train.Example` protobuf wire format directly --
only what the shards use: the `features` map of bytes and int64 lists. CRCs
are not recomputed (pure-Python CRC32C would dominate the read time); use
`verify="checksum"` to check every shard against the manifest's sha256.
"""

import gzip
import pathlib

import numpy as np

from data_pipeline import features
from data_pipeline import manifest as manifest_lib


def _varint(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf, start, end):
    """Yields (field number, wire type, value) of one protobuf message; length-delimited values as (start, end)."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value = (pos, pos + length)
            pos += length
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} in a tf.train.Example")
        yield number, wire, value


def _feature_value(buf, start, end):
    """Decodes a `Feature`: a list of bytes (as memoryviews) or of ints."""
    for kind, _, (s, e) in _fields(buf, start, end):
        values = []
        if kind == 1:  # BytesList
            for _, _, (vs, ve) in _fields(buf, s, e):
                values.append(buf[vs:ve])
        elif kind == 3:  # Int64List, packed or not
            for _, wire, v in _fields(buf, s, e):
                if wire == 2:
                    pos, stop = v
                    while pos < stop:
                        x, pos = _varint(buf, pos)
                        values.append(x - (1 << 64) if x >= 1 << 63 else x)
                else:
                    values.append(v - (1 << 64) if v >= 1 << 63 else v)
        elif kind == 2:  # FloatList
            for _, wire, v in _fields(buf, s, e):
                if wire == 2:
                    values.extend(np.frombuffer(buf[v[0] : v[1]], "<f4").tolist())
                else:
                    values.append(float(np.frombuffer(v, "<f4")[0]))
        return values
    return []


def parse_example(record):
    """Parses serialized `tf.train.Example` bytes into {key: list of values}."""
    buf = memoryview(record)
    out = {}
    for number, _, (s, e) in _fields(buf, 0, len(buf)):
        if number != 1:
            continue
        for entry_number, _, (es, ee) in _fields(buf, s, e):
            if entry_number != 1:
                continue
            key, value = None, []
            for field, _, (fs, fe) in _fields(buf, es, ee):
                if field == 1:
                    key = bytes(buf[fs:fe]).decode("utf-8")
                elif field == 2:
                    value = _feature_value(buf, fs, fe)
            out[key] = value
    return out


def read_records(path, compression=None):
    """Yields the raw payloads of a TFRecord file."""
    opener = gzip.open if compression == "GZIP" else open
    with opener(path, "rb") as f:
        data = f.read()
    view = memoryview(data)
    pos, size = 0, len(data)
    while pos < size:
        if pos + 12 > size:
            raise ValueError(f"TFRecord file {str(path)!r} is truncated at byte {pos}.")
        length = int.from_bytes(view[pos : pos + 8], "little")
        start = pos + 12
        if start + length + 4 > size:
            raise ValueError(f"TFRecord file {str(path)!r} is truncated in the record at byte {pos}.")
        yield view[start : start + length]
        pos = start + length + 4


def decode_lab(parsed, image_size):
    """float32 Lab `(H, W, 3)` of one parsed example."""
    height, width = parsed[features.HEIGHT_KEY][0], parsed[features.WIDTH_KEY][0]
    if (height, width) != (image_size, image_size):
        raise ValueError(f"example of size {height}x{width} in a {image_size}px build")
    raw = np.frombuffer(parsed[features.LAB_KEY][0], dtype=features.STORAGE_DTYPE)
    return raw.reshape(height, width, 3).astype(np.float32)


def iterate_numpy(
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
    verify="size",
    with_ids=False,
):
    """Yields `(L, ab)` NumPy float32 batches, `(B, H, W, 1)` and `(B, H, W, 2)`.

    The same data and options as `read_shards`, without TensorFlow: for
    JAX or PyTorch training loops. Shuffling permutes the shard order each
    epoch and mixes records through a buffer of `shuffle_buffer` examples;
    it is reproducible for a given `seed`.

    Example:

    >>> import tempfile
    >>> from data_pipeline import write_shards, iterate_numpy
    >>> out = tempfile.mkdtemp()
    >>> _ = write_shards("samples:validation", out, image_size=32, crops_per_image=4)
    >>> L, ab = next(iterate_numpy(out, batch_size=4))
    >>> L.shape, ab.shape, L.dtype.name
    ((4, 32, 32, 1), (4, 32, 32, 2), 'float32')
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1; received batch_size={batch_size!r}.")
    manifest = manifest_lib.load_manifest(directory)
    split, entry = manifest_lib.select_split(manifest, split, directory)
    paths = manifest_lib.verify_split(directory, split, entry, verify=verify)
    size = int(entry["image_size"])
    compression = entry["config"].get("compression")
    rng = np.random.default_rng(seed)

    def examples():
        while True:
            order = rng.permutation(len(paths)) if shuffle else range(len(paths))
            for i in order:
                for record in read_records(paths[i], compression):
                    parsed = parse_example(record)
                    yield decode_lab(parsed, size), bytes(parsed[features.ID_KEY][0]).decode("utf-8")
            if not repeat:
                return

    def shuffled(stream):
        buffer = []
        for item in stream:
            if len(buffer) < shuffle_buffer:
                buffer.append(item)
                continue
            j = int(rng.integers(len(buffer)))
            buffer[j], item = item, buffer[j]
            yield item
        rng.shuffle(buffer)
        yield from buffer

    stream = shuffled(examples()) if shuffle else examples()
    batch = []

    def emit(items):
        lab = np.stack([x for x, _ in items])
        if flip:
            mask = rng.random(len(items)) < 0.5
            lab[mask] = lab[mask, :, ::-1]
        out = (lab[..., :1].copy(), lab[..., 1:].copy())
        return out + ([i for _, i in items],) if with_ids else out

    for item in stream:
        batch.append(item)
        if len(batch) == batch_size:
            yield emit(batch)
            batch = []
    if batch and not drop_remainder:
        yield emit(batch)
