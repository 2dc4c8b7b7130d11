"""Colorize photographs of any size with a trained model.

`colorize(model, images)` is the one call a user needs: grey or colour
images (colour is turned grey first) of any size go in, full-resolution sRGB
uint8 colourisations come out. The model runs at its own input size; only
the predicted chroma (ab) is upsampled, and it is recombined with the
original full-resolution lightness, so no detail of the input is lost, as in
Zhang et al. (ECCV 2016, section 2.4: "we ... upsample ab and concatenate
with the original L").

Regression models (last output dimension 2) predict ab in Lab units;
classification models (last dimension Q) predict probabilities over the ab
bins, decoded with the annealed mean at `temperature` (Zhang et al. eq. 5,
T = 0.38).
"""

import math

import numpy as np
from keras import ops

from colorization.color import lab_to_rgb_uint8
from colorization.color import merge_lab
from colorization.color import rgb_to_lab

DEFAULT_TEMPERATURE = 0.38
DEFAULT_SIZE_MULTIPLE = 32


# Input checking


def _to_rgb_float(image, index=None):
    """One image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> float32 (H, W, 3) in [0, 1]."""
    where = "" if index is None else f" (image {index})"
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if image.size and (np.nanmin(image) < -1e-3 or np.nanmax(image) > 1.0 + 1e-3):
            raise ValueError(
                f"`colorize` reads float images as sRGB in [0, 1]; received "
                f"values in [{np.nanmin(image):.4g}, {np.nanmax(image):.4g}]{where}. "
                "Pass uint8 (0-255) or divide by 255."
            )
        image = np.clip(np.nan_to_num(image), 0.0, 1.0)
    else:
        raise TypeError(
            f"`colorize` accepts uint8, uint16 or float images; received "
            f"dtype {image.dtype}{where}."
        )
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    elif image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]  # RGBA: the alpha channel carries no colour
    elif not (image.ndim == 3 and image.shape[-1] == 3):
        raise ValueError(
            "`colorize` expects images shaped (H, W), (H, W, 1), (H, W, 3) or "
            f"(H, W, 4); received shape {image.shape}{where}."
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"`colorize` received an empty image of shape {image.shape}{where}.")
    return image


def lightness(image):
    """The CIELAB lightness `(H, W, 1)` in [0, 100] of any accepted image."""
    rgb = _to_rgb_float(image)
    return ops.convert_to_numpy(rgb_to_lab(rgb))[..., :1]


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
            "`colorize` needs a built functional Keras model with one input and "
            f"one output; received {type(model).__name__} ({error})."
        ) from None
    if len(model.inputs) != 1 or len(in_shape) != 4 or in_shape[-1] != 1:
        raise ValueError(
            "Incompatible model: a colorization model takes one input L shaped "
            f"(batch, H, W, 1); this model's inputs are "
            f"{[tuple(x.shape) for x in model.inputs]}."
        )
    if len(model.outputs) != 1 or len(out_shape) != 4:
        raise ValueError(
            "Incompatible model: a colorization model has one output shaped "
            f"(batch, H, W, 2 or Q); this model's outputs are "
            f"{[tuple(x.shape) for x in model.outputs]}."
        )
    num_bins = _quantizer(quantizer).num_bins
    if out_shape[-1] == 2:
        return "regression"
    if out_shape[-1] == num_bins:
        return "classification"
    raise ValueError(
        "Incompatible model: its output's last dimension is "
        f"{out_shape[-1]}; expected 2 (ab, regression) or {num_bins} "
        "(bin probabilities, classification)."
    )


def _quantizer(quantizer):
    if quantizer is None:
        from colorization.quantization import ABQuantizer

        quantizer = ABQuantizer()
    return quantizer


def model_input_size(model, height, width, size_multiple=None):
    """The (H, W) at which `model` runs on an image of `height` x `width`.

    A model with a fixed input size runs at that size. A fully convolutional
    model (None spatial dimensions) runs at the image's size rounded to the
    nearest multiple of `size_multiple` (default: the model's own
    `size_multiple` attribute if it has one, else 32, which satisfies up to
    five stride-2 stages), and at least one multiple.
    """
    in_h, in_w = tuple(model.inputs[0].shape)[1:3]
    if size_multiple is None:
        size_multiple = getattr(model, "size_multiple", None) or DEFAULT_SIZE_MULTIPLE

    def rounded(n):
        return max(size_multiple, int(math.floor(n / size_multiple + 0.5)) * size_multiple)

    return (in_h if in_h is not None else rounded(height), in_w if in_w is not None else rounded(width))


# Prediction


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


