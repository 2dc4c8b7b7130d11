"""Deep Koalarization (Baldassarre, Gonzalez-Morin & Rodes-Guirao 2017), as report 001 builds it.

An encoder on the grey image, a frozen image classifier's embedding of the
same grey image, a fusion layer that repeats the embedding over the encoder's
grid, and a decoder to ab. Report 001 ("Method", section 3.2 and Table 2)
follows the Deep Koalarization paper (arXiv:1712.03400) and adds
BatchNormalization after each convolution.
"""

import os

import keras
import numpy as np
from keras import ops

from colorization.models.registry import register_model

# name -> (keras.applications constructor, input size, the scaling its `preprocess_input` applies)
APPLICATIONS = {
    "inception_resnet_v2": ("InceptionResNetV2", 299, "tf"),
    "inception_v3": ("InceptionV3", 299, "tf"),
    "xception": ("Xception", 299, "tf"),
    "mobilenet_v2": ("MobileNetV2", 224, "tf"),
    "resnet50": ("ResNet50", 224, "caffe"),
    "vgg16": ("VGG16", 224, "caffe"),
    "densenet121": ("DenseNet121", 224, "torch"),
}
TINY_EXTRACTOR = "tiny"
PREPROCESSING_MODES = ("tf", "caffe", "torch", "raw")
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)

# (filters, stride) of the encoder convolutions (Deep Koalarization, Table 1).
ENCODER = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1))
FUSION_FILTERS = 256
# Decoder: a number is a 3x3 convolution, "up" a x2 upsampling; the last convolution (2, tanh) is separate.
DECODER = (128, "up", 64, 64, "up", 32)


# Layers


def lightness_to_grey(L):
    """CIELAB lightness in [0, 100] -> the sRGB grey value in [0, 1] with that lightness (a = b = 0, D65)."""
    L = ops.cast(L, "float32")
    fy = (L + 16.0) / 116.0
    y = ops.where(L > 8.0, fy * fy * fy, L * (27.0 / 24389.0))
    y = ops.clip(y, 0.0, 1.0)
    linear_part = 12.92 * y
    gamma_part = 1.055 * ops.power(ops.maximum(y, 0.0031308), 1.0 / 2.4) - 0.055
    return ops.where(y <= 0.0031308, linear_part, gamma_part)


