"""Colorize photographs of any size with a trained model.

`colorize(model, images)` is the one call a user needs: grey or colour
images (colour is turned grey first) of any size go in, full-resolution sRGB
uint8 colourisations come out. The model runs at its own input size; only
the predicted chroma (ab) is upsampled, and it is recombined with the
original full-resolution lightness, so no detail of the input is lost, as in
Zhang et al. (ECCV 2016, section 2.4: "we ... upsample ab and concatenate
with the original L").

How the network's input is made is explicit (`resize=`):

- `"bicubic_rgb"`, the authors' demo procedure (`preprocess_img` in
  `colorizers/util.py`, github.com/richzhang/colorization): the uint8 RGB
  photo is resized to the network size with Pillow's antialiased bicubic
  filter, then turned into L. The default for Zhang et al.'s released
  architectures (`eccv16(head="release")`, `siggraph17`), so that converted
  release weights give the release's pictures.
- `"bilinear_l"`: the photo's full-resolution L is resized bilinearly
  (antialiased when shrinking). The default for the other models, trained
  on L prepared that way by `data_pipeline`.

Either way the predicted ab is upsampled bilinearly (half-pixel centres, as
`torch.nn.functional.interpolate(..., mode="bilinear")`) to the photo's size.

Speed: the model runs through Keras' compiled predict function
(`model.make_predict_function`: a `tf.function` graph on TensorFlow, with
XLA where the model asks for it (`jit_compile`; Keras' "auto" leaves it off on
CPU-only machines, where oneDNN's convolutions are the faster ones),
`jax.jit` on JAX), one per input shape, kept for every later batch of that
shape; photos that share the network input size go through it together,
`batch_size` at a time. Host-side steps
(validation, Pillow's resize, the lightness of uint8 photos by table
lookup) use NumPy.

Regression models (last output dimension 2) predict ab in Lab units;
classification models (last dimension Q) predict probabilities over the ab
bins, decoded with the annealed mean at `temperature` (Zhang et al. eq. 5,
T = 0.38).
"""

import math

import numpy as np
from keras import ops

from colorization import color
from colorization.color import lab_to_rgb_uint8
from colorization.color import rgb_to_lab

DEFAULT_TEMPERATURE = 0.38
DEFAULT_SIZE_MULTIPLE = 32
DEFAULT_BATCH_SIZE = 8
# Pixels per call of the compiled Lab -> sRGB conversion (a 1024x768 photo takes 6 calls).
PIXEL_CHUNK = 1 << 17
RESIZE_MODES = ("bicubic_rgb", "bilinear_l")
# Layers that only Zhang et al.'s released architectures have: the fixed ab
# projection of `eccv16(head="release")` and SIGGRAPH17's ab output.
RELEASE_LAYERS = ("class8_ab", "conv10_ab")


# Input checking


def _check_layout(shape, where):
    if not (len(shape) == 2 or (len(shape) == 3 and shape[-1] in (1, 3, 4))):
        raise ValueError(
            "`colorize` expects images shaped (H, W), (H, W, 1), (H, W, 3) or "
            f"(H, W, 4); received shape {shape}{where}."
        )
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"`colorize` received an empty image of shape {shape}{where}.")


def _as_rgb(image, index=None):
    """One image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) -> (H, W, 3).

    uint8 stays uint8 (the authors' procedure reads photos so); uint16 and
    float in [0, 1] become float32 in [0, 1]. RGBA loses its alpha, grey is
    repeated into three channels.
    """
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
    _check_layout(image.shape, where)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _linear_luminance_table():
    """Y (CIE XYZ, white Y = 1) contributed by each uint8 code of R, G and B: `(3, 256)` float32."""
    linear = color._LINEAR_FROM_UINT8.astype(np.float64)  # the table `rgb_to_lab` uses for uint8
    weights = color.XYZ_FROM_RGB[1] / color.D65_WHITE[1]
    return (weights[:, None] * linear[None, :]).astype(np.float32)


_LUMINANCE_TABLE = _linear_luminance_table()


