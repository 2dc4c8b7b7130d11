"""The U-Net of report 000 (Table 1), with a regression or a classification head.

Report 000 ("Evaluation of Image Colourization Approaches", section 4.1)
colourises 64x64 Tiny-ImageNet images with a small U-Net (Ronneberger et al.,
2015). The body carries a regression head (ab, trained with MSE) or a
classification head (softmax over Zhang et al.'s Q = 313 ab bins).
"""

import keras

import colorization.models.contract as contract
from colorization.constants import AB_SCALE
from colorization.layers import CENTERED
from colorization.layers import apply_l_normalization
from colorization.models.registry import register_model

UPSAMPLING_KINDS = ("transposed", "nearest", "bilinear")
HEADS = (contract.REGRESSION, contract.CLASSIFICATION)

# Channels of the conv pairs, from Table 1 of report 000.
ENCODER_FILTERS = (32, 64, 128, 256)
DECODER_FILTERS = (128, 64, 32)
REFERENCE_WIDTH = 32


def _apply_conv_pair(x, filters, block, kernel_size, dropout, batch_norm_after_second):
    x = keras.layers.Conv2D(
        filters, kernel_size, padding="same", activation="relu", name=f"conv{block}_1"
    )(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"conv{block}_1_dropout")(x)
    x = keras.layers.Conv2D(
        filters, kernel_size, padding="same", activation="relu", name=f"conv{block}_2"
    )(x)
    if batch_norm_after_second:
        x = keras.layers.BatchNormalization(name=f"conv{block}_2_bn")(x)
    return x


def _apply_upsampling(x, filters, index, upsampling, upsampling_kernel_size):
    name = f"upsample_{index}"
    if upsampling == "transposed":
        return keras.layers.Conv2DTranspose(
            filters, upsampling_kernel_size, strides=2, padding="same", name=name
        )(x)
    return keras.layers.UpSampling2D(2, interpolation=upsampling, name=name)(x)


@register_model("unet")
def unet(
    input_shape=(64, 64, 1),
    width=32,
    head="regression",
    num_bins=None,
    quantizer=None,
    upsampling="transposed",
    upsampling_kernel_size=4,
    kernel_size=3,
    dropout=0.2,
    name=None,
):
    """The U-Net of report 000, Table 1, as a functional `keras.Model`.

    Channels at `width=32`: conv pairs of 32, 64, 128 (each followed by 2x2
    max-pooling and BatchNorm) and 256 (+ BatchNorm); three upsamplings, each
    concatenated with `conv3_2`, `conv2_2`, `conv1_2` and followed by conv
    pairs of 128, 64 (+ BatchNorm) and 32; a 1x1 output convolution. Dropout
    follows the first convolution of blocks 1-6. Convolutions use ReLU,
    stride 1 and "same" padding.

    Choices Table 1 leaves open: the upsampling (default 4x4 stride-2
    transposed convolutions that keep the channel count, linear; 3,335,993
    parameters with Q = 313, the closest reading to the report's
    "approximately 3.5 million", section 4.1) and 3x3 convolutions.

    The first layer maps L in [0, 100] to [-0.5, 0.5]. The regression head
    predicts ab / 110 with a linear 1x1 convolution, then multiplies by 110
    (`AB_SCALE`). The classification head is a 1x1 convolution to Q logits
    and a softmax (`probabilities`, float32 under mixed precision).

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of the first conv pair, doubled at each level.
        head: `"regression"` (ab `(B, H, W, 2)`) or `"classification"`
            (probabilities `(B, H, W, Q)`).
        num_bins: Q for the classification head (313 by default).
        quantizer: an `ABQuantizer` whose `num_bins` sets Q instead.
        upsampling: `"transposed"`, `"nearest"` or `"bilinear"`.
        upsampling_kernel_size: kernel of the transposed convolutions.
        kernel_size: kernel of every convolution except the 1x1 output.
        dropout: the dropout rate (Table 1: 0.2); 0 disables it.
        name: the model name; `"unet_regression"` or `"unet_classification"`.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100].

    Example:

    >>> from colorization.models import unet
    >>> unet(input_shape=(64, 64, 1), head="classification").count_params()
    3335993
    """
    input_shape = contract.check_input_shape(input_shape, "unet", multiple=8)
    width = contract.check_positive_int("width", width)
    contract.check_choice("head", head, HEADS)
    contract.check_choice("upsampling", upsampling, UPSAMPLING_KINDS)
    contract.check_rate("dropout", dropout)
    encoder = [contract.scaled_channels(f, width, REFERENCE_WIDTH) for f in ENCODER_FILTERS]
    decoder = [contract.scaled_channels(f, width, REFERENCE_WIDTH) for f in DECODER_FILTERS]

    # Functional model
    inputs = keras.Input(shape=input_shape, name="L")
    x = apply_l_normalization(inputs, CENTERED)
    skips = []
    for level, filters in enumerate(encoder[:3], start=1):
        x = _apply_conv_pair(x, filters, level, kernel_size, dropout, batch_norm_after_second=False)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool_{level}")(x)
        x = keras.layers.BatchNormalization(name=f"pool_{level}_bn")(x)
    x = _apply_conv_pair(x, encoder[3], 4, kernel_size, dropout, batch_norm_after_second=True)
    for index, (filters, skip) in enumerate(zip(decoder, reversed(skips)), start=1):
        block = 4 + index
        x = _apply_upsampling(x, x.shape[-1], index, upsampling, upsampling_kernel_size)
        x = keras.layers.Concatenate(name=f"concat_{index}")([x, skip])
        last = block == 7
        x = _apply_conv_pair(
            x,
            filters,
            block,
            kernel_size,
            0.0 if last else dropout,
            batch_norm_after_second=not last,
        )

    if head == "regression":
        x = keras.layers.Conv2D(2, 1, name="ab_normalized")(x)
        outputs = keras.layers.Rescaling(scale=AB_SCALE, name="ab", dtype="float32")(x)
    else:
        q = contract.resolve_num_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(q, 1, name="logits")(x)
        outputs = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name or f"unet_{head}")
