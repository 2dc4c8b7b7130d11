"""Colorize photographs of any size with a trained model (Zhang et al., ECCV 2016, Sec. 2.4).

The model runs at its own input size; its ab is upsampled (bilinear) onto the photo's full L.
Network input (`resize=`): `"bicubic_rgb"`, the authors' demo (`preprocess_img` in
github.com/richzhang/colorization: Pillow's antialiased bicubic RGB resize, then L), default for
their released networks; else `"bilinear_l"`, a bilinear resize of L (antialiased to shrink).
"""

import functools
import math
import weakref

import keras
import numpy as np
from keras import ops

from colorization import color
from colorization.constants import ZHANG_TEMPERATURE
from colorization.quantization import default_quantizer

DEFAULT_SIZE_MULTIPLE = 32
DEFAULT_BATCH_SIZE = 8
# Pixels per call of the compiled Lab -> sRGB conversion: one shape serves photos of every size.
PIXEL_CHUNK = 1 << 16
RESIZE_MODES = ("bicubic_rgb", "bilinear_l")
# Layers that only Zhang et al.'s released architectures have: the fixed ab
# projection of `eccv16(head="release")` and SIGGRAPH17's ab output.
RELEASE_LAYERS = ("class8_ab", "conv10_ab")


# Input checking


def _check_layout(shape, where):
    if not (len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3, 4))):
        raise ValueError(
            "`colorize` expects images shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4). "
            f"Received: shape={shape}{where}"
        )
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"`colorize` received an empty image. Received: shape={shape}{where}")


def _as_rgb(image, index=None):
    """`(H, W)` or `(H, W, 1|3|4)` -> `(H, W, 3)`; uint8 kept, others float32 in [0, 1]."""
    where = "" if index is None else f" (image {index})"
    image = np.asarray(image)
    if image.dtype == np.uint8:
        pass
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if image.size and (np.nanmin(image) < -1e-3 or np.nanmax(image) > 1.0 + 1e-3):
            raise ValueError(
                "`colorize` reads float images as sRGB in [0, 1]; pass uint8 (0-255) or divide by "
                "255. "
                f"Received: values in [{np.nanmin(image):.4g}, {np.nanmax(image):.4g}]{where}"
            )
        image = np.clip(np.nan_to_num(image), 0.0, 1.0)
    else:
        raise TypeError(
            "`colorize` accepts uint8, uint16 or float images. "
            f"Received: dtype={image.dtype}{where}"
        )
    _check_layout(image.shape, where)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


@functools.cache
def _luminance_per_code():
    """`(3, 256)` float32: the relative luminance Y each uint8 code of R, G and B contributes."""
    linear = ops.convert_to_numpy(color.srgb_to_linear(np.arange(256) / 255.0))
    return (color.XYZ_FROM_RGB[1][:, None] * linear[None, :]).astype(np.float32)


def _lightness(rgb):
    """CIELAB L `(H, W, 1)` float32 of an `_as_rgb` image (uint8: Y from a per-code table)."""
    if rgb.dtype == np.uint8:
        table = _luminance_per_code()
        luminance = table[0][rgb[..., 0]] + table[1][rgb[..., 1]] + table[2][rgb[..., 2]]
        lightness = color.luminance_to_lightness(luminance[..., None])
    else:
        lightness = color.rgb_to_lab(rgb)[..., :1]
    return ops.convert_to_numpy(lightness).astype(np.float32)


def lightness(image):
    """The CIELAB lightness `(H, W, 1)` in [0, 100] of any image `colorize` accepts."""
    return _lightness(_as_rgb(image))


def _quantizer(quantizer):
    return default_quantizer() if quantizer is None else quantizer


def check_model(model, quantizer=None):
    """Checks that `model` maps L `(B, H, W, 1)` to ab or bin probabilities.

    Returns:
        `"regression"` or `"classification"`.

    Raises:
        ValueError naming the shapes when the model is not a colorizer.
    """
    try:
        in_shape = tuple(model.inputs[0].shape)
        out_shape = tuple(model.outputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError) as error:
        raise ValueError(
            "`colorize` needs a built functional Keras model with one input and one output. "
            f"Received: model={type(model).__name__} ({error})"
        ) from None
    if len(model.inputs) != 1 or len(in_shape) != 4 or in_shape[-1] != 1:
        raise ValueError(
            "Incompatible model: a colorization model takes one input L shaped (batch, H, W, 1). "
            f"Received: inputs={[tuple(x.shape) for x in model.inputs]}"
        )
    if len(model.outputs) != 1 or len(out_shape) != 4:
        raise ValueError(
            "Incompatible model: a colorization model has one output shaped (batch, H, W, 2 or Q). "
            f"Received: outputs={[tuple(x.shape) for x in model.outputs]}"
        )
    num_bins = _quantizer(quantizer).num_bins
    if out_shape[-1] == 2:
        return "regression"
    if out_shape[-1] == num_bins:
        return "classification"
    raise ValueError(
        f"Incompatible model: its output's last dimension is {out_shape[-1]}; expected 2 (ab, "
        f"regression) or {num_bins} (bin probabilities, classification). "
        f"Received: output shape={out_shape}"
    )


