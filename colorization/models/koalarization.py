"""Deep Koalarization (Baldassarre, Gonzalez-Morin & Rodes-Guirao 2017), as report 001 builds it."""

import os

import keras
import numpy as np
from keras import ops

import colorization.models.contract as contract
import colorization.weights
from colorization.layers import SYMMETRIC
from colorization.layers import apply_l_normalization
from colorization.models.registry import register_model

# name -> (keras.applications constructor, input size, its `preprocess_input` scaling); each has an
# ImageNet preset "<name>_imagenet" in colorization.weights.
APPLICATIONS = {
    "inception_resnet_v2": ("InceptionResNetV2", 299, "tf"),
    "inception_v3": ("InceptionV3", 299, "tf"),
    "xception": ("Xception", 299, "tf"),
    "resnet50": ("ResNet50", 224, "caffe"),
    "vgg16": ("VGG16", 224, "caffe"),
    "densenet121": ("DenseNet121", 224, "torch"),
}
TINY_EXTRACTOR = "tiny"
IMAGENET = "imagenet"
PREPROCESSING_MODES = ("tf", "caffe", "torch", "raw")
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)

# (filters, stride) of the encoder convolutions (Deep Koalarization, Table 1).
ENCODER = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1))
FUSION_FILTERS = 256
# The papers scale ab to [-1, 1] by its nominal range: the tanh output times 128.
KOALARIZATION_AB_SCALE = 128.0
REFERENCE_WIDTH = 64
# Decoder: a number is a 3x3 convolution, "up" a x2 upsampling; the final tanh one is separate.
DECODER = (128, "up", 64, 64, "up", 32)


# Layers


def lightness_to_grey(L):
    """The sRGB grey value in [0, 1] whose CIELAB lightness is `L` (a = b = 0, D65)."""
    L = ops.cast(L, "float32")
    fy = (L + 16.0) / 116.0
    y = ops.where(L > 8.0, fy * fy * fy, L * (27.0 / 24389.0))
    y = ops.clip(y, 0.0, 1.0)
    linear_part = 12.92 * y
    gamma_part = 1.055 * ops.power(ops.maximum(y, 0.0031308), 1.0 / 2.4) - 0.055
    return ops.where(y <= 0.0031308, linear_part, gamma_part)


@keras.saving.register_keras_serializable(package="colorization")
class GreyToExtractorInput(keras.layers.Layer):
    """Turns L `(B, H, W, 1)` in [0, 100] into its sRGB grey on 3 channels, scaled by `mode`.

    Args:
        mode: `keras.applications`' `preprocess_input` scaling: `"tf"` (Inception, Xception),
            `"caffe"` (VGG, ResNet50), `"torch"` (DenseNet) or `"raw"` (0-255 unchanged).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> layer = GreyToExtractorInput("tf")
    >>> np.round(np.asarray(layer(np.array([[[[0.0], [100.0]]]], "float32")))[0, 0], 3).tolist()
    [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]
    """

    def __init__(self, mode="tf", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"mode must be one of {PREPROCESSING_MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs):
        if inputs.shape[-1] != 1:
            raise ValueError(
                f"GreyToExtractorInput expects L with one channel. Received: shape={inputs.shape}"
            )
        grey = lightness_to_grey(inputs) * 255.0
        rgb = ops.concatenate([grey, grey, grey], axis=-1)
        if self.mode == "tf":
            return rgb / 127.5 - 1.0
        if self.mode == "caffe":
            return rgb - ops.convert_to_tensor(np.array(_CAFFE_BGR_MEAN, "float32"))
        if self.mode == "torch":
            mean = ops.convert_to_tensor(np.array(_TORCH_MEAN, "float32"))
            std = ops.convert_to_tensor(np.array(_TORCH_STD, "float32"))
            return (rgb / 255.0 - mean) / std
        return rgb

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="colorization")
class RepeatOverGrid(keras.layers.Layer):
    """Repeats a vector over a feature map (the fusion): `[(B, h, w, C), (B, D)]` -> `(B, h, w, D)`.

    Example:
    >>> grid = np.zeros((2, 3, 4, 5), "float32")
    >>> vector = np.arange(6, dtype="float32").reshape(2, 3)
    >>> out = np.asarray(RepeatOverGrid()([grid, vector]))
    >>> out.shape, out[1, 2, 3].tolist()
    ((2, 3, 4, 3), [3.0, 4.0, 5.0])
    """

    def call(self, inputs):
        feature_map, vector = inputs
        if len(vector.shape) != 2:
            raise ValueError(
                f"RepeatOverGrid expects a (batch, D) vector. Received: shape={vector.shape}"
            )
        ones = ops.ones_like(feature_map[..., :1])
        return ones * vector[:, None, None, :]

    def compute_output_shape(self, input_shape):
        feature_shape, vector_shape = input_shape
        return tuple(feature_shape[:-1]) + (vector_shape[-1],)


