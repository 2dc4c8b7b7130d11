"""The U-Net of report 000 (Table 1), with a regression or a classification head.

Report 000 ("Evaluation of Image Colourization Approaches", section 4.1 and
Table 1) colourises 64x64 Tiny-ImageNet images with a small U-Net
(Ronneberger et al., 2015): three max-pooling steps down, three upsampling
steps back, concatenations with Conv3_2, Conv2_2 and Conv1_2, dropout 0.2 after
the first convolution of each of the blocks 1-6 and BatchNormalization after
the pooling of blocks 1-3 and after the second convolution of blocks 4-6. The
same body carries either a regression head (ab in Lab units, trained with MSE)
or a classification head (a softmax over the Q = 313 ab bins of Zhang et al.).
"""

import keras

from colorization.models.registry import register_model

UPSAMPLING_KINDS = ("transposed", "nearest", "bilinear")
HEADS = ("regression", "classification")

# Channels of the conv pairs, from Table 1 of report 000.
ENCODER_FILTERS = (32, 64, 128, 256)
DECODER_FILTERS = (128, 64, 32)


def _validate_input_shape(input_shape, levels, name):
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(
            f"{name} expects an L-channel input shaped (height, width, 1). Received: input_shape={input_shape}"
        )
    factor = 2**levels
    for size in input_shape[:2]:
        if size is not None and (size < factor or size % factor):
            raise ValueError(
                f"{name} downsamples {levels} times, so height and width must be multiples of {factor}. "
                f"Received: input_shape={input_shape}"
            )


def _num_bins(num_bins, quantizer):
    if quantizer is not None:
        quantizer_bins = int(quantizer.num_bins)
        if num_bins is not None and int(num_bins) != quantizer_bins:
            raise ValueError(
                f"num_bins={num_bins} disagrees with the quantizer, which has {quantizer_bins} bins."
            )
        return quantizer_bins
    num_bins = 313 if num_bins is None else int(num_bins)
    if num_bins < 2:
        raise ValueError(f"A classification head needs at least 2 bins. Received: num_bins={num_bins}")
    return num_bins


def _apply_conv_pair(x, filters, block, kernel_size, dropout, batch_norm_after_second):
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="relu", name=f"conv{block}_1")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"conv{block}_1_dropout")(x)
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", activation="relu", name=f"conv{block}_2")(x)
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