def model_input_size(model, height, width, size_multiple=None):
    """The (H, W) at which `model` runs on an image of `height` x `width`.

    A fixed-size model runs at its input size; a fully convolutional one at the image's size
    rounded to the nearest multiple of `size_multiple` (default `model.size_multiple`, else 32).
    """
    in_h, in_w = tuple(model.inputs[0].shape)[1:3]
    if size_multiple is None:
        size_multiple = getattr(model, "size_multiple", None) or DEFAULT_SIZE_MULTIPLE

    def rounded(n):
        return max(size_multiple, int(math.floor(n / size_multiple + 0.5)) * size_multiple)

    return (
        in_h if in_h is not None else rounded(height),
        in_w if in_w is not None else rounded(width),
    )


# Prediction


def default_resize(model):
    """The default `resize`: `"bicubic_rgb"` for Zhang et al.'s releases, else `"bilinear_l"`."""
    names = {layer.name for layer in getattr(model, "layers", ())}
    return "bicubic_rgb" if names.intersection(RELEASE_LAYERS) else "bilinear_l"


def _resize_mode(model, resize):
    if resize is None:
        return default_resize(model)
    if resize not in RESIZE_MODES:
        raise ValueError(
            f"`resize` must be one of {RESIZE_MODES} or None. Received: resize={resize!r}"
        )
    return resize


def _resize(x, size, antialias=False):
    """Bilinear resize of a float32 (B, H, W, C) array; a no-op at the same size."""
    if tuple(x.shape[1:3]) == tuple(size):
        return np.asarray(x, dtype=np.float32)
    out = ops.image.resize(
        ops.convert_to_tensor(x, dtype="float32"),
        size,
        interpolation="bilinear",
        antialias=antialias,
        data_format="channels_last",
    )
    return ops.convert_to_numpy(out).astype(np.float32)


def _resize_rgb_bicubic(rgb, size):
    """Pillow's antialiased bicubic resize to `size` (H, W), as the authors'; floats per channel."""
    from PIL import Image

    height, width = size
    if rgb.shape[:2] == (height, width):
        return rgb
    if rgb.dtype == np.uint8:
        return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(rgb[..., c])).resize(
                (width, height), Image.Resampling.BICUBIC
            )
        )
        for c in range(3)
    ]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


def _network_input(rgb, size, resize, full_lightness=None):
    """The model's input L `(h, w, 1)` for one photo, prepared as `resize` says."""
    if full_lightness is not None and full_lightness.shape[:2] == tuple(size):
        return full_lightness
    if resize == "bicubic_rgb":
        return _lightness(_resize_rgb_bicubic(rgb, size))
    L = _lightness(rgb) if full_lightness is None else full_lightness
    shrink = size[0] < L.shape[0] or size[1] < L.shape[1]
    return _resize(L[None], size, antialias=shrink)[0]


# The input size each fully convolutional model's predict function was made for (TensorFlow).
_PREDICT_SIZES = weakref.WeakKeyDictionary()


def _predict(model, x):
    """`model.predict_on_batch(x)`, with a new predict function per input size on TensorFlow."""
    # A TensorFlow retrace at unknown sizes cannot trace bilinear `UpSampling2D`.
    if keras.backend.backend() == "tensorflow" and None in tuple(model.inputs[0].shape)[1:3]:
        size = tuple(x.shape[1:3])
        if _PREDICT_SIZES.get(model) != size:
            model.make_predict_function(force=True)
            _PREDICT_SIZES[model] = size
    return np.asarray(model.predict_on_batch(x))


def _checked_batch_size(batch_size):
    if not batch_size >= 1 or int(batch_size) != batch_size:
        raise ValueError(
            f"`batch_size` must be a positive integer. Received: batch_size={batch_size}"
        )
    return int(batch_size)


def _predict_decoded(model, x, kind, temperature, quantizer, batch_size):
    """ab `(B, h, w, 2)` of the model's input `x`, decoded `batch_size` maps at a time."""
    outputs = []
    for start in range(0, len(x), batch_size):
        output = _predict(
            model, np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32)
        )
        if kind == "classification":
            output = ops.convert_to_numpy(_quantizer(quantizer).annealed_mean(output, temperature))
        outputs.append(output.astype(np.float32))
    return np.concatenate(outputs)


