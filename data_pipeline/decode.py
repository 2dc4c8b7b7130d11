"""Decoding and cropping with Pillow alone: what a shard build's worker processes run.

This module imports only the standard library and Pillow -- not NumPy, not
TensorFlow -- so a worker process starts in a fraction of the time (NumPy
alone is most of a worker's start-up). NumPy is imported on the few paths
that need it: random crops (`preprocess.item_rng`), 16-bit greyscale images,
and in-memory payloads (arrays and `LabImage`s, which arrive as NumPy
arrays anyway; `data_pipeline.crops` handles them).

`data_pipeline.preprocess` and `data_pipeline.crops` build on these
functions, so an image decoded here and one decoded there have the same
pixels: the worker sends a crop's raw RGB bytes, which are exactly
`np.asarray(crop).tobytes()` of the array the NumPy path returns.
"""

import collections
import io
import math
import multiprocessing
import os
import pathlib
import threading

from PIL import Image, UnidentifiedImageError

Image.preinit()  # the common formats' plugins, imported once (in the fork server) rather than by every worker

_WHITE = (255, 255, 255)

CropSettings = collections.namedtuple(
    "CropSettings", ["image_size", "crops_per_image", "crop", "crop_scale", "allow_upscale", "seed"]
)
CropSettings.__doc__ = (
    "The build settings that decide an item's crops (picklable, sent to the workers; defined here so that "
    "unpickling them needs no NumPy)."
)


class SkipItem(Exception):
    """Raised for one source item that cannot become an example; the build goes on."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _open(payload):
    if isinstance(payload, (str, pathlib.Path)):
        return Image.open(payload)
    if isinstance(payload, (bytes, bytearray)):
        return Image.open(io.BytesIO(payload))
    raise TypeError(f"cannot decode payload of type {type(payload).__name__}")


def is_encoded(payload):
    """Whether `payload` is an encoded image (a path or bytes) that `decode_rgb_image` reads."""
    return isinstance(payload, (str, pathlib.Path, bytes, bytearray))


def decode_rgb_image(payload, min_side=None, draft_side=None):
    """Decodes an encoded image (path or bytes) to a loaded Pillow image of mode "RGB".

    See `preprocess.decode_image` (the same, as a NumPy array) for the arguments.

    Raises:
        SkipItem: with a reason, for anything that is not a readable image.
    """
    try:
        image = _open(payload)
    except UnidentifiedImageError:
        raise SkipItem("not an image: the decoder does not recognise the file format") from None
    except (OSError, ValueError) as error:
        raise SkipItem(f"unreadable file: {error}") from None
    with image:
        width, height = image.size
        if min_side is not None and min(width, height) < min_side:
            raise SkipItem(f"too small: {width}x{height} pixels, shorter side below {min_side}")
        if draft_side is not None and image.format == "JPEG" and image.mode in ("RGB", "L", "CMYK", "YCbCr"):
            scale = draft_side / min(width, height)
            image.draft(image.mode, (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
        try:
            image.load()
        except (OSError, ValueError, SyntaxError) as error:
            raise SkipItem(f"corrupt or truncated image data: {error}") from None
        return to_rgb_image(image)  # leaving the `with` closes the file only; the pixels stay loaded


def to_rgb_image(image):
    """A loaded Pillow image of any common mode as a Pillow image of mode "RGB" (the image itself when RGB).

    The colour-mode rules of `data_pipeline.preprocess` (its module docstring).
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
        if mode == "RGB":
            return image
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("L", "1"):
        return image.convert("L").convert("RGB")
    if mode.startswith("I;16"):
        import numpy as np

        grey16 = np.asarray(image).astype(np.float64)
        grey8 = np.round(grey16 * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(np.repeat(grey8[..., None], 3, axis=-1))
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    raise SkipItem(f"unsupported pixel mode {mode!r}: its intensity scale is not defined")


def crop_boxes(height, width, image_size, num_crops, mode, scale_range, rng):
    """Square crop windows `(left, top, side)` in an image of the given size.

    `mode="center"`: the largest centred square (the photo resized so its
    shorter side is `image_size`, then centre-cropped); `rng` is not used
    and may be None. `mode="random"`: a square of side `u * min(height,
    width)` with `u` uniform in `scale_range`, never below `image_size` (so
    nothing is upsampled), at a uniform random position, drawn from `rng`
    (a NumPy generator). Crop k of an item is always the k-th draw.
    """
    short = min(height, width)
    boxes = []
    for _ in range(num_crops):
        if mode == "center":
            side = short
            left, top = (width - side) // 2, (height - side) // 2
        elif mode == "random":
            low, high = scale_range
            side = int(round(short * rng.uniform(low, high)))
            side = int(min(short, max(side, min(image_size, short))))
            left = int(rng.integers(0, width - side + 1))
            top = int(rng.integers(0, height - side + 1))
        else:
            raise ValueError(f"crop must be 'center' or 'random'; received crop={mode!r}")
        boxes.append((left, top, side))
    return boxes


def crop_resize_image(image, box, image_size):
    """Crops `box` from an RGB Pillow image and resizes it to `image_size` squared (bicubic, anti-aliased)."""
    left, top, side = box
    if side == image_size:
        return image.crop((left, top, left + side, top + side))
    return image.resize((image_size, image_size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))


def crop_images(item_id, payload, settings):
    """The `crops_per_image` RGB Pillow crops of an encoded image; raises `SkipItem` with a reason.

    `settings` is a `CropSettings`. The same crops as `crops.crops_of`.
    """
    size = settings.image_size
    min_side = None if settings.allow_upscale else size
    draft = size if settings.crop == "center" else math.ceil(size / settings.crop_scale[0])
    image = decode_rgb_image(payload, min_side=min_side, draft_side=draft)
    width, height = image.size
    if min_side is not None and min(height, width) < min_side:
        raise SkipItem(f"too small: {width}x{height} pixels, shorter side below {min_side}")
    rng = None
    if settings.crop != "center":
        from data_pipeline.preprocess import item_rng

        rng = item_rng(settings.seed, item_id)
    boxes = crop_boxes(height, width, size, settings.crops_per_image, settings.crop, settings.crop_scale, rng)
    return [crop_resize_image(image, box, size) for box in boxes]


def decode_task(items, settings):
    """One task of a worker process: the crops of a list of `(item_id, payload)`, compactly.

    For each item: a `SkipItem`, or `("rgb", [bytes, ...])` -- each crop's
    pixels as raw RGB uint8 bytes, row-major `(size, size, 3)` -- or, for
    in-memory payloads, what `crops.crops_or_skip` returns.
    """
    results = []
    for item_id, payload in items:
        if isinstance(payload, SkipItem):
            results.append(payload)
        elif is_encoded(payload):
            try:
                results.append(("rgb", [crop.tobytes() for crop in crop_images(item_id, payload, settings)]))
            except SkipItem as skip:
                results.append(skip)
        else:
            from data_pipeline import crops

            results.append(crops.crops_or_skip(item_id, payload, settings))
    return results


def imported_modules():
    """The names of the modules loaded in this process (tests check workers never load TensorFlow)."""
    import sys

    return sorted(sys.modules)


def init_worker(started=None):
    """Worker initializer: end this process when the build's process dies, even by SIGKILL, instead of lingering.

    `started`, a `multiprocessing.Barrier` for all the pool's workers, holds
    each one here until every worker has started (see `writer.decode_pool`).
    """
    if started is not None:
        started.wait(timeout=300)
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        parent.join()  # returns when the parent's end of the sentinel pipe closes
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