@register_model("unet", tiny_kwargs={"input_shape": (32, 32, 1), "width": 4})
def unet(
    input_shape=(64, 64, 1),
    head="regression",
    upsampling="transposed",
    upsampling_kernel_size=4,
    kernel_size=3,
    dropout=0.2,
    width=32,
    num_bins=None,
    quantizer=None,
    ab_scale=110.0,
    name=None,
):
    """The U-Net of report 000, Table 1, as a functional `keras.Model`.

    Layer by layer (report 000, Table 1; channels at the default `width=32`):
    `conv1_1` 32 (+ dropout 0.2), `conv1_2` 32, `pool_1` + BatchNorm,
    `conv2_1` 64 (+ dropout), `conv2_2` 64, `pool_2` + BatchNorm,
    `conv3_1` 128 (+ dropout), `conv3_2` 128, `pool_3` + BatchNorm,
    `conv4_1` 256 (+ dropout), `conv4_2` 256 + BatchNorm,
    `upsample_1` (256 channels) concatenated with `conv3_2` (384),
    `conv5_1` 128 (+ dropout), `conv5_2` 128 + BatchNorm,
    `upsample_2` (128) concatenated with `conv2_2` (192),
    `conv6_1` 64 (+ dropout), `conv6_2` 64 + BatchNorm,
    `upsample_3` (64) concatenated with `conv1_2` (96),
    `conv7_1` 32, `conv7_2` 32, then a 1x1 output convolution to 2 (ab) or Q
    (bin) channels at the full input resolution. Convolutions use ReLU, stride 1
    and "same" padding; pooling is 2x2 max-pooling with stride 2.

    Choices Table 1 leaves open, and the parameter counts they give (3x3
    convolutions, classification head with Q = 313; the regression head has
    10,263 fewer parameters):

    | `upsampling`, `upsampling_kernel_size` | parameters |
    |---|---|
    | `"nearest"` or `"bilinear"` (`UpSampling2D`) | 1,959,289 |
    | `"transposed"`, 3 | 2,733,881 |
    | `"transposed"`, 4 (default) | 3,335,993 |

    The report states "approximately 3.5 million trainable parameters"
    (section 4.1); the default, 4x4 stride-2 transposed convolutions that keep
    the channel count (Table 1's UpSample rows keep it), is the closest reading
    of the table to that figure. The transposed convolutions are linear (no
    activation): the convolutions right after each concatenation apply ReLU.
    The kernel size of the convolutions (3x3, as in U-Net) is `kernel_size`.
    The counts above include BatchNormalization's moving statistics (1,344
    non-trainable parameters).

    The first layer maps L in [0, 100] to [-0.5, 0.5]. The regression head is
    a linear 1x1 convolution predicting ab / `ab_scale`, followed by a
    multiplication by `ab_scale` (110, Zhang et al.'s ab normalisation), so the
    model outputs ab in Lab units while its last convolution works on values
    of order one. The classification head is a 1x1 convolution to Q logits
    (`logits`) and a softmax (`probabilities`, float32 under mixed precision).

    Args:
        input_shape: `(height, width, 1)`; height and width multiples of 8, or
            `None` for any such size.
        head: `"regression"` (output `(B, H, W, 2)` ab in Lab units) or
            `"classification"` (output `(B, H, W, Q)` probabilities).
        upsampling: `"transposed"` (stride-2 `Conv2DTranspose`), `"nearest"`
            or `"bilinear"` (`UpSampling2D`, no parameters).
        upsampling_kernel_size: kernel of the transposed convolutions.
        kernel_size: kernel of every convolution except the 1x1 output.
        dropout: the dropout rate of Table 1 (0.2); 0 disables it.
        width: channels of the first conv pair; the table's 32 doubles at each
            level (32, 64, 128, 256). Other values scale every layer.
        num_bins: Q for the classification head (313 by default).
        quantizer: an `ABQuantizer` whose `num_bins` sets Q instead.
        ab_scale: the regression head's output scale (see above).
        name: the model name; `"unet_regression"` or `"unet_classification"`.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100].

    Example:

    >>> import numpy as np
    >>> from colorization.models import unet
    >>> model = unet(input_shape=(64, 64, 1), head="classification")
    >>> model.count_params()
    3335993
    >>> model.predict(np.full((1, 64, 64, 1), 50.0, "float32"), verbose=0).shape
    (1, 64, 64, 313)
    """
    input_shape = tuple(input_shape)
    _validate_input_shape(input_shape, levels=3, name="unet")
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}. Received: head={head!r}")
    if upsampling not in UPSAMPLING_KINDS:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_KINDS}. Received: upsampling={upsampling!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
    if width < 1 or int(width) != width:
        raise ValueError(f"width must be a positive integer. Received: width={width}")
    scale = int(width) / 32.0
    encoder = [max(1, int(round(f * scale))) for f in ENCODER_FILTERS]
    decoder = [max(1, int(round(f * scale))) for f in DECODER_FILTERS]

    # Functional model
    inputs = keras.Input(shape=input_shape, name="L")
    x = keras.layers.Rescaling(scale=1.0 / 100.0, offset=-0.5, name="normalize_l")(inputs)
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
            x, filters, block, kernel_size, 0.0 if last else dropout, batch_norm_after_second=not last
        )

    if head == "regression":
        x = keras.layers.Conv2D(2, 1, name="ab_normalized")(x)
        outputs = keras.layers.Rescaling(scale=float(ab_scale), name="ab", dtype="float32")(x)
    else:
        q = _num_bins(num_bins, quantizer)
        x = keras.layers.Conv2D(q, 1, name="logits")(x)
        outputs = keras.layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name or f"unet_{head}")