def _lightness(rgb):
    """CIELAB L `(H, W, 1)` float32 of an `_as_rgb` image.

    For uint8 a table gives each channel's linear contribution to Y (L
    depends on Y alone), then L = 116 f(Y) - 16 with `color.rgb_to_lab`'s
    constants: the same L to float32 rounding at a fraction of the cost on
    full-resolution photos. Float images go through `color.rgb_to_lab`.
    """
    if rgb.dtype != np.uint8:
        return ops.convert_to_numpy(rgb_to_lab(rgb))[..., :1].astype(np.float32)
    y = _LUMINANCE_TABLE[0][rgb[..., 0]]
    y += _LUMINANCE_TABLE[1][rgb[..., 1]]
    y += _LUMINANCE_TABLE[2][rgb[..., 2]]
    f = np.where(
        y > color._LAB_EPSILON,
        np.cbrt(np.maximum(y, np.float32(color._LAB_EPSILON))),
        np.float32(color._LAB_KAPPA_SLOPE) * y + np.float32(color._LAB_OFFSET),
    )
    return (np.float32(116.0) * f - np.float32(16.0)).astype(np.float32)[..., None]


def lightness(image):
    """The CIELAB lightness `(H, W, 1)` in [0, 100] of any accepted image."""
    return _lightness(_as_rgb(image))


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
    if quantizer is not None:
        return quantizer
    # Built once: its candidate table takes ~70 ms, which every call would otherwise pay.
    if not _DEFAULT_QUANTIZER:
        from colorization.quantization import ABQuantizer

        _DEFAULT_QUANTIZER.append(ABQuantizer())
    return _DEFAULT_QUANTIZER[0]


_DEFAULT_QUANTIZER = []


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


def default_resize(model):
    """The `resize` mode `colorize` uses for `model` when none is given.

    `"bicubic_rgb"` (the authors' demo procedure) for Zhang et al.'s released
    architectures, recognised by a layer only they have (`class8_ab`, the ab
    projection of `eccv16(head="release")`; `conv10_ab`, SIGGRAPH17's ab
    output), whether their weights were converted by
    `colorization.weights` or trained here; `"bilinear_l"` for every other
    model.
    """
    names = {layer.name for layer in getattr(model, "layers", ())}
    return "bicubic_rgb" if names.intersection(RELEASE_LAYERS) else "bilinear_l"


def _resize_mode(model, resize):
    if resize is None:
        return default_resize(model)
    if resize not in RESIZE_MODES:
        raise ValueError(f"`resize` must be one of {RESIZE_MODES} or None; received resize={resize!r}.")
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
    """Pillow's antialiased bicubic resize of an `_as_rgb` image to `size` (H, W), as the authors' demo does.

    uint8 goes through Pillow's RGB path exactly as `Image.fromarray(rgb).resize(..., BICUBIC)`;
    float images are resized channel by channel in float32 (no rounding), then clipped to [0, 1].
    """
    from PIL import Image

    height, width = size
    if rgb.shape[:2] == (height, width):
        return rgb
    if rgb.dtype == np.uint8:
        return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., c])).resize((width, height), Image.Resampling.BICUBIC))
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


def _predict_functions(model):
    """`{(shape, dtype): predict function}` of `model`, kept on the model so that it goes with it."""
    # Through __dict__: Keras' attribute tracking has nothing to track here.
    return model.__dict__.setdefault("_colorize_predict_functions", {})


def _predict(model, x):
    """`model.predict_on_batch(x)` through a predict function compiled for `x`'s shape alone, cached.

    Keras keeps one predict function per model and, on TensorFlow, retraces
    it with unknown sizes once a second shape comes (`reduce_retracing`),
    which some layers cannot trace (bilinear `UpSampling2D` with None
    sizes). One function per shape, each traced at its concrete shape, is
    also the fastest: each shape is traced (and compiled by XLA / `jax.jit`) once.
    """
    functions = _predict_functions(model)
    key = (x.shape, str(x.dtype))
    original = model.predict_function
    try:
        if key not in functions:
            model.predict_function = None
            model.make_predict_function()  # sets `predict_function` (the TensorFlow trainer returns None)
            functions[key] = model.predict_function
        model.predict_function = functions[key]
        return np.asarray(model.predict_on_batch(x))
    finally:
        model.predict_function = original