@keras.saving.register_keras_serializable(package="colorization")
class GreyToExtractorInput(keras.layers.Layer):
    """Turns L into the 3-channel grey image a pretrained classifier expects.

    L `(B, H, W, 1)` in [0, 100] becomes the sRGB grey value with that
    lightness (0-255), repeated to 3 channels and scaled as the classifier's
    `keras.applications.<module>.preprocess_input` would scale a uint8 RGB
    photograph:

    - `"tf"` (Inception, Xception, MobileNet): `x / 127.5 - 1`;
    - `"caffe"` (VGG, ResNet50): channels to BGR, minus the ImageNet mean;
    - `"torch"` (DenseNet): `(x / 255 - mean) / std` per RGB channel;
    - `"raw"`: 0-255 unchanged (models that rescale inside, e.g. EfficientNet).

    Resize to the classifier's input size before or after this layer (it is
    pointwise).

    Args:
        mode: one of `"tf"`, `"caffe"`, `"torch"`, `"raw"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np
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
            raise ValueError(f"GreyToExtractorInput expects L with one channel. Received: shape={inputs.shape}")
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
    """Repeats a vector at every position of a feature map (Deep Koalarization's fusion).

    Called on `[feature_map, vector]` with shapes `(B, h, w, C)` and `(B, D)`;
    returns `(B, h, w, D)`, the vector copied to each of the h x w positions
    (the feature map only supplies the grid size).

    Example:

    >>> import numpy as np
    >>> grid = np.zeros((2, 3, 4, 5), "float32"); vector = np.arange(6, dtype="float32").reshape(2, 3)
    >>> out = np.asarray(RepeatOverGrid()([grid, vector]))
    >>> out.shape, out[1, 2, 3].tolist()
    ((2, 3, 4, 3), [3.0, 4.0, 5.0])
    """

    def call(self, inputs):
        feature_map, vector = inputs
        if len(vector.shape) != 2:
            raise ValueError(f"RepeatOverGrid expects a (batch, D) vector. Received: shape={vector.shape}")
        ones = ops.ones_like(feature_map[..., :1])
        return ones * vector[:, None, None, :]

    def compute_output_shape(self, input_shape):
        feature_shape, vector_shape = input_shape
        return tuple(feature_shape[:-1]) + (vector_shape[-1],)


# Feature extractors


def tiny_extractor(input_size=32, embedding_dim=16, name="tiny_extractor"):
    """A small random-initialised classifier stand-in: for tests and CPU smoke runs only.

    Two 3x3 stride-2 convolutions (8, 16 channels), global average pooling
    and a softmax over `embedding_dim` "classes". Its features are random: use
    a real pretrained network for colourisation.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(embedding_dim, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def _offline_message(name, error):
    return (
        f"Could not download the ImageNet weights of {name!r} "
        f"({type(error).__name__}: {error}). This machine is probably offline (keras.applications fetches "
        "them from storage.googleapis.com). On a connected machine run "
        f"`keras.applications.{APPLICATIONS[name][0]}(weights='imagenet')` once (it caches the file in "
        "~/.keras/models/) and copy that file here, or pass `extractor_weights=<path to a .weights.h5 / .h5 file>`."
    )


def _check_weights_path(weights):
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"extractor_weights: no file at {path!r}. Pass None, 'imagenet' or the path of a weights file."
        )
    return path


def build_feature_extractor(feature_extractor="inception_resnet_v2", weights=None):
    """The frozen embedding network and its preprocessing mode.

    Args:
        feature_extractor: a name in `APPLICATIONS` (a `keras.applications`
            classifier with its top, giving the 1000 ImageNet class
            probabilities), `"tiny"` (`tiny_extractor`, tests/CPU only), the
            path of a `.keras` model file, or a `keras.Model` mapping an image
            `(S, S, 3)` to a vector `(D,)`. A model or file is used as given;
            its inputs are scaled with mode `"tf"` ([-1, 1]) unless it carries
            an attribute `preprocessing_mode`.
        weights: `None` (random initialisation: fine for tests, meaningless
            features), `"imagenet"` (downloads; a clear error offline), or
            the path of a weights file loaded with `load_weights`.

    Returns:
        `(model, mode)`: the frozen `keras.Model` and the preprocessing mode.
    """
    if isinstance(feature_extractor, keras.Model):
        model, mode = feature_extractor, getattr(feature_extractor, "preprocessing_mode", "tf")
        if weights == "imagenet":
            raise ValueError("extractor_weights='imagenet' needs a keras.applications name as feature_extractor.")
    elif isinstance(feature_extractor, (str, os.PathLike)) and str(feature_extractor).endswith(".keras"):
        model, mode = keras.saving.load_model(_check_weights_path(feature_extractor), compile=False), "tf"
    elif feature_extractor == TINY_EXTRACTOR:
        model, mode = tiny_extractor(), "tf"
    elif feature_extractor in APPLICATIONS:
        constructor_name, size, mode = APPLICATIONS[feature_extractor]
        constructor = getattr(keras.applications, constructor_name)
        if weights == "imagenet":
            try:
                model = constructor(include_top=True, weights="imagenet", input_shape=(size, size, 3))
            except Exception as error:  # urllib, socket and Keras's own download errors alike
                raise RuntimeError(_offline_message(feature_extractor, error)) from error
            weights = None
        else:
            model = constructor(include_top=True, weights=None, input_shape=(size, size, 3))
    else:
        raise ValueError(
            "feature_extractor must be one of "
            f"{sorted(APPLICATIONS) + [TINY_EXTRACTOR]}, a .keras file or a keras.Model. "
            f"Received: feature_extractor={feature_extractor!r}"
        )
    if weights is not None and weights != "imagenet":
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
        raise ValueError(f"The feature extractor needs a fixed input size. Received: {tuple(model.inputs[0].shape)}")
    model.trainable = False
    return model, mode


# Functional model


def _conv(x, filters, stride, batch_norm, name):
    x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu", name=name)(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return x


@register_model(
    "koalarization",
    tiny_kwargs={"input_shape": (32, 32, 1), "feature_extractor": "tiny", "width": 4},
)
def koalarization(
    input_shape=(224, 224, 1),
    feature_extractor="inception_resnet_v2",
    extractor_weights=None,
    batch_norm=True,
    width=64,
    ab_scale=128.0,
    head="regression",
    name="koalarization",
):
    """Deep Koalarization with report 001's BatchNorm, as a functional `keras.Model`.

    Architecture (Baldassarre et al. 2017, Table 1 and section 3; report 001,
    section 3.2), channels at `width=64`, all convolutions 3x3 with ReLU and
    "same" padding:

    - encoder on L: 64/s2, 128, 128/s2, 256, 256/s2, 512, 512, 256 -> H/8 x W/8 x 256;
    - feature extractor: L resized to the extractor's input size (299 for
      Inception-ResNet-v2; bilinear), turned into the sRGB grey image with that
      lightness, repeated to 3 channels and scaled as the extractor's
      `preprocess_input` expects; the frozen classifier gives a ~1000-d
      embedding (the ImageNet class probabilities for `keras.applications`
      models: the paper's "last layer" of Inception-ResNet-v2, 1001-d there);
    - fusion: the embedding repeated over the H/8 x W/8 grid, concatenated
      with the encoder output, a 1x1 convolution to 256 with ReLU;
    - decoder: 128, x2, 64, 64, x2, 32, then a convolution to 2 channels with
      tanh and a final x2 -> H x W x 2.

    `batch_norm=True` is report 001's variant ("each convolution is followed
    by a ReLu and Batchnorm"): BatchNormalization after the ReLU of every
    convolution except the tanh output; `False` is the paper's network.
    Choices the papers leave open: the upsamplings are nearest-neighbour
    (Keras `UpSampling2D`, as the authors' Keras code), L is normalised to
    [-1, 1] and the tanh output is multiplied by `ab_scale` = 128 (the papers
    scale Lab to [-1, 1]); the grey image fed to the extractor is the exact
    sRGB grey of L rather than L repeated. With a 1000-d embedding (any
    `keras.applications` classifier) the trainable part has 6,579,106
    parameters with BatchNorm (plus 5,312 moving statistics) and 6,573,794
    without; Inception-ResNet-v2 adds 55,873,736 frozen ones.

    Args:
        input_shape: `(H, W, 1)`, sides multiples of 8.
        feature_extractor: see `build_feature_extractor`: a
            `keras.applications` name (default `"inception_resnet_v2"`),
            `"tiny"` (a random 2-layer stand-in for tests and CPU runs), a
            `.keras` file, or a `keras.Model` mapping `(S, S, 3)` to `(D,)`.
        extractor_weights: `None` (random, frozen: tests only), `"imagenet"`
            (downloaded by Keras; fails with a clear message offline), or a
            path to a weights file.
        batch_norm: BatchNormalization after every ReLU convolution (report 001).
        width: channels of the first convolution; every count scales by `width / 64`.
        ab_scale: the tanh output is multiplied by this to give ab in Lab units.
        head: only `"regression"` (the network regresses ab; the argument lets
            `colorization.training.recipes.Recipe.build_model` build it like the others).
        name: the model name.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab
        `(B, H, W, 2)` in Lab units.

    Example:

    >>> from colorization.models import koalarization
    >>> model = koalarization((32, 32, 1), feature_extractor="tiny", width=4)
    >>> model.output_shape
    (None, 32, 32, 2)
    """
    input_shape = tuple(input_shape)
    if head != "regression":
        raise ValueError(f"koalarization is a regression network (MSE on ab). Received: head={head!r}")
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(f"koalarization takes L shaped (H, W, 1). Received: input_shape={input_shape}")
    if any(side is None or side % 8 for side in input_shape[:2]):
        raise ValueError(
            f"koalarization needs fixed sides that are multiples of 8. Received: input_shape={input_shape}"
        )
    if width < 1 or int(width) != width:
        raise ValueError(f"width must be a positive integer. Received: width={width}")
    scale = lambda filters: max(1, filters * int(width) // 64)  # noqa: E731
    extractor, mode = build_feature_extractor(feature_extractor, extractor_weights)
    extractor_size = tuple(extractor.inputs[0].shape[1:3])

    inputs = keras.Input(shape=input_shape, name="L")
    x = keras.layers.Rescaling(scale=1.0 / 50.0, offset=-1.0, name="normalize_l")(inputs)
    for index, (filters, stride) in enumerate(ENCODER, start=1):
        x = _conv(x, scale(filters), stride, batch_norm, f"encoder{index}")

    grey = keras.layers.Resizing(*extractor_size, interpolation="bilinear", name="extractor_resize")(inputs)
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