def _run(model, x, batch_size):
    outputs = []
    for start in range(0, len(x), batch_size):
        chunk = ops.convert_to_tensor(x[start : start + batch_size], dtype="float32")
        outputs.append(ops.convert_to_numpy(model(chunk, training=False)))
    return np.concatenate(outputs, axis=0)


def _decode(output, kind, temperature, quantizer):
    if kind == "regression":
        return output.astype(np.float32)
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0; received temperature={temperature}.")
    return ops.convert_to_numpy(_quantizer(quantizer).annealed_mean(output, temperature)).astype(np.float32)


def predict_ab(model, L, temperature=DEFAULT_TEMPERATURE, quantizer=None, batch_size=16, size_multiple=None):
    """Predicts ab for a batch of lightness maps, at the maps' own size.

    Args:
        model: a regression or classification colorization model.
        L: float `(B, H, W, 1)` lightness in [0, 100] (all one size).
        temperature: annealed-mean temperature (classification models).
        quantizer: the `ABQuantizer` of a classification model (default: the
            313 standard bins).
        batch_size: images per forward pass.
        size_multiple: rounding for models with None spatial dimensions.

    Returns:
        float32 `(B, H, W, 2)` ab in Lab units.
    """
    kind = check_model(model, quantizer)
    L = np.asarray(L, dtype=np.float32)
    if L.ndim != 4 or L.shape[-1] != 1:
        raise ValueError(f"`predict_ab` expects L shaped (B, H, W, 1); received {L.shape}.")
    height, width = L.shape[1:3]
    size = model_input_size(model, height, width, size_multiple)
    shrink = size[0] < height or size[1] < width
    x = _resize(L, size, antialias=shrink)
    ab = _decode(_run(model, x, batch_size), kind, temperature, quantizer)
    return _resize(ab, (height, width))


def colorize(
    model,
    images,
    temperature=DEFAULT_TEMPERATURE,
    quantizer=None,
    batch_size=16,
    size_multiple=None,
):
    """Colorizes one image or many, at their full resolution.

    Each image is turned into CIELAB lightness L (colour images lose their
    colour first; RGBA loses its alpha). L is resized (bilinear, antialiased
    when shrinking) to the model's input size, the model predicts ab (or
    bin probabilities, decoded with the annealed mean at `temperature`), the
    ab is upsampled bilinearly to the image's own size and recombined with
    the ORIGINAL full-resolution L, then converted to sRGB.

    Args:
        model: a `keras.Model` mapping L `(B, H, W, 1)` in [0, 100] to ab
            `(B, h, w, 2)` (regression) or probabilities `(B, h, w, Q)`
            (classification).
        images: one image or a list of images of any sizes; each is uint8
            (0-255), uint16 or float in [0, 1], shaped (H, W), (H, W, 1),
            (H, W, 3) or (H, W, 4). A 4-D array is a batch of equal-size
            images.
        temperature: annealed-mean temperature (Zhang et al.: 0.38); lower is
            bolder, 1 is the plain mean. Ignored by regression models.
        quantizer: the `ABQuantizer` whose bins the model predicts (default:
            the 313 standard bins).
        batch_size: images per forward pass.
        size_multiple: for models with None spatial dimensions, the multiple
            the run size is rounded to (default: `model.size_multiple` or 32).

    Returns:
        sRGB uint8: one `(H, W, 3)` array for one image, a list for a list,
        a `(N, H, W, 3)` array for a 4-D batch.

    Example:

    >>> import numpy as np, keras
    >>> inputs = keras.Input((8, 8, 1))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    >>> colorize(model, np.zeros((17, 31, 3), np.uint8)).shape
    (17, 31, 3)
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
    lightnesses = [ops.convert_to_numpy(rgb_to_lab(_to_rgb_float(image, None if single else i)))[..., :1] for i, image in enumerate(items)]

    # All images run through the model together at its input size; a fully
    # convolutional model runs each distinct run size as its own group.
    groups = {}
    for i, L in enumerate(lightnesses):
        size = model_input_size(model, L.shape[0], L.shape[1], size_multiple)
        groups.setdefault(size, []).append(i)
    results = [None] * len(items)
    for size, members in groups.items():
        x = np.stack(
            [
                _resize(lightnesses[i][None], size, antialias=lightnesses[i].shape[0] > size[0] or lightnesses[i].shape[1] > size[1])[0]
                for i in members
            ]
        )
        ab = _decode(_run(model, x, batch_size), kind, temperature, quantizer)
        for j, i in enumerate(members):
            L = lightnesses[i]
            ab_full = _resize(ab[j : j + 1], L.shape[:2])[0]
            results[i] = ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab_full)))
    if single:
        return results[0]
    if as_array:
        return np.stack(results)
    return results
