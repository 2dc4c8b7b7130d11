"""Decoding, colour-mode normalisation, cropping and grey detection.

Everything here is NumPy + Pillow and pure: the same input gives the same
bytes out, which is what makes shards reproducible and builds resumable.

Choices the issue leaves open, stated once:

- Decoding uses Pillow. JPEGs are decoded with DCT-domain downscaling
  (`Image.draft`) to the smallest power-of-two reduction that still holds
  the crop at full resolution; the final resize is bicubic with Pillow's
  anti-aliasing support, so no detail the output can show is lost.
- Colour modes: RGBA / LA / palette-with-transparency are composited onto
  white (transparent pixels have no defined colour); palette and greyscale
  images are expanded to RGB; CMYK JPEGs go through Pillow's CMYK->RGB
  conversion (no ICC colour management); 16-bit greyscale PNGs are scaled
  by 255/65535 and rounded; 16-bit RGB PNGs are read by Pillow at 8 bits
  (the high byte, an error of at most one 8-bit level). 32-bit integer or
  float images, whose intensity scale is not defined, are skipped.
- Images whose shorter side is below the crop size are skipped (reported as
  too small) unless upscaling is allowed.
- An example is "grey" when the 99th percentile of its chroma
  sqrt(a^2 + b^2) is below `grey_threshold` (2.0 Lab units by default):
  greyscale photos stored as RGB, and JPEG-compressed ones with a little
  chroma noise, fall below it; a mostly grey photo with a small coloured
  object above 1% of the pixels does not.
"""

import hashlib

import numpy as np
from PIL import Image

from data_pipeline.decode import SkipItem, crop_boxes, decode_rgb_image, to_rgb_image  # noqa: F401 (re-exported)


def decode_image(payload, min_side=None, draft_side=None):
    """Decodes an encoded image (path or bytes) to RGB uint8 `(H, W, 3)`.

    Args:
        payload: a path or the encoded bytes.
        min_side: if given, images whose full-resolution shorter side is
            below it are refused as too small.
        draft_side: if given, JPEG decoding may downscale in the DCT domain
            as long as the shorter side stays >= `draft_side`.

    Raises:
        SkipItem: with a reason, for anything that is not a readable image.
    """
    return np.asarray(decode_rgb_image(payload, min_side=min_side, draft_side=draft_side), dtype=np.uint8)


def pil_to_rgb(image):
    """Converts a loaded Pillow image of any common mode to RGB uint8 `(H, W, 3)`."""
    return np.asarray(to_rgb_image(image), dtype=np.uint8)


def rgb_array_to_uint8(array):
    """Normalises an in-memory image array (TFDS, NumPy) to RGB uint8 `(H, W, 3)`."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise SkipItem(f"unsupported image array shape {array.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    if array.dtype == np.uint16:
        array = np.round(array.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise SkipItem(f"unsupported image array dtype {array.dtype}; expected uint8 or uint16")
    if array.shape[-1] == 1:
        return np.repeat(array, 3, axis=-1)
    if array.shape[-1] == 4:
        return pil_to_rgb(Image.fromarray(np.ascontiguousarray(array)))
    return np.ascontiguousarray(array)


def item_rng(seed, item_id):
    """A NumPy generator seeded from (seed, item id) only: crops do not depend on order."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def crop_resize_rgb(rgb, box, image_size):
    """Crops `box` from RGB uint8 and resizes it to `image_size` squared (bicubic, anti-aliased)."""
    left, top, side = box
    if side == image_size:
        return np.ascontiguousarray(rgb[top : top + side, left : left + side])
    image = Image.fromarray(rgb)
    out = image.resize((image_size, image_size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    return np.asarray(out, dtype=np.uint8)


def crop_resize_lab(lab, box, image_size):
    """Crops `box` from float Lab `(H, W, 3)` and resizes each channel in float (bicubic)."""
    left, top, side = box
    window = lab[top : top + side, left : left + side].astype(np.float32)
    if side == image_size:
        return np.ascontiguousarray(window)
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(window[..., c])).resize(
                (image_size, image_size), Image.Resampling.BICUBIC
            )
        )
        for c in range(3)
    ]
    return np.stack(channels, axis=-1).astype(np.float32)


def grey_score(lab):
    """The 99th percentile of chroma sqrt(a^2 + b^2) of a Lab image `(H, W, 3)`."""
    lab = np.asarray(lab, dtype=np.float32)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return float(np.percentile(chroma, 99))


def grey_scores(labs):
    """`grey_score` of each image of a batch `(N, H, W, 3)` in one vectorised call (the same values)."""
    labs = np.asarray(labs, dtype=np.float32)
    chroma = np.hypot(labs[..., 1], labs[..., 2]).reshape(len(labs), -1)
    return [float(score) for score in np.percentile(chroma, 99, axis=1)]
