"""Decode and crop one source item: the work a shard build's worker processes do.

This module imports only NumPy, Pillow and the pure-Python parts of
`data_pipeline` (never TensorFlow), so a worker process started with the
"spawn" context stays small and starts in a fraction of a second. The main
process keeps TensorFlow: it converts the crops to CIELAB, serialises them
and writes the shards (see `data_pipeline.writer`).

A result is `("rgb", [uint8 (size, size, 3), ...])`, `("lab", [float32
(size, size, 3), ...])` (for sources already in Lab) or a
`preprocess.SkipItem` carrying the reason the item cannot be used. It is a
pure function of (item id, payload, settings): crops are seeded per item, so
the process that computes them never changes the bytes.
"""

import collections
import math
import multiprocessing
import os
import sys
import threading

import numpy as np

from data_pipeline import preprocess
from data_pipeline.sources import LabImage

CropSettings = collections.namedtuple(
    "CropSettings", ["image_size", "crops_per_image", "crop", "crop_scale", "allow_upscale", "seed"]
)
CropSettings.__doc__ = "The build settings that decide an item's crops (picklable, sent to the workers)."


def crops_of(item_id, payload, settings):
    """All `crops_per_image` crops of one item; raises `SkipItem` with a reason."""
    size = settings.image_size
    min_side = None if settings.allow_upscale else size
    if isinstance(payload, preprocess.SkipItem):
        raise payload
    if isinstance(payload, LabImage):
        kind, image = "lab", np.asarray(payload.lab, dtype=np.float32)
    elif isinstance(payload, np.ndarray):
        kind, image = "rgb", preprocess.rgb_array_to_uint8(payload)
    else:
        draft = size if settings.crop == "center" else math.ceil(size / settings.crop_scale[0])
        kind, image = "rgb", preprocess.decode_image(payload, min_side=min_side, draft_side=draft)
    height, width = image.shape[:2]
    if min_side is not None and min(height, width) < min_side:
        raise preprocess.SkipItem(f"too small: {width}x{height} pixels, shorter side below {min_side}")
    boxes = preprocess.crop_boxes(
        height, width, size, settings.crops_per_image, settings.crop, settings.crop_scale,
        preprocess.item_rng(settings.seed, item_id),
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


def imported_modules():
    """The names of the modules loaded in this process (tests check workers never load TensorFlow)."""
    return sorted(sys.modules)


def exit_with_parent():
    """Worker initializer: end this process when the build's process dies, even by SIGKILL, instead of lingering."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        parent.join()  # returns when the parent's end of the sentinel pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
