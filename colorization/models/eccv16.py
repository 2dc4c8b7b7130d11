"""Zhang, Isola & Efros's colorization network (ECCV 2016), the "cross-channel encoder".

The network of "Colorful Image Colorization" (Zhang et al., ECCV 2016, Fig. 2
and Table 4; released model `colorization_deploy_v2`), which report 000
(section 3.2.1) describes and first built (~33M parameters), and which report
002 ("Model & Methods") rebuilds at 1/4 or 1/2 of the channels with a
regression head. Layer names follow the released model (`conv1_1`,
`conv1_2`, `conv1_2norm`, ..., `conv8_313`) so weights can be mapped layer for
layer.
"""

import keras
import numpy as np

from colorization.models.registry import register_model
from colorization.models.unet import HEADS
from colorization.models.unet import _num_bins
from colorization.models.unet import _validate_input_shape

# (block, number of 3x3 convolutions, channels at width 64, stride of the last conv, dilation)
BLOCKS = (
    (1, 2, 64, 2, 1),
    (2, 2, 128, 2, 1),
    (3, 3, 256, 2, 1),
    (4, 3, 512, 1, 1),
    (5, 3, 512, 1, 2),
    (6, 3, 512, 1, 2),
    (7, 3, 512, 1, 1),
)
CONV8_CHANNELS = 256
REFERENCE_WIDTH = 64
ECCV16_HEADS = HEADS + ("release",)
CAFFE_LOGIT_SCALE = 2.606


def _channels(channels, width):
    return max(1, (channels * int(width)) // REFERENCE_WIDTH)


def _apply_block(x, block, num_convs, filters, stride, dilation, epsilon, momentum):
    for index in range(1, num_convs + 1):
        name = f"conv{block}_{index}"
        if index == num_convs and stride > 1:
            # Caffe and PyTorch pad 1 on every side; explicit padding keeps that alignment.
            x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
            x = keras.layers.Conv2D(filters, 3, strides=stride, padding="valid", activation="relu", name=name)(x)
        else:
            x = keras.layers.Conv2D(
                filters, 3, padding="same", dilation_rate=dilation, activation="relu", name=name
            )(x)
    return keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon, name=f"conv{block}_{num_convs}norm")(x)