def _checked_batch_size(batch_size):
    if not batch_size >= 1 or int(batch_size) != batch_size:
        raise ValueError(f"`batch_size` must be a positive integer; received batch_size={batch_size}.")
    return int(batch_size)


def _run(model, x, batch_size):
    """The model's output for `x`, `batch_size` at a time, each shape through its own compiled function.

    Keras' predict function compiles `model(x, training=False)` (a graph on
    TensorFlow, `jax.jit` on JAX; eager on torch); see `_predict`.
    """
    batch_size = _checked_batch_size(batch_size)
    outputs = []
    for start in range(0, len(x), batch_size):
        chunk = np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32)
        outputs.append(_predict(model, chunk))
    return np.concatenate(outputs, axis=0)


def _pixel_converter():
    """A functional model mapping Lab pixels `(1, PIXEL_CHUNK, 3)` to sRGB uint8, built once per process.

    `color.lab_to_rgb_uint8` on chunks of a fixed size: photos of every size
    reuse the one compiled function of Keras' predict (XLA on TensorFlow,
    `jax.jit` on JAX), several times faster than the same ops run eagerly.
    XLA is asked for explicitly on TensorFlow: its graph without XLA takes
    ~60 ms for a 1024x768 photo on a 2-core CPU, with XLA ~24 ms.
    """
    if not _PIXEL_CONVERTER:
        import keras

        lab = keras.Input((PIXEL_CHUNK, 3), batch_size=1, name="lab")
        converter = keras.Model(lab, lab_to_rgb_uint8(lab), name="lab_to_rgb_uint8")
        if keras.backend.backend() == "tensorflow":
            converter.jit_compile = True
        _PIXEL_CONVERTER.append(converter)
    return _PIXEL_CONVERTER[0]


_PIXEL_CONVERTER = []


def _to_rgb_uint8(L, ab):
    """sRGB uint8 `(H, W, 3)` of L `(H, W, 1)` and ab `(H, W, 2)`, through `_pixel_converter`."""
    height, width = L.shape[:2]
    lab = np.concatenate([L, ab], axis=-1, dtype=np.float32).reshape(-1, 3)
    count = len(lab)
    padding = -count % PIXEL_CHUNK
    if padding:
        lab = np.concatenate([lab, np.zeros((padding, 3), np.float32)])
    converter = _pixel_converter()
    chunks = [_predict(converter, chunk[None])[0] for chunk in lab.reshape(-1, PIXEL_CHUNK, 3)]
    return np.concatenate(chunks)[:count].reshape(height, width, 3)


def _decode(output, kind, temperature, quantizer):
    if kind == "regression":
        return output.astype(np.float32)
    return ops.convert_to_numpy(_quantizer(quantizer).annealed_mean(output, temperature)).astype(np.float32)


def _check_temperature(kind, temperature):
    if kind == "classification" and not temperature > 0:
        raise ValueError(f"`temperature` must be > 0; received temperature={temperature}.")


