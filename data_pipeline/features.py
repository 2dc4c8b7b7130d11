"""The on-disk record format, defined once: feature keys, dtype and layout.

Every shard is a TFRecord file of serialized `tf.train.Example` protos with

- ``lab``: bytes, the CIELAB image as little-endian float16, row-major
  ``(height, width, 3)`` with channels (L, a, b) in CIELAB units;
- ``height``, ``width``: int64;
- ``id``: bytes (UTF-8), the stable id of the source item (plus ``#k`` for
  the k-th random crop of one photo);
- ``grey``: int64, 1 when the example was flagged as a greyscale photo.

Why float16 is enough: float16 keeps 11 significant bits, so its spacing is
0.0625 for values in [64, 128) -- the worst case here, L near 100 and the
largest |a|, |b| -- and 0.03125 or finer below 64. The rounding error is at
most half that, 0.031 Lab units, some 30x below a just-noticeable colour
difference (Delta E ~ 1) and below the quantisation of the 8-bit sRGB the
photos arrive in (one 8-bit step moves L by up to ~0.4 units in mid-tones
and far more near black). Halving the bytes against float32 halves disk and
read bandwidth, which is what bounds the reader.
"""

import functools

import numpy as np

LAB_KEY = "lab"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
ID_KEY = "id"
GREY_KEY = "grey"

# On-disk dtype of the Lab bytes; little-endian regardless of the host.
STORAGE_DTYPE = np.dtype("<f2")
STORAGE_DTYPE_NAME = "float16"


def shard_filename(split, index, num_shards):
    """`{split}-{i:05d}-of-{n:05d}.tfrecord`, the TFDS / Model Garden naming."""
    return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


def encode_example(lab, example_id, grey=False):
    """Serializes one Lab image `(H, W, 3)` to `tf.train.Example` bytes."""
    import tensorflow as tf

    lab = np.asarray(lab)
    if lab.ndim != 3 or lab.shape[-1] != 3:
        raise ValueError(f"encode_example expects Lab of shape (H, W, 3); received shape {lab.shape}.")
    height, width = int(lab.shape[0]), int(lab.shape[1])
    feature = {
        LAB_KEY: tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[np.ascontiguousarray(lab, dtype=STORAGE_DTYPE).tobytes()])
        ),
        HEIGHT_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
        WIDTH_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
        ID_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[example_id.encode("utf-8")])),
        GREY_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(bool(grey))])),
    }
    # deterministic=True sorts the map keys: the same bytes in every process.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def feature_spec():
    """The `tf.io.parse_example` spec matching `encode_example`."""
    import tensorflow as tf

    return {
        LAB_KEY: tf.io.FixedLenFeature([], tf.string),
        HEIGHT_KEY: tf.io.FixedLenFeature([], tf.int64),
        WIDTH_KEY: tf.io.FixedLenFeature([], tf.int64),
        ID_KEY: tf.io.FixedLenFeature([], tf.string),
        GREY_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }


def _varint(value):
    value &= (1 << 64) - 1  # int64 as protobuf stores it: two's complement, ten bytes when negative
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(field, pieces):
    """A length-delimited field (tag, length, payload) around `pieces`: `(pieces, total length)`."""
    payload, length = pieces
    head = _varint(field << 3 | 2) + _varint(length)
    return [head, *payload], len(head) + length


def _feature_entry(key, feature):
    """One entry of `Features.feature` (a map: key = field 1, value = field 2)."""
    key_pieces, key_length = _delimited(1, ([key], len(key)))
    value_pieces, value_length = _delimited(2, feature)
    return key_pieces + value_pieces, key_length + value_length


def _bytes_feature(value):
    return _delimited(1, _delimited(1, ([value], len(value))))  # Feature.bytes_list(1).value(1)


def _int64_feature(value):
    packed = _varint(value)
    return _delimited(3, _delimited(1, ([packed], len(packed))))  # Feature.int64_list(3).value(1), packed


@functools.lru_cache(maxsize=64)
def _example_parts(height, width, grey):
    """The parts of an Example's `Features` that depend only on the image's shape and grey flag.

    Returns the bytes before the `id` entry, the `lab` entry's header (up to
    its pixel bytes) and the bytes after the pixels, per `serialize_example`.
    """
    nbytes = height * width * 3 * STORAGE_DTYPE.itemsize
    entries = {
        GREY_KEY: _int64_feature(int(bool(grey))),
        HEIGHT_KEY: _int64_feature(height),
        LAB_KEY: _bytes_feature(b"\0" * nbytes),
        WIDTH_KEY: _int64_feature(width),
    }
    keys = sorted([*entries, ID_KEY], key=lambda k: k.encode("utf-8"))
    if keys != [GREY_KEY, HEIGHT_KEY, ID_KEY, LAB_KEY, WIDTH_KEY]:  # the layout below assumes this order
        raise AssertionError(keys)
    before = b"".join(b"".join(_delimited(1, _feature_entry(k.encode(), entries[k]))[0]) for k in (GREY_KEY, HEIGHT_KEY))
    lab_entry = b"".join(_delimited(1, _feature_entry(LAB_KEY.encode(), entries[LAB_KEY]))[0])
    lab_head = lab_entry[: len(lab_entry) - nbytes]
    after = b"".join(_delimited(1, _feature_entry(WIDTH_KEY.encode(), entries[WIDTH_KEY]))[0])
    return before, lab_head, after


_ID_TAGS = (_varint(1 << 3 | 2), _varint(2 << 3 | 2))


def serialize_example(lab16, example_id, grey=False):
    """The bytes of `encode_example(lab, example_id, grey)` from the stored array, without TensorFlow.

    `lab16` is the Lab image already in `STORAGE_DTYPE`, C-contiguous `(H, W,
    3)`. Writes the protobuf wire format of the `tf.train.Example` directly
    (its map entries in sorted key order, as `SerializeToString(
    deterministic=True)` does), copying the pixel bytes once; only the `id`
    entry and the outer length are computed per example. A test checks it
    equals `tf.train.Example(...).SerializeToString()` byte for byte.
    """
    if lab16.ndim != 3 or lab16.shape[-1] != 3 or lab16.dtype != STORAGE_DTYPE or not lab16.flags.c_contiguous:
        raise ValueError(f"serialize_example expects C-contiguous {STORAGE_DTYPE} (H, W, 3); received {lab16.dtype} {lab16.shape}.")
    before, lab_head, after = _example_parts(int(lab16.shape[0]), int(lab16.shape[1]), bool(grey))
    key_tag, value_tag = _ID_TAGS
    raw_id = example_id.encode("utf-8")
    bytes_list = key_tag + _varint(len(raw_id)) + raw_id  # BytesList.value(1)
    feature = key_tag + _varint(len(bytes_list)) + bytes_list  # Feature.bytes_list(1)
    entry = b"\n\x02id" + value_tag + _varint(len(feature)) + feature  # map entry: key(1) = "id", value(2)
    id_entry = key_tag + _varint(len(entry)) + entry  # Features.feature(1)
    length = len(before) + len(id_entry) + len(lab_head) + lab16.nbytes + len(after)
    return b"".join((key_tag, _varint(length), before, id_entry, lab_head, memoryview(lab16).cast("B"), after))
