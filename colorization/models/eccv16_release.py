"""Zhang et al.'s ECCV 2016 network exactly as released, for loading the released weights.

`colorization.models.eccv16` is the trainable network (probabilities over
the 313 bins, decoded by `colorize` with the annealed mean). The authors'
released model ends differently: it turns the distribution into ab INSIDE the
network, with a fixed 1x1 convolution, and upsamples it to the input size.
This builder reproduces that end on top of eccv16's own blocks (the same
layer names, `conv1_1` ... `conv8_313`), so that
`colorization.pretrained.load("eccv16")` can copy the released PyTorch state
dict layer for layer and `colorize` gives the release's pictures.
"""

import keras
import numpy as np

from colorization.models.eccv16 import BLOCKS
from colorization.models.eccv16 import CONV8_CHANNELS
from colorization.models.eccv16 import _apply_block
from colorization.models.eccv16 import _channels
from colorization.models.registry import register_model
from colorization.models.unet import _validate_input_shape
from colorization.quantization import default_ab_bins

RELEASE_AB_SCALE = 110.0
CAFFE_LOGIT_SCALE = 2.606


@register_model("eccv16_release", tiny_kwargs={"input_shape": (32, 32, 1), "width": 4})
def eccv16_release(
    input_shape=(256, 256, 1),
    width=64,
    logit_scale=1.0,
    ab_scale=RELEASE_AB_SCALE,
    batch_norm_epsilon=1e-5,
    name="eccv16_release",
):
    """The released ECCV16 colorizer as a functional `keras.Model`: L in, ab out.

    Layers (Zhang et al. 2016, Fig. 2; the released PyTorch model `eccv16` of
    the authors' `colorizers` package, layer for layer):

    - `normalize_l`: `(L - 50) / 100`;
    - `conv1` .. `conv7`, `conv8_1` .. `conv8_3`, `conv8_313`: exactly
      `colorization.models.eccv16` (every convolution with a bias and ReLU,
      BatchNormalization with scale and offset AFTER the last ReLU of each of
      the blocks 1-7, epsilon 1e-5; stride-2 convolutions padded one pixel on
      every side; a 4x4 stride-2 transposed convolution opening block 8);
    - `conv8_313_rh`: the logits times `logit_scale`;
    - `probabilities`: softmax over the 313 bins;
    - `class8_ab`: a 1x1 convolution WITHOUT bias from the 313 probabilities
      to 2 channels, i.e. the expectation of the bin centres divided by
      `ab_scale`. It is not trainable; a fresh model initialises it with the
      313 standard bins / `ab_scale`, and loading the release overwrites it
      with the released matrix (`model_out.weight`);
    - `upsample_ab`: bilinear x4 (half-pixel centres, PyTorch
      `align_corners=False`) to the input size, then `ab` = times `ab_scale`.

    The 2.606 logit scale: the original Caffe model multiplies the logits by
    2.606 (layer `conv8_313_rh`, about 1 / 0.38) before the softmax, so that
    the projection computes the annealed mean at T = 0.38 (Zhang et al. eq. 5:
    softmax(logits / T) is the re-tempered distribution). The released
    PyTorch forward pass applies NO scale between `model8` and the softmax,
    so `colorization.pretrained` builds this model with `logit_scale=1.0`
    and the released `model8.6` weights as they are (any temperature is then
    carried by those weights). Use `logit_scale=2.606` for weights taken
    from the Caffe model.

    The output is ab `(B, H, W, 2)` in Lab units at the input's resolution,
    which `colorize` treats as a regression model.

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1; 64 is the released network.
        logit_scale: factor applied to the logits before the softmax.
        ab_scale: ab normalisation of the projection and of the output (110).
        batch_norm_epsilon: epsilon of every BatchNormalization.
        name: the model name.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab.

    Example:

    >>> from colorization.models.eccv16_release import eccv16_release
    >>> model = eccv16_release(input_shape=(64, 64, 1), width=8)
    >>> model.output_shape
    (None, 64, 64, 2)
    """
    input_shape = tuple(input_shape)
    _validate_input_shape(input_shape, levels=3, name="eccv16_release")
    if width < 1 or int(width) != width:
        raise ValueError(f"width must be a positive integer. Received: width={width}")
    if not logit_scale > 0:
        raise ValueError(f"logit_scale must be positive. Received: logit_scale={logit_scale}")
    if not ab_scale > 0:
        raise ValueError(f"ab_scale must be positive. Received: ab_scale={ab_scale}")
    bins = default_ab_bins()

    # Functional model
    inputs = keras.Input(shape=input_shape, name="L")
    x = keras.layers.Rescaling(scale=1.0 / 100.0, offset=-0.5, name="normalize_l")(inputs)
    for block, num_convs, channels, stride, dilation in BLOCKS:
        x = _apply_block(x, block, num_convs, _channels(channels, width), stride, dilation, batch_norm_epsilon)
    conv8 = _channels(CONV8_CHANNELS, width)
    x = keras.layers.Conv2DTranspose(conv8, 4, strides=2, padding="same", activation="relu", name="conv8_1")(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_2")(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_3")(x)
    x = keras.layers.Conv2D(len(bins), 1, name="conv8_313")(x)
    x = keras.layers.Rescaling(scale=float(logit_scale), name="conv8_313_rh")(x)
    x = keras.layers.Softmax(name="probabilities")(x)
    projection = keras.layers.Conv2D(2, 1, use_bias=False, trainable=False, name="class8_ab")
    x = projection(x)
    x = keras.layers.UpSampling2D(4, interpolation="bilinear", name="upsample_ab")(x)
    outputs = keras.layers.Rescaling(scale=float(ab_scale), name="ab", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)
    projection.set_weights([(bins / float(ab_scale)).reshape(1, 1, len(bins), 2).astype("float32")])
    return model