def predict_ab(
    model, L, temperature=DEFAULT_TEMPERATURE, quantizer=None, batch_size=DEFAULT_BATCH_SIZE, size_multiple=None
):
    """Predicts ab for a batch of lightness maps, at the maps' own size.

    The maps are resized bilinearly to the model's input size
    (`resize="bilinear_l"`; from L alone the RGB route is not available).

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
    _check_temperature(kind, temperature)
    L = np.asarray(L, dtype=np.float32)
    if L.ndim != 4 or L.shape[-1] != 1:
        raise ValueError(f"`predict_ab` expects L shaped (B, H, W, 1); received {L.shape}.")
    height, width = L.shape[1:3]
    size = model_input_size(model, height, width, size_multiple)
    shrink = size[0] < height or size[1] < width
    x = _resize(L, size, antialias=shrink)
    # Decoded `batch_size` maps at a time: a classification model's probabilities of all B maps at once
    # would be B x h x w x 313 floats (5 MB per 64x64 map, 80 MB per 256x256 one).
    batch_size = _checked_batch_size(batch_size)
    ab = np.concatenate([
        _decode(_run(model, x[start : start + batch_size], batch_size), kind, temperature, quantizer)
        for start in range(0, max(len(x), 1), batch_size)
    ])
    return _resize(ab, (height, width))


def colorize(
    model,
    images,
    temperature=DEFAULT_TEMPERATURE,
    quantizer=None,
    batch_size=DEFAULT_BATCH_SIZE,
    size_multiple=None,
    resize=None,
):
    """Colorizes one image or many, at their full resolution.

    Each image is turned into the model's input L as `resize` says (colour
    images lose their colour; RGBA loses its alpha), the model predicts ab
    (or bin probabilities, decoded with the annealed mean at `temperature`),
    the ab is upsampled bilinearly to the image's own size and recombined
    with the image's ORIGINAL full-resolution L, then converted to sRGB.
    Images that share the network input size run through the model together,
    `batch_size` per forward pass, in one compiled function per input shape.

    Args:
        model: a `keras.Model` mapping L `(B, H, W, 1)` in [0, 100] to ab
            `(B, h, w, 2)` (regression) or probabilities `(B, h, w, Q)`
            (classification).
        images: one image, or a list of images of any sizes; each is uint8
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
        resize: how the model's input is made from a photo of another size:
            `"bicubic_rgb"`: the RGB photo (uint8 as given; other types as
            float) resized with Pillow's antialiased bicubic filter, then L:
            the authors' demo procedure (`colorizers.preprocess_img`), with
            which converted release weights give the release's pictures;
            `"bilinear_l"`: the photo's L resized bilinearly (antialiased when
            shrinking), as the library's `data_pipeline` prepares training
            data; `None` (default): `default_resize(model)`, i.e.
            `"bicubic_rgb"` for Zhang et al.'s released architectures
            (`eccv16(head="release")`, `siggraph17`) and `"bilinear_l"` for
            the models trained here. Both give the same input for a photo
            already at the network size.

    Returns:
        sRGB uint8: one `(H, W, 3)` array for one image, a list for a list,
        a `(N, H, W, 3)` array for a 4-D batch.

    Raises:
        ValueError/TypeError naming the image (its index in a list), the
        shape, dtype or value that is not accepted, or the model's shapes.

    Example:

    >>> import numpy as np, keras
    >>> inputs = keras.Input((8, 8, 1))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    >>> colorize(model, np.zeros((17, 31, 3), np.uint8)).shape
    (17, 31, 3)
    >>> [rgb.shape for rgb in colorize(model, [np.zeros((5, 7), np.uint8), np.zeros((9, 4, 3), np.uint8)])]
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
    resize = _resize_mode(model, resize)
    photos = [_as_rgb(image, None if single else i) for i, image in enumerate(items)]

    # The network inputs, grouped by run size (a fully convolutional model
    # runs each distinct rounded size as its own group).
    groups = {}
    full_lightness = {}
    for i, rgb in enumerate(photos):
        size = model_input_size(model, rgb.shape[0], rgb.shape[1], size_multiple)
        if resize == "bilinear_l" or rgb.shape[:2] == size:
            full_lightness[i] = _lightness(rgb)
        groups.setdefault(size, []).append(i)
    results = [None] * len(items)
    for size, members in groups.items():
        x = np.stack([_network_input(photos[i], size, resize, full_lightness.get(i)) for i in members])
        ab = _decode(_run(model, x, batch_size), kind, temperature, quantizer)
        for j, i in enumerate(members):
            L = full_lightness.pop(i) if i in full_lightness else _lightness(photos[i])
            ab_full = _resize(ab[j : j + 1], L.shape[:2])[0]
            results[i] = _to_rgb_uint8(L, ab_full)
            photos[i] = None  # the memory of a done photo goes as soon as it can
    if single:
        return results[0]
    if as_array:
        return np.stack(results)
    return results