# Feature extractors


def tiny_extractor(input_size=32, embedding_dim=16, name="tiny_extractor"):
    """A small random stand-in classifier for tests: `(B, S, S, 3)` -> `(B, embedding_dim)`."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(embedding_dim, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def _check_weights_path(weights):
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"extractor_weights: no file at {path!r}. Pass None, 'imagenet' or the path of a "
            "weights file."
        )
    return path


def build_feature_extractor(feature_extractor="inception_resnet_v2", weights=None):
    """The frozen embedding network and its preprocessing mode.

    Args:
        feature_extractor: an `APPLICATIONS` name (an ImageNet classifier with its top), `"tiny"`,
            a `.keras` file or a `keras.Model` `(S, S, 3)` -> `(D,)` (`"tf"` unless it has a
            `preprocessing_mode`).
        weights: `None` (random), `"imagenet"` (preset `"<name>_imagenet"`) or a weights file.

    Returns:
        `(model, mode)`: the frozen `keras.Model` and the preprocessing mode.
    """
    if isinstance(feature_extractor, keras.Model):
        model, mode = feature_extractor, getattr(feature_extractor, "preprocessing_mode", "tf")
        if weights == IMAGENET:
            raise ValueError(
                "extractor_weights='imagenet' needs a keras.applications name as "
                f"feature_extractor. Received: feature_extractor={feature_extractor.name!r}"
            )
    elif isinstance(feature_extractor, (str, os.PathLike)) and str(feature_extractor).endswith(
        ".keras"
    ):
        model, mode = (
            keras.saving.load_model(_check_weights_path(feature_extractor), compile=False),
            "tf",
        )
    elif feature_extractor == TINY_EXTRACTOR:
        model, mode = tiny_extractor(), "tf"
    elif feature_extractor in APPLICATIONS:
        constructor_name, size, mode = APPLICATIONS[feature_extractor]
        constructor = getattr(keras.applications, constructor_name)
        if weights == IMAGENET:
            weights = colorization.weights.download(f"{feature_extractor}_imagenet")
        model = constructor(include_top=True, weights=None, input_shape=(size, size, 3))
    else:
        raise ValueError(
            "feature_extractor must be one of "
            f"{sorted(APPLICATIONS) + [TINY_EXTRACTOR]}, a .keras file or a keras.Model. "
            f"Received: feature_extractor={feature_extractor!r}"
        )
    if weights is not None:
        model.load_weights(_check_weights_path(weights))
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4 or model.inputs[0].shape[-1] != 3:
        raise ValueError(
            "The feature extractor must take one image (batch, S, S, 3). "
            f"Received inputs: {[tuple(t.shape) for t in model.inputs]}"
        )
    if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
        raise ValueError(
            "The feature extractor must map an image to a vector (batch, D). "
            f"Received outputs: {[tuple(t.shape) for t in model.outputs]}"
        )
    size = model.inputs[0].shape[1:3]
    if None in tuple(size):
        raise ValueError(
            "The feature extractor needs a fixed input size. Received: "
            f"{tuple(model.inputs[0].shape)}"
        )
    model.trainable = False
    return model, mode


# Functional model


def _conv(x, filters, stride, batch_norm, name):
    x = keras.layers.Conv2D(
        filters, 3, strides=stride, padding="same", activation="relu", name=name
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return x


@register_model("koalarization")
def koalarization(
    input_shape=(224, 224, 1),
    width=64,
    head="regression",
    feature_extractor="inception_resnet_v2",
    extractor_weights=None,
    batch_norm=True,
    ab_scale=KOALARIZATION_AB_SCALE,
    name="koalarization",
):
    """Deep Koalarization with report 001's BatchNorm, as a functional `keras.Model`.

    Baldassarre et al. 2017 (Table 1, section 3), report 001 (3.2): an `ENCODER` on L to H/8; the
    fusion: the frozen classifier's probabilities (the paper's "last layer") of L, resized to its
    input (299 for Inception-ResNet-v2), repeated over the grid, concatenated, 1x1 to 256; the
    `DECODER`, a tanh conv to ab, x2. Open choices: nearest upsampling (the authors' code), L in
    [-1, 1], ab = tanh x 128 (Lab scaled to [-1, 1]); the extractor sees the exact sRGB grey of L.

    Args:
        input_shape: `(H, W, 1)`, sides multiples of 8.
        width: channels of the first convolution; every count scales by `width / 64`.
        head: only `"regression"`.
        feature_extractor, extractor_weights: see `build_feature_extractor` (`"tiny"`: tests).
        batch_norm: BatchNormalization after each ReLU convolution (report 001; `False`: the paper).
        ab_scale: the tanh output times this is ab in Lab units.

    Returns:
        A functional `keras.Model`: L `(B, H, W, 1)` in [0, 100] -> ab `(B, H, W, 2)` in Lab units.

    Example:
    >>> model = koalarization((32, 32, 1), feature_extractor="tiny", width=4)
    >>> model.output_shape
    (None, 32, 32, 2)
    """
    input_shape = contract.check_input_shape(input_shape, "koalarization", multiple=8, fixed=True)
    width = contract.check_positive_int("width", width)
    contract.check_choice("head", head, (contract.REGRESSION,))

    def scale(filters):
        return contract.scaled_channels(filters, width, REFERENCE_WIDTH)

    extractor, mode = build_feature_extractor(feature_extractor, extractor_weights)
    extractor_size = tuple(extractor.inputs[0].shape[1:3])

    inputs = keras.Input(shape=input_shape, name="L")
    x = apply_l_normalization(inputs, SYMMETRIC)
    for index, (filters, stride) in enumerate(ENCODER, start=1):
        x = _conv(x, scale(filters), stride, batch_norm, f"encoder{index}")

    grey = keras.layers.Resizing(
        *extractor_size, interpolation="bilinear", name="extractor_resize"
    )(inputs)
    grey = GreyToExtractorInput(mode, name="extractor_preprocess")(grey)
    embedding = extractor(grey, training=False)

    repeated = RepeatOverGrid(name="fusion_repeat")([x, embedding])
    x = keras.layers.Concatenate(name="fusion_concat")([x, repeated])
    x = keras.layers.Conv2D(scale(FUSION_FILTERS), 1, activation="relu", name="fusion")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="fusion_bn")(x)

    conv_index, up_index = 0, 0
    for step in DECODER:
        if step == "up":
            up_index += 1
            x = keras.layers.UpSampling2D(2, name=f"decoder_up{up_index}")(x)
        else:
            conv_index += 1
            x = _conv(x, scale(step), 1, batch_norm, f"decoder{conv_index}")
    x = keras.layers.Conv2D(2, 3, padding="same", activation="tanh", name="decoder_ab")(x)
    x = keras.layers.UpSampling2D(2, name=f"decoder_up{up_index + 1}")(x)
    outputs = keras.layers.Rescaling(scale=float(ab_scale), name="ab", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
