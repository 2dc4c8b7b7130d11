"""The on-disk record format, defined once: feature keys, dtype, shard names, encoder, parser spec.

Every shard is a TFRecord file of serialized `tf.train.Example` protos with

- ``lab``: bytes, the CIELAB image as little-endian float16, row-major
  ``(height, width, 3)``, channels (L, a, b) in CIELAB units;
- ``height``, ``width``: int64;
- ``id``: bytes (UTF-8), the source item's stable id (``#k`` added for the
  k-th crop of an item with several);
- ``grey``: int64, 1 when the example was flagged as a greyscale photo.

float16 rounds Lab values (|x| < 128) by at most 0.031 units, far below a just-noticeable
colour difference (Delta E ~ 1), at half float32's bytes.
"""

import numpy as np
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory

LAB_KEY = "lab"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
ID_KEY = "id"
GREY_KEY = "grey"
STORAGE_DTYPE = np.dtype("<f2")
STORAGE_DTYPE_NAME = "float16"


def shard_filename(split, index, num_shards):
    """`{split}-{index:05d}-of-{num_shards:05d}.tfrecord`, the TFDS / Model Garden naming."""
    return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


def encode_example(lab, example_id, grey=False):
    """Serializes one Lab image `(H, W, 3)` as `tf.train.Example` bytes, map keys sorted.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> record = encode_example(np.zeros((2, 2, 3), np.float32), "a")
    >>> tf.train.Example.FromString(record).features.feature["id"].bytes_list.value[0]
    b'a'
    """
    lab = np.asarray(lab)
    if lab.ndim != 3 or lab.shape[-1] != 3:
        raise ValueError(f"`lab` must have shape (H, W, 3). Received: lab.shape={lab.shape}")
    lab_bytes = np.ascontiguousarray(lab, dtype=STORAGE_DTYPE).tobytes()
    return encode_lab_bytes(lab_bytes, lab.shape[0], lab.shape[1], example_id, grey)


def encode_lab_bytes(lab_bytes, height, width, example_id, grey=False):
    """`encode_example` of a Lab image given as its `STORAGE_DTYPE` bytes, row-major (H, W, 3)."""
    feature = {
        LAB_KEY: {"bytes_list": {"value": [lab_bytes]}},
        HEIGHT_KEY: {"int64_list": {"value": [height]}},
        WIDTH_KEY: {"int64_list": {"value": [width]}},
        ID_KEY: {"bytes_list": {"value": [example_id.encode("utf-8")]}},
        GREY_KEY: {"int64_list": {"value": [int(bool(grey))]}},
    }
    example_class = _example_class or _tf_example_class()
    return example_class(features={"feature": feature}).SerializeToString(deterministic=True)


def _tf_example_class():
    import tensorflow as tf

    return tf.train.Example


# `tf.train.Example` rebuilt from its descriptors, in a build worker without TensorFlow.
_example_class = None


def example_descriptors():
    """The serialized descriptors of `tf.train.Example`'s proto files, dependencies first.

    With them the build's workers write `tf.train.Example`s without importing TensorFlow.
    """
    files = []

    def add(file):
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        files.append(proto.SerializeToString())

    add(_tf_example_class().DESCRIPTOR.file)
    return files


def use_example_descriptors(descriptors):
    """Makes this process encode Examples with the message class built from `example_descriptors()`.

    It is `tf.train.Example`'s own schema, so the bytes are those `tf.train.Example` gives.
    """
    global _example_class
    pool = descriptor_pool.DescriptorPool()
    for descriptor in descriptors:
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(descriptor))
    _example_class = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.Example")
    )


def feature_spec():
    """The `tf.io.parse_example` spec of `encode_example`'s records."""
    import tensorflow as tf

    return {
        LAB_KEY: tf.io.FixedLenFeature([], tf.string),
        HEIGHT_KEY: tf.io.FixedLenFeature([], tf.int64),
        WIDTH_KEY: tf.io.FixedLenFeature([], tf.int64),
        ID_KEY: tf.io.FixedLenFeature([], tf.string),
        GREY_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=0),
    }