@functools.cache
def _compiled_lab_to_rgb_uint8():
    """`color.lab_to_rgb_uint8` compiled by XLA on TensorFlow and JAX (as is on torch)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(color.lab_to_rgb_uint8, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(color.lab_to_rgb_uint8)
    return color.lab_to_rgb_uint8


def _to_rgb_uint8(L, ab):
    """sRGB uint8 `(H, W, 3)` of L `(H, W, 1)` and ab `(H, W, 2)`, `PIXEL_CHUNK` pixels a call."""
    lab = np.concatenate([L, ab], axis=-1, dtype=np.float32).reshape(-1, 3)
    count = len(lab)
    lab = np.pad(lab, ((0, -count % PIXEL_CHUNK), (0, 0)))
    convert = _compiled_lab_to_rgb_uint8()
    chunks = [ops.convert_to_numpy(convert(chunk)) for chunk in lab.reshape(-1, PIXEL_CHUNK, 3)]
    return np.concatenate(chunks)[:count].reshape(L.shape[:2] + (3,))


def _check_temperature(kind, temperature):
    if kind == "classification" and not temperature > 0:
        raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature}")


def predict_ab(
    model,
    L,
    temperature=ZHANG_TEMPERATURE,
    quantizer=None,
    batch_size=DEFAULT_BATCH_SIZE,
    size_multiple=None,
):
    """Predicts ab for a batch of lightness maps at their own size, resizing L and ab bilinearly.

    Args:
        model: a regression or classification colorization model.
        L: float `(B, H, W, 1)` lightness in [0, 100] (all one size).
        temperature, quantizer, batch_size, size_multiple: as for `colorize`.

    Returns:
        float32 `(B, H, W, 2)` ab in Lab units.

    Example:
    >>> inputs = keras.Input((8, 8, 1))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    >>> predict_ab(model, np.full((3, 20, 20, 1), 50.0)).shape
    (3, 20, 20, 2)
    """
    kind = check_model(model, quantizer)
    _check_temperature(kind, temperature)
    batch_size = _checked_batch_size(batch_size)
    L = np.asarray(L, dtype=np.float32)
    if L.ndim != 4 or L.shape[-1] != 1:
        raise ValueError(f"`predict_ab` expects L shaped (B, H, W, 1). Received: L.shape={L.shape}")
    height, width = L.shape[1:3]
    size = model_input_size(model, height, width, size_multiple)
    x = _resize(L, size, antialias=size[0] < height or size[1] < width)
    return _resize(
        _predict_decoded(model, x, kind, temperature, quantizer, batch_size), (height, width)
    )


def colorize(
    model,
    images,
    temperature=ZHANG_TEMPERATURE,
    quantizer=None,
    batch_size=DEFAULT_BATCH_SIZE,
    size_multiple=None,
    resize=None,
):
    """Colorizes one image or many at full resolution, from their lightness alone.

    Args:
        model: a `keras.Model` mapping L `(B, H, W, 1)` in [0, 100] to ab `(B, h, w, 2)` or
            probabilities `(B, h, w, Q)` (decoded with the annealed mean, Sec. 2.3).
        images: one image or a list of any sizes, uint8, uint16 or float in [0, 1], shaped
            (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); a 4-D array is a batch.
        temperature: annealed-mean temperature (Zhang et al.: 0.38; lower is bolder).
        quantizer: `ABQuantizer` whose bins the model predicts (default: the 313 bins).
        batch_size: images per forward pass (images of one network input size run together).
        size_multiple: see `model_input_size`.
        resize: `"bicubic_rgb"`, `"bilinear_l"` (module docstring) or None: `default_resize`.

    Returns:
        sRGB uint8: `(H, W, 3)` for one image, a list for a list, `(N, H, W, 3)` for a batch.

    Example:
    >>> inputs = keras.Input((8, 8, 1))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    >>> colorize(model, np.zeros((17, 31, 3), np.uint8)).shape
    (17, 31, 3)
    >>> images = [np.zeros((5, 7), np.uint8), np.zeros((9, 4, 3), np.uint8)]
    >>> [rgb.shape for rgb in colorize(model, images)]
    [(5, 7, 3), (9, 4, 3)]
    """
    if isinstance(images, (list, tuple)):
        single, as_array, items = False, False, list(images)
    else:
        array = np.asarray(images)
        if array.ndim == 4:
            single, as_array, items = False, True, list(array)
        else:
            single, as_array, items = True, False, [array]
    if not items:
        return np.zeros((0, 0, 0, 3), np.uint8) if as_array else []
    kind = check_model(model, quantizer)
    _check_temperature(kind, temperature)
    batch_size = _checked_batch_size(batch_size)
    resize = _resize_mode(model, resize)
    photos = [_as_rgb(image, None if single else i) for i, image in enumerate(items)]

    # Group the photos by the size the model runs them at.
    groups = {}
    full_lightness = {}
    for i, rgb in enumerate(photos):
        size = model_input_size(model, rgb.shape[0], rgb.shape[1], size_multiple)
        if resize == "bilinear_l" or rgb.shape[:2] == size:
            full_lightness[i] = _lightness(rgb)
        groups.setdefault(size, []).append(i)
    results = [None] * len(items)
    for size, members in groups.items():
        x = np.stack(
            [_network_input(photos[i], size, resize, full_lightness.get(i)) for i in members]
        )
        ab = _predict_decoded(model, x, kind, temperature, quantizer, batch_size)
        for j, i in enumerate(members):
            L = full_lightness.pop(i) if i in full_lightness else _lightness(photos[i])
            results[i] = _to_rgb_uint8(L, _resize(ab[j : j + 1], L.shape[:2])[0])
            photos[i] = None  # the memory of a done photo goes as soon as it can
    if single:
        return results[0]
    if as_array:
        return np.stack(results)
    return results
