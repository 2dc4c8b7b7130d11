"""One source item -> its examples: decode, crop, resize, CIELAB, grey test.

`item_examples` is the whole per-item work of a build, a pure function of (item id, payload,
settings), so the bytes do not depend on where it ran. It never imports TensorFlow, so worker
processes start quickly.

Choices the reports leave open, stated once:

- Decoding uses Pillow; a JPEG is decoded with DCT-domain downscaling
  (`Image.draft`) to the smallest reduction that still holds the crop at
  full resolution. Resizing is bicubic with Pillow's anti-aliasing.
- Colour modes: transparency is composited onto white; palette and
  greyscale images become RGB; CMYK goes through Pillow's conversion (no ICC
  management); 16-bit greyscale is scaled by 255/65535 and rounded; 16-bit
  RGB PNGs are read by Pillow at 8 bits. 32-bit integer or float images,
  whose intensity scale is not defined, are skipped.
- An image whose shorter side is below the crop size is skipped as too small
  unless `allow_upscale`.
- CIELAB (D65) is `skimage.color.rgb2lab`, stored as float16 in a
  serialized `tf.train.Example` (`features`).
- An example is grey when the 99th percentile of its chroma sqrt(a^2 + b^2) is below
  `grey_threshold` (2 Lab units): greyscale photos stored as RGB, JPEG chroma noise
  included, are grey; one with a coloured object over 1% of its pixels is not.
"""

import collections
import dataclasses
import hashlib
import io
import math
import pathlib

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError
from skimage.color import rgb2lab

from data_pipeline import features
from data_pipeline.sources import LabImage
from data_pipeline.sources import SkipItem

Example = collections.namedtuple("Example", ["id", "record", "grey"])
Example.__doc__ = "A kept example: its id, its serialized `tf.train.Example`, and its grey flag."
Skipped = collections.namedtuple("Skipped", ["id", "reason", "examples"])
Skipped.__doc__ = (
    "A skipped input (an item, or one crop of it), the reason, and how many examples it stood for."
)


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """The settings that determine a build's bytes (all recorded in the manifest).

    Args:
        image_size: side of the square examples.
        examples_per_shard: examples in every shard but the last; 128, as report 000
            (section 4.3).
        crops_per_image: examples cut from each source item.
        crop: "center" (the largest centred square) or "random" (random scale and position);
            default "center" for one crop per item, else "random".
        crop_scale: `(low, high)` fraction of the shorter side a random crop spans (at least
            `image_size` pixels).
        grey: greyscale examples are "skip"ped, "flag"ged (kept, `grey=1`) or "keep"t.
        grey_threshold: 99th-percentile chroma (Lab units) below which an example is grey.
        allow_upscale: upscale items smaller than `image_size` instead of skipping them.
        compression: None or "GZIP".
        seed: seeds the random crops, per item, so the order never matters.

    Example:

    >>> BuildConfig(image_size=32, crops_per_image=4).crop
    'random'
    """

    image_size: int = 64
    examples_per_shard: int = 128
    crops_per_image: int = 1
    crop: str = None
    crop_scale: tuple = (0.25, 1.0)
    grey: str = "skip"
    grey_threshold: float = 2.0
    allow_upscale: bool = False
    compression: str = None
    seed: int = 0

    def __post_init__(self):
        def check(ok, name, expected):
            if not ok:
                raise ValueError(
                    f"`{name}` must be {expected}. Received: {name}={getattr(self, name)!r}"
                )

        check(int(self.image_size) >= 1, "image_size", "a positive integer")
        check(int(self.examples_per_shard) >= 1, "examples_per_shard", "at least 1")
        check(int(self.crops_per_image) >= 1, "crops_per_image", "at least 1")
        crop = self.crop or ("center" if int(self.crops_per_image) == 1 else "random")
        object.__setattr__(self, "crop", crop)
        check(crop in ("center", "random"), "crop", "'center' or 'random'")
        check(
            len(self.crop_scale) == 2 and 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
            "crop_scale",
            "(low, high) with 0 < low <= high <= 1",
        )
        check(self.grey in ("skip", "flag", "keep"), "grey", "'skip', 'flag' or 'keep'")
        compression = (
            self.compression.upper() if isinstance(self.compression, str) else self.compression
        )
        object.__setattr__(self, "compression", compression)
        check(compression in (None, "GZIP"), "compression", "None or 'GZIP'")
        for name, kind in [
            ("image_size", int),
            ("examples_per_shard", int),
            ("crops_per_image", int),
            ("grey_threshold", float),
            ("allow_upscale", bool),
            ("seed", int),
        ]:
            object.__setattr__(self, name, kind(getattr(self, name)))
        object.__setattr__(self, "crop_scale", tuple(float(x) for x in self.crop_scale))

    def to_json(self):
        return dict(dataclasses.asdict(self), crop_scale=list(self.crop_scale))


