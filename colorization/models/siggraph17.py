"""Zhang et al.'s SIGGRAPH 2017 colorization network, in its automatic and interactive modes.

The network of "Real-Time User-Guided Image Colorization with Learned Deep
Priors" (Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, SIGGRAPH 2017, section 3.1
and Fig. 3): a U-Net-like network that reads the lightness L, sparse ab
"hints" and a binary hint mask, and predicts ab at full resolution. With no
hints (ab and mask all zeros) it is an automatic colorizer; the authors
released trained weights for it (see `colorization.weights`).

Layer names follow the structure of the release (`conv1_1` ... `conv10_2`,
`conv3_3_short` for the shortcut of block 3 into block 8, and so on) so that
`colorization.weights` can map the released PyTorch state dict layer for
layer.
"""

import keras

from colorization.models.registry import register_model

# (block, number of 3x3 convolutions, channels at width 64, dilation); blocks 1-3 are
# followed by a x2 subsampling, blocks 1-7 end with BatchNormalization.
ENCODER_BLOCKS = (
    (1, 2, 64, 1),
    (2, 2, 128, 1),
    (3, 3, 256, 1),
    (4, 3, 512, 1),
    (5, 3, 512, 2),
    (6, 3, 512, 2),
    (7, 3, 512, 1),
)
# (block, channels at width 64, number of 3x3 convolutions after the merge, shortcut source block)
DECODER_BLOCKS = (
    (8, 256, 2, 3),
    (9, 128, 1, 2),
    (10, 128, 1, 1),
)
REFERENCE_WIDTH = 64
NUM_CLASSES = 529
L_CENTER = 50.0
L_NORM = 100.0
AB_NORM = 110.0


def _channels(channels, width):
    return max(1, (channels * int(width)) // REFERENCE_WIDTH)


@keras.saving.register_keras_serializable(package="colorization")
class ZeroHints(keras.layers.Layer):
    """Makes the empty hints of automatic colorization from L: ab zeros and a zero mask.

    Maps L `(B, H, W, 1)` to `(B, H, W, 3)` zeros (2 channels of ab hints in
    Lab units, 1 channel of hint mask), so a network built for user hints can
    run from L alone inside one serializable graph.

    Example:

    >>> import numpy as np
    >>> from colorization.models.siggraph17 import ZeroHints
    >>> tuple(ZeroHints()(np.ones((1, 4, 4, 1), "float32")).shape)
    (1, 4, 4, 3)
    """

    def call(self, inputs):
        zeros = keras.ops.zeros_like(inputs)
        return keras.ops.concatenate([zeros, zeros, zeros], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)


def _conv(x, filters, name, dilation=1, activation="relu"):
    return keras.layers.Conv2D(
        filters, 3, padding="same", dilation_rate=dilation, activation=activation, name=name
    )(x)


def _batch_norm(x, name, epsilon):
    return keras.layers.BatchNormalization(epsilon=epsilon, name=name)(x)


def _transposed_conv(x, filters, name):
    # 4x4, stride 2, one pixel cropped on each side: exactly x2 (PyTorch padding=1).
    return keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=name)(x)


def _validate(input_shape, width, num_classes):
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(
            f"siggraph17 expects input_shape (height, width, 1). Received: input_shape={input_shape}"
        )
    for side in input_shape[:2]:
        if side is not None and (side < 8 or side % 8):
            raise ValueError(
                "siggraph17 subsamples three times and adds shortcuts, so each side must be a "
                f"multiple of 8 (or None). Received: input_shape={input_shape}"
            )
    if width < 1 or int(width) != width:
        raise ValueError(f"width must be a positive integer. Received: width={width}")
    if num_classes < 1 or int(num_classes) != num_classes:
        raise ValueError(f"num_classes must be a positive integer. Received: num_classes={num_classes}")


