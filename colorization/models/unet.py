"""The U-Net of report 000 (Table 1, section 4.1), with a regression or a classification head."""

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
    """The U-Net of report 000, Table 1 (Ronneberger et al. 2015), as a functional `keras.Model`.

    Conv pairs of `ENCODER_FILTERS` (the first three then max-pooled; each followed by BatchNorm),
    three upsamplings joined to `conv3_2`, `conv2_2`, `conv1_2` before conv pairs of
    `DECODER_FILTERS` (BatchNorm after the first two); ReLU; dropout after the first conv of blocks
    1-6; L enters as (L - 50) / 100. Open choices: 3x3 kernels, 4x4/2 linear transposed upsampling
    keeping the channels: 3,335,993 parameters at Q = 313 ("approximately 3.5 million", 4.1).

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of the first conv pair, doubled at each level.
        head: `"regression"` (1x1 to ab / 110, x110: `(B, H, W, 2)`) or `"classification"` (1x1 to
            Q logits, float32 softmax: `(B, H, W, Q)`).
        num_bins, quantizer: Q (313 by default), or an `ABQuantizer` whose `num_bins` sets it.
        upsampling: `"transposed"` (kernel `upsampling_kernel_size`), `"nearest"` or `"bilinear"`.
        kernel_size: kernel of every convolution except the 1x1 output.
        dropout: the dropout rate (Table 1: 0.2); 0 disables it.
        name: the model name; by default `"unet_<head>"`.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100].

    Example:
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
