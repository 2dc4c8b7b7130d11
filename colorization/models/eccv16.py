"""Zhang, Isola & Efros's colorization network (ECCV 2016), as reports 000 and 002 build it."""

import keras
import numpy as np

import colorization.models.contract as contract
from colorization.constants import AB_SCALE
from colorization.layers import CENTERED
from colorization.layers import TORCH_BN_EPSILON
from colorization.layers import apply_l_normalization
from colorization.models.registry import register_model

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
RELEASE = "release"
HEADS = (contract.REGRESSION, contract.CLASSIFICATION, RELEASE)
# The Caffe release multiplies the logits by 2.606 (about 1 / 0.38) before its softmax.
CAFFE_LOGIT_SCALE = 2.606


def _apply_block(x, block, num_convs, filters, stride, dilation, epsilon, momentum):
    for index in range(1, num_convs + 1):
        name = f"conv{block}_{index}"
        if index == num_convs and stride > 1:
            # Caffe and PyTorch pad 1 on every side; explicit padding keeps that alignment.
            x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
            x = keras.layers.Conv2D(
                filters, 3, strides=stride, padding="valid", activation="relu", name=name
            )(x)
        else:
            x = keras.layers.Conv2D(
                filters, 3, padding="same", dilation_rate=dilation, activation="relu", name=name
            )(x)
    return keras.layers.BatchNormalization(
        momentum=momentum, epsilon=epsilon, name=f"conv{block}_{num_convs}norm"
    )(x)


@register_model("eccv16")
def eccv16(
    input_shape=(256, 256, 1),
    width=64,
    head="classification",
    num_bins=None,
    quantizer=None,
    logit_scale=1.0,
    batch_norm_epsilon=TORCH_BN_EPSILON,
    batch_norm_momentum=0.99,
    name=None,
):
    """Zhang et al.'s ECCV 2016 colorization network as a functional `keras.Model`.

    Fig. 2 and Table 4 as the released `colorization_deploy_v2` (its layer names too): `BLOCKS` of
    3x3 ReLU convs, each closed by BatchNorm (stride 2 pads 1 per side), conv8 (a 4x4/2 transposed
    conv, 2 x 256) at 1/4 size, a 1x1 to Q logits; L enters as `(L - 50) / 100`. Report 002 uses it
    at "kernel multiplier" 16 or 32 with MSE: `head="regression"`, 1x1 to ab / 110, bilinear x4 (its
    open choices). `head="release"` ends as the release: logits x `logit_scale` (PyTorch 1.0, Caffe
    2.606), softmax, `class8_ab` (a frozen projection on bin centres / 110), bilinear x4, x110.

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1; 64 is Zhang's network.
        head: `"classification"` (`(B, H/4, W/4, Q)` probabilities), `"regression"` or `"release"`
            (ab `(B, H, W, 2)` in Lab units).
        num_bins, quantizer: Q (313 by default), or an `ABQuantizer` whose bins set it (and the
            release projection).
        logit_scale: the release head's factor on the logits (Caffe's: `CAFFE_LOGIT_SCALE`).
        batch_norm_epsilon: epsilon of every BatchNormalization (1e-5, as PyTorch).
        batch_norm_momentum: 0.0 keeps the last batch's statistics (report 002: one photo, batch 1).
        name: the model name; by default `"eccv16_<head>"`.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100].

    Example:
    >>> eccv16(input_shape=(64, 64, 1), width=8).output_shape
    (None, 16, 16, 313)
    >>> eccv16(input_shape=(64, 64, 1), width=8, head="regression").output_shape
    (None, 64, 64, 2)
    >>> eccv16(input_shape=(64, 64, 1), width=8, head="release").output_shape
    (None, 64, 64, 2)
    """
    input_shape = contract.check_input_shape(input_shape, "eccv16", multiple=8)
    width = contract.check_positive_int("width", width)
    contract.check_choice("head", head, HEADS)
    if not logit_scale > 0:
        raise ValueError(f"`logit_scale` must be positive. Received: logit_scale={logit_scale}")
    contract.check_rate("batch_norm_momentum", batch_norm_momentum)

    def channels_at_width(channels):
        return contract.scaled_channels(channels, width, REFERENCE_WIDTH)

    # Functional model
    inputs = keras.Input(shape=input_shape, name="L")
    x = apply_l_normalization(inputs, CENTERED)
    for block, num_convs, channels, stride, dilation in BLOCKS:
        x = _apply_block(
            x,
            block,
            num_convs,
            channels_at_width(channels),
            stride,
            dilation,
            batch_norm_epsilon,
            batch_norm_momentum,
        )
    conv8 = channels_at_width(CONV8_CHANNELS)
    x = keras.layers.Conv2DTranspose(
        conv8, 4, strides=2, padding="same", activation="relu", name="conv8_1"
    )(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_2")(x)
    x = keras.layers.Conv2D(conv8, 3, padding="same", activation="relu", name="conv8_3")(x)

    if head == "classification":
        q = contract.resolve_num_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(q, 1, name="conv8_313")(x)
        outputs = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
    elif head == "release":
        bins = _release_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(len(bins), 1, name="conv8_313")(x)
        # From the logits on, float32 also under a mixed-precision policy: softmax, projection,
        # output.
        x = keras.layers.Rescaling(scale=float(logit_scale), name="conv8_313_rh", dtype="float32")(
            x
        )
        x = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
        projection = keras.layers.Conv2D(
            2, 1, use_bias=False, trainable=False, name="class8_ab", dtype="float32"
        )
        x = projection(x)
        x = keras.layers.UpSampling2D(
            4, interpolation="bilinear", name="upsample_ab", dtype="float32"
        )(x)
        outputs = keras.layers.Rescaling(scale=AB_SCALE, name="ab", dtype="float32")(x)
        model = keras.Model(inputs, outputs, name=name or "eccv16_release")
        projection.set_weights([(bins / AB_SCALE).reshape(1, 1, len(bins), 2).astype("float32")])
        return model
    else:
        x = keras.layers.Conv2D(2, 1, name="conv8_ab")(x)
        x = keras.layers.Rescaling(scale=AB_SCALE, name="ab_unnormalize")(x)
        outputs = keras.layers.UpSampling2D(
            4, interpolation="bilinear", name="ab", dtype="float32"
        )(x)
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
            f"The release head projects onto the quantizer's {len(bins)} bins. Received: "
            f"num_bins={num_bins}"
        )
    return bins