@register_model("siggraph17", tiny_kwargs={"input_shape": (32, 32, 1), "width": 4})
def siggraph17(
    input_shape=(256, 256, 1),
    width=64,
    hints=False,
    class_output=False,
    num_classes=NUM_CLASSES,
    batch_norm_epsilon=1e-5,
    name=None,
):
    """Zhang et al.'s SIGGRAPH 2017 network as a functional `keras.Model`.

    Architecture (Zhang et al. 2017, section 3.1 and Fig. 3; layer for layer
    the released PyTorch model `siggraph17`), channels at `width=64`:

    - input: L normalised as `(L - 50) / 100`, ab hints as `ab / 110` and the
      hint mask as given, concatenated to 4 channels;
    - `conv1` .. `conv7`: 2, 2, 3, 3, 3, 3, 3 convolutions of 64, 128, 256,
      512, 512, 512, 512 channels, 3x3 with ReLU, each block ended by
      BatchNormalization (`convN_Mnorm`); blocks 5 and 6 are dilated by 2.
      After blocks 1, 2 and 3 the feature map is subsampled by keeping every
      second row and column (`convN_sub`; the release slices `[::2, ::2]`
      rather than using strided convolutions), so block 4-7 run at 1/8;
    - `conv8` .. `conv10` (decoder): a 4x4 stride-2 transposed convolution
      (`conv8_1`, 256 channels; `conv9_1`, 128; `conv10_1`, 128) ADDED to a
      3x3 convolution of the encoder feature at the same resolution
      (shortcuts `conv3_3_short`, `conv2_2_short`, `conv1_2_short`), then
      ReLU and 2, 1, 1 convolutions; blocks 8 and 9 end with
      BatchNormalization, block 10's last convolution uses LeakyReLU(0.2);
    - `conv10_ab`: a 1x1 convolution to 2 channels, tanh, times 110 (`ab`):
      ab in Lab units at full resolution (the regression output);
    - optional `conv8_classes` (`class_output=True`): the 529-bin
      classification branch, a 1x1 convolution of block 8's output
      (1/4 resolution) with softmax (`class_probabilities`). The 529 bins are
      the paper's ab grid of 10 over 23 x 23 cells, not ECCV16's 313 in-gamut
      bins; the released automatic output does not use this branch.

    Automatic and interactive use: with `hints=False` (default) the model has
    ONE input, L, and makes zero ab hints and a zero mask inside itself
    (`ZeroHints`), which is exactly automatic colorization in the paper and the
    release; this variant follows the library's contract (L in [0, 100] in,
    ab out) and works with `colorization.colorize`. With `hints=True` it has
    three inputs `[L, ab_hints, hint_mask]` (`(B, H, W, 1)`, `(B, H, W, 2)` in
    Lab units, `(B, H, W, 1)` in {0, 1}) for user-guided colorization. Both
    variants have the same layers with the same names and weight shapes, so
    `interactive.set_weights(automatic.get_weights())` moves trained weights
    between them.

    Choices the paper leaves open and this builder takes from the release:
    the hint mask enters un-normalised (0 or 1); BatchNormalization has a
    scale and an offset, epsilon 1e-5; the transposed convolutions crop one
    pixel on every side (PyTorch `padding=1`); every convolution has a bias.

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1; 64 is the released network (~34M
            parameters with the class branch). Every channel count scales by
            `width / 64`.
        hints: whether the model takes ab hints and a hint mask as inputs.
        class_output: whether to add the 529-bin classification branch as a
            second output `(B, H/4, W/4, num_classes)`.
        num_classes: bins of the classification branch.
        batch_norm_epsilon: epsilon of every BatchNormalization.
        name: the model name; `"siggraph17"` or `"siggraph17_hints"`.

    Returns:
        A functional `keras.Model`; its (first) output is ab `(B, H, W, 2)`.

    Example:

    >>> import numpy as np
    >>> from colorization.models import siggraph17
    >>> model = siggraph17(input_shape=(32, 32, 1), width=4)
    >>> model.output_shape
    (None, 32, 32, 2)
    >>> interactive = siggraph17(input_shape=(32, 32, 1), width=4, hints=True)
    >>> [tuple(x.shape) for x in interactive.inputs]
    [(None, 32, 32, 1), (None, 32, 32, 2), (None, 32, 32, 1)]
    >>> interactive.set_weights(model.get_weights())
    """
    input_shape = tuple(input_shape)
    _validate(input_shape, width, num_classes)
    eps = batch_norm_epsilon

    # Inputs and normalisation
    L = keras.Input(shape=input_shape, name="L")
    if hints:
        ab_hints = keras.Input(shape=input_shape[:2] + (2,), name="ab_hints")
        mask = keras.Input(shape=input_shape[:2] + (1,), name="hint_mask")
        inputs = [L, ab_hints, mask]
        ab_normalized = keras.layers.Rescaling(scale=1.0 / AB_NORM, name="normalize_ab")(ab_hints)
        guidance = keras.layers.Concatenate(name="hints")([ab_normalized, mask])
    else:
        inputs = L
        guidance = ZeroHints(name="hints")(L)
    l_normalized = keras.layers.Rescaling(scale=1.0 / L_NORM, offset=-L_CENTER / L_NORM, name="normalize_l")(L)
    x = keras.layers.Concatenate(name="input_lab_mask")([l_normalized, guidance])

    # Encoder
    features = {}
    for block, num_convs, channels, dilation in ENCODER_BLOCKS:
        filters = _channels(channels, width)
        for index in range(1, num_convs + 1):
            x = _conv(x, filters, f"conv{block}_{index}", dilation)
        x = _batch_norm(x, f"conv{block}_{num_convs}norm", eps)
        features[block] = (x, num_convs)
        if block <= 3:
            # Keep every second row and column, starting with the first (PyTorch `[::2, ::2]`).
            x = keras.layers.AveragePooling2D(pool_size=1, strides=2, name=f"conv{block}_{num_convs}_sub")(x)

    # Decoder with shortcuts
    class_source = None
    for block, channels, num_convs, source in DECODER_BLOCKS:
        filters = _channels(channels, width)
        up = _transposed_conv(x, filters, f"conv{block}_1")
        skip, skip_convs = features[source]
        short = _conv(skip, filters, f"conv{source}_{skip_convs}_short", activation=None)
        x = keras.layers.Add(name=f"conv{block}_merge")([up, short])
        x = keras.layers.ReLU(name=f"conv{block}_merge_relu")(x)
        for index in range(2, num_convs + 2):
            if block == 10 and index == num_convs + 1:
                x = _conv(x, filters, f"conv{block}_{index}", activation=None)
                x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"conv{block}_{index}_leaky_relu")(x)
            else:
                x = _conv(x, filters, f"conv{block}_{index}")
        if block != 10:
            x = _batch_norm(x, f"conv{block}_{num_convs + 1}norm", eps)
        if block == 8:
            class_source = x

    # Outputs
    ab = keras.layers.Conv2D(2, 1, activation="tanh", name="conv10_ab")(x)
    ab = keras.layers.Rescaling(scale=AB_NORM, name="ab", dtype="float32")(ab)
    outputs = ab
    if class_output:
        logits = keras.layers.Conv2D(int(num_classes), 1, name="conv8_classes")(class_source)
        probabilities = keras.layers.Softmax(name="class_probabilities", dtype="float32")(logits)
        outputs = [ab, probabilities]
    return keras.Model(inputs, outputs, name=name or ("siggraph17_hints" if hints else "siggraph17"))