def item_examples(item_id, payload, config):
    """The examples of one source item: decoded, cropped, resized, in CIELAB, grey-tested.

    Args:
        item_id: the item's stable id; crop k of an item with several is
            `"{item_id}#{k}"`.
        payload: what the source yields: a path or encoded bytes, an RGB
            array, a `sources.LabImage`, or a `sources.SkipItem`.
        config: the `BuildConfig`.

    Returns:
        A list: one `Skipped` for an item that cannot be used (standing for
        all its crops), else one `Example` or `Skipped` (grey) per crop.

    Example:

    >>> import numpy as np
    >>> rgb = np.full((40, 60, 3), (200, 30, 30), np.uint8)
    >>> [example] = item_examples("red", rgb, BuildConfig(image_size=16))
    >>> example.id, len(example.record) > 16 * 16 * 3 * 2
    ('red', True)
    >>> item_examples("tiny", rgb[:8], BuildConfig(image_size=16))[0].reason
    'too small: 60x8 pixels, shorter side below 16'
    """
    size, count = config.image_size, config.crops_per_image
    try:
        image, full_size = _load(
            payload, size if config.crop == "center" else math.ceil(size / config.crop_scale[0])
        )
        width, height = full_size
        if not config.allow_upscale and min(width, height) < size:
            raise SkipItem(f"too small: {width}x{height} pixels, shorter side below {size}")
    except SkipItem as skip:
        return [Skipped(item_id, skip.reason, count)]
    if isinstance(image, Image.Image):
        width, height = image.size
    else:
        height, width = image.shape[:2]
    rng = None
    if config.crop == "random":
        digest = hashlib.sha256(f"{config.seed}:{item_id}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    out = []
    for k in range(count):
        box = _crop_box(width, height, size, config, rng)
        if isinstance(image, Image.Image):
            lab = rgb2lab(np.asarray(_crop_resize(image, box, size), np.float32) / np.float32(255))
        else:
            channels = [
                _crop_resize(Image.fromarray(np.ascontiguousarray(image[..., c])), box, size)
                for c in range(3)
            ]
            lab = np.stack([np.asarray(channel) for channel in channels], -1)
        example_id = item_id if count == 1 else f"{item_id}#{k}"
        grey = False
        if config.grey != "keep":
            threshold = config.grey_threshold
            coloured = (
                np.count_nonzero(lab[..., 1] ** 2 + lab[..., 2] ** 2 >= threshold**2)
                / lab[..., 0].size
            )
            grey = coloured < 0.01
            if grey and config.grey == "skip":
                reason = f"greyscale: {coloured:.2%} of the pixels with chroma >= {threshold}"
                out.append(Skipped(example_id, reason, 1))
                continue
        lab_bytes = lab.astype(features.STORAGE_DTYPE).tobytes()
        out.append(
            Example(
                example_id, features.encode_lab_bytes(lab_bytes, size, size, example_id, grey), grey
            )
        )
    return out


def items_examples(items, config):
    """`item_examples` of each `(item_id, payload)` of a list: one task of a worker process."""
    return [item_examples(item_id, payload, config) for item_id, payload in items]


def _load(payload, draft_side):
    """The item as an RGB Pillow image or a float32 Lab array `(H, W, 3)`, and its full size."""
    if isinstance(payload, SkipItem):
        raise payload
    if isinstance(payload, LabImage):
        lab = np.asarray(payload.lab, np.float32)
        return lab, (lab.shape[1], lab.shape[0])
    if isinstance(payload, (str, pathlib.Path, bytes, bytearray)):
        try:
            image = Image.open(
                io.BytesIO(payload) if isinstance(payload, (bytes, bytearray)) else payload
            )
        except UnidentifiedImageError:
            raise SkipItem("not an image: the decoder does not recognise the file format") from None
        except (OSError, ValueError) as error:
            raise SkipItem(f"unreadable file: {error}") from None
        with image:
            full_size = image.size
            if image.format == "JPEG" and image.mode in ("RGB", "L", "CMYK", "YCbCr"):
                image.draft(image.mode, (draft_side, draft_side))  # both sides stay >= draft_side
            try:
                image.load()
            except (OSError, ValueError, SyntaxError) as error:
                raise SkipItem(f"corrupt or truncated image data: {error}") from None
            return _to_rgb(image), full_size
    array = np.asarray(payload)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise SkipItem(
            f"unsupported image array shape {array.shape}; "
            "expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
        )
    if array.dtype == np.uint16:
        array = np.round(array * (255.0 / 65535.0)).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise SkipItem(f"unsupported image array dtype {array.dtype}; expected uint8 or uint16")
    image = Image.fromarray(np.ascontiguousarray(array[..., 0] if array.shape[-1] == 1 else array))
    return _to_rgb(image), image.size


def _to_rgb(image):
    """A loaded Pillow image of any common mode as mode "RGB", per the colour-mode rules above."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image.convert("RGBA")).convert("RGB")
    if mode in ("L", "1"):
        return image.convert("L").convert("RGB")
    if mode.startswith("I;16"):
        grey = np.round(np.asarray(image, np.float64) * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    raise SkipItem(f"unsupported pixel mode {mode!r}: its intensity scale is not defined")


def _crop_box(width, height, size, config, rng):
    """A square `(left, top, side)`: the centred largest one, or a random one drawn from `rng`."""
    short = min(width, height)
    if config.crop == "center":
        return (width - short) // 2, (height - short) // 2, short
    low, high = config.crop_scale
    side = int(min(short, max(int(round(short * rng.uniform(low, high))), min(size, short))))
    return int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1)), side


def _crop_resize(image, box, size):
    left, top, side = box
    if side == size:
        return image.crop((left, top, left + side, top + side))
    return image.resize(
        (size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side)
    )