@register_model("eccv16", tiny_kwargs={"input_shape": (32, 32, 1), "width": 4})
def eccv16(
    input_shape=(256, 256, 1),
    head="classification",
    width=64,
    num_bins=None,
    quantizer=None,
    ab_scale=110.0,
    batch_norm_epsilon=1e-5,
    name=None,
    logit_scale=1.0,
    batch_norm_momentum=0.99,
):
    """Zhang et al.'s ECCV 2016 colorization network as a functional `keras.Model`.

    Architecture (Zhang et al. 2016, Fig. 2 / Table 4 and the released
    `colorization_deploy_v2` model), channels at `width=64`:

    - `conv1`: 2 convs, 64 channels, the second with stride 2 (1/2 resolution)
    - `conv2`: 2 convs, 128, the second with stride 2 (1/4)
    - `conv3`: 3 convs, 256, the third with stride 2 (1/8)
    - `conv4`: 3 convs, 512
    - `conv5`, `conv6`: 3 convs, 512, dilation 2
    - `conv7`: 3 convs, 512
    - `conv8`: a 4x4 stride-2 transposed conv to 256 (1/4), then 2 convs, 256
    - `conv8_313`: a 1x1 conv to Q = 313 logits, softmax (`probabilities`)

    All convolutions are 3x3 with ReLU. Each of the blocks 1-7 ends with
    BatchNormalization (`convN_Mnorm`, epsilon 1e-5 as in Caffe and PyTorch);
    block 8 has none. Stride-2 convolutions pad one pixel on every side
    (`ZeroPadding2D` + "valid"), the alignment of the released model. The
    output is at 1/4 of the input: 64x64x313 for a 256x256 input. With the
    classification head at `width=64` the model has 32,240,377 parameters
    (32,235,385 trainable, 4,992 BatchNormalization moving statistics); with
    the regression head 32,160,450. BatchNormalization here has a scale and an
    offset, as in the PyTorch port of the released model, where the Caffe
    original has none (4,992 of the trainable parameters).

    `width` scales every channel count by `width / 64` (block 8: `4 * width`).
    Report 002 ("Model & Methods") rebuilds this network with "kernel
    multiplier" 16 or 32 and an MSE loss: `eccv16(head="regression",
    width=16 or 32, input_shape=(224, 224, 1))`. Its description matches this
    builder: 8 groups of 2 or 3 convolutions, BatchNorm after every group but
    the last, a x2 upsample before the last group (`conv8_1`), a 1x1
    convolution to 2 channels after it (`conv8_ab`; "128 channels" in the
    report is block 8 at multiplier 32), and a x4 upsample to the input size.
    What the report leaves open and this builder chooses: the x2 upsample is
    Zhang's learned transposed convolution, the x4 upsample is bilinear, and
    the 1x1 convolution predicts ab / `ab_scale` (110, Zhang's ab
    normalisation), multiplied back to Lab units.

    Input: L in [0, 100], normalised as `(L - 50) / 100` (the PyTorch port's
    normalisation; the Caffe model subtracted 50 only).

    BatchNorm momentum and report 002's one-photo run. Report 002 overfits
    one photograph at batch 1 and reads the training loss (~40 / 31 / 24 at
    100 / 200 / 400 epochs, one step per epoch). Training-mode BatchNorm
    normalises with the statistics of the current batch, inference mode
    (`model.predict`, `colorize`) with moving averages that start at mean 0,
    variance 1 and follow the batches with `batch_norm_momentum`; at 0.99
    (Keras's default; Caffe's `moving_average_fraction` is 0.999) they need
    hundreds of steps to catch up, longer than the whole run. Measured on one
    64x64 imagenet-800 photo (`n01514668_cock.jpg`, grey-prediction MSE 936),
    width 16, MSE, Adam 1e-4, batch 1, seed 0: the logged training loss is
    35.7 / 34.9 / 34.9 / 34.9 after 50 / 100 / 150 / 200 steps, and the loss of
    `model.predict` is 742 / 622 / 558 / 525 with momentum 0.99, 435 / 102 /
    34.9 / 34.9 with 0.9, and equal to the logged loss (35.6 / 34.9 / 34.9 /
    34.9) with 0.5 and with 0.0. Calling the model with `training=True`
    reproduces the logged loss at any momentum, which is what an evaluation
    that leaves BatchNorm in training mode (PyTorch without `model.eval()`)
    reports. So for report 002's one-photo overfitting use
    `batch_norm_momentum=0.0`: the moving statistics are then exactly the
    photo's batch statistics and `model.predict` shows what the logged loss
    measures. With several training photos momentum 0 would keep only the
    last batch's statistics: keep the default and train for many more steps
    than `1 / (1 - momentum)`.

    `head="release"`: the end of the authors' released model, so that
    `colorization.weights.load("eccv16")` copies the released PyTorch
    weights layer for layer and `colorize` gives the release's pictures. The
    blocks above are already the release's (every convolution with a bias,
    BatchNormalization with scale and offset after the last ReLU of blocks
    1-7, `(L - 50) / 100`); after `conv8_313` come `conv8_313_rh` (logits
    times `logit_scale`), softmax (`probabilities`), `class8_ab` (a 1x1
    convolution WITHOUT bias from the Q probabilities to 2 channels: the
    expectation of the bin centres / `ab_scale`; not trainable, initialised
    from the quantizer's bins and overwritten by the released matrix
    `model_out.weight` on loading), `upsample_ab` (bilinear x4, half-pixel
    centres like PyTorch's `align_corners=False`) and `ab` (times
    `ab_scale` = 110). Output: ab `(B, H, W, 2)` at the input's resolution.
    The Caffe original multiplies the logits by 2.606 (about 1 / 0.38) before
    its softmax, which makes the projection the annealed mean at T = 0.38
    (Zhang et al. eq. 5: softmax(logits / T) is the re-tempered
    distribution). The released PyTorch forward pass applies no scale there,
    so the PyTorch weights load with `logit_scale=1.0` (the default); use
    `logit_scale=2.606` (`CAFFE_LOGIT_SCALE`) with weights from the Caffe
    model. The Caffe model's BatchNorm has no scale and offset (gamma 1,
    beta 0 represent it exactly).

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        head: `"classification"` (output `(B, H/4, W/4, Q)` probabilities),
            `"regression"` (output `(B, H, W, 2)` ab in Lab units) or
            `"release"` (the released model's end; output ab `(B, H, W, 2)`).
        width: channels of block 1; 64 is Zhang's network.
        num_bins: Q for the classification head (313 by default).
        quantizer: an `ABQuantizer` whose `num_bins` sets Q instead.
        ab_scale: the regression and release heads' ab scale.
        batch_norm_epsilon: epsilon of every BatchNormalization.
        name: the model name; `"eccv16_classification"`, `"eccv16_regression"`
            or `"eccv16_release"`.
        logit_scale: the release head's factor on the logits before the softmax.
        batch_norm_momentum: momentum of the BatchNormalization moving
            statistics (Keras's 0.99 by default; 0.0 for one-photo
            overfitting at batch 1, see above).

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100].

    Example:

    >>> import numpy as np
    >>> from colorization.models import eccv16
    >>> model = eccv16(input_shape=(64, 64, 1), width=8)
    >>> model.output_shape
    (None, 16, 16, 313)
    >>> eccv16(input_shape=(64, 64, 1), width=8, head="regression").output_shape
    (None, 64, 64, 2)
    >>> eccv16(input_shape=(64, 64, 1), width=8, head="release").output_shape
    (None, 64, 64, 2)
    """
    input_shape = tuple(input_shape)
    _validate_input_shape(input_shape, levels=3, name="eccv16")
    if head not in ECCV16_HEADS:
        raise ValueError(f"head must be one of {ECCV16_HEADS}. Received: head={head!r}")
    if head == "release" and not (logit_scale > 0 and ab_scale > 0):
        raise ValueError(
            f"logit_scale and ab_scale must be positive. Received: logit_scale={logit_scale}, ab_scale={ab_scale}"
        )
    if width < 1 or int(width) != width:
        raise ValueError(f"width must be a positive integer. Received: width={width}")
    if not 0.0 <= batch_norm_momentum < 1.0:
        raise ValueError(
            f"batch_norm_momentum must lie in [0, 1). Received: batch_norm_momentum={batch_norm_momentum}"
        )

    # Functional model
    inputs = keras.Input(shape=input_shape, name="L")
    x = keras.layers.Rescaling(scale=1.0 / 100.0, offset=-0.5, name="normalize_l")(inputs)
    for block, num_convs, channels, stride, dilation in BLOCKS:
        x = _apply_block(
            x, block, num_convs, _channels(channels, width), stride, dilation, batch_norm_epsilon, batch_norm_momentum
        )
    conv8 = _channels(CONV8_CHANNELS, width)
    x = keras.layers.Conv2DTranspose(conv8, 4, strides=2, padding="same", activation="relu", name="conv8_1")(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_2")(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_3")(x)

    if head == "classification":
        q = _num_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(q, 1, name="conv8_313")(x)
        outputs = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
    elif head == "release":
        bins = _release_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(len(bins), 1, name="conv8_313")(x)
        # From the logits on, float32 also under a mixed-precision policy: softmax, projection, output.
        x = keras.layers.Rescaling(scale=float(logit_scale), name="conv8_313_rh", dtype="float32")(x)
        x = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
        projection = keras.layers.Conv2D(2, 1, use_bias=False, trainable=False, name="class8_ab", dtype="float32")
        x = projection(x)
        x = keras.layers.UpSampling2D(4, interpolation="bilinear", name="upsample_ab", dtype="float32")(x)
        outputs = keras.layers.Rescaling(scale=float(ab_scale), name="ab", dtype="float32")(x)
        model = keras.Model(inputs, outputs, name=name or "eccv16_release")
        projection.set_weights([(bins / float(ab_scale)).reshape(1, 1, len(bins), 2).astype("float32")])
        return model
    else:
        x = keras.layers.Conv2D(2, 1, name="conv8_ab")(x)
        x = keras.layers.Rescaling(scale=float(ab_scale), name="ab_unnormalize")(x)
        outputs = keras.layers.UpSampling2D(4, interpolation="bilinear", name="ab", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name or f"eccv16_{head}")


def _release_bins(num_bins, quantizer):
    """The (Q, 2) bin centres the release head's projection starts from."""
    if quantizer is not None:
        bins = np.asarray(quantizer.bins, dtype="float32")
    else:
        from colorization.quantization import default_ab_bins

        bins = default_ab_bins()
    if num_bins is not None and int(num_bins) != len(bins):
        raise ValueError(
            f"The release head projects onto the quantizer's {len(bins)} bins; received num_bins={num_bins}."
        )
    return bins
