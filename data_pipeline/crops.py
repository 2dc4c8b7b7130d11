"""Decode and crop one source item: the work a shard build's worker processes do.

This module imports only NumPy, Pillow and the pure-Python parts of
`data_pipeline` (never TensorFlow). The worker processes themselves run
`data_pipeline.decode.decode_task`, which needs NumPy only for in-memory
payloads and random crops and returns encoded images' crops as raw bytes;
this module is its NumPy face, with the same pixels. The main process keeps
TensorFlow: it converts the crops to CIELAB, serialises them and writes the
shards (see `data_pipeline.writer`).

A result is `("rgb", [uint8 (size, size, 3), ...])`, `("lab", [float32
(size, size, 3), ...])` (for sources already in Lab) or a
`preprocess.SkipItem` carrying the reason the item cannot be used. It is a
pure function of (item id, payload, settings): crops are seeded per item, so
the process that computes them never changes the bytes.
"""

import numpy as np

from data_pipeline import decode, preprocess
from data_pipeline.sources import LabImage

CropSettings = decode.CropSettings


def crops_of(item_id, payload, settings):
    """All `crops_per_image` crops of one item; raises `SkipItem` with a reason."""
    size = settings.image_size
    min_side = None if settings.allow_upscale else size
    if isinstance(payload, preprocess.SkipItem):
        raise payload
    if decode.is_encoded(payload):
        return "rgb", [np.asarray(crop, dtype=np.uint8) for crop in decode.crop_images(item_id, payload, settings)]
    if isinstance(payload, LabImage):
        kind, image = "lab", np.asarray(payload.lab, dtype=np.float32)
    else:
        kind, image = "rgb", preprocess.rgb_array_to_uint8(payload)
    height, width = image.shape[:2]
    if min_side is not None and min(height, width) < min_side:
        raise preprocess.SkipItem(f"too small: {width}x{height} pixels, shorter side below {min_side}")
    rng = preprocess.item_rng(settings.seed, item_id) if settings.crop != "center" else None
    boxes = preprocess.crop_boxes(
        height, width, size, settings.crops_per_image, settings.crop, settings.crop_scale, rng
    )
    resize = preprocess.crop_resize_lab if kind == "lab" else preprocess.crop_resize_rgb
    return kind, [resize(image, box, size) for box in boxes]


def crops_or_skip(item_id, payload, settings):
    """`crops_of`, with a skipped item returned (as its `SkipItem`) instead of raised."""
    try:
        return crops_of(item_id, payload, settings)
    except preprocess.SkipItem as skip:
        return skip


def crops_or_skip_many(items, settings):
    """`crops_or_skip` for a list of `(item_id, payload)`: one task of a worker process."""
    return [crops_or_skip(item_id, payload, settings) for item_id, payload in items]


imported_modules = decode.imported_modules
exit_with_parent = decode.init_worker
