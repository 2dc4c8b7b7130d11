"""Zhang et al.'s SIGGRAPH 2017 colorization network, automatic or interactive (with ab hints).

"Real-Time User-Guided Image Colorization with Learned Deep Priors": L, ab hints, mask -> ab.
"""

import keras

import colorization.models.contract as contract
from colorization.constants import AB_SCALE
from colorization.layers import CENTERED
from colorization.layers import TORCH_BN_EPSILON
from colorization.layers import apply_l_normalization
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
# The classification branch's bins: the ab grid of 10 over 23 x 23 cells (Zhang et al. 2017,
# section 3.1).
NUM_GRID_BINS = 529
REGRESSION_AND_CLASSIFICATION = "regression_and_classification"
HEADS = (contract.REGRESSION, REGRESSION_AND_CLASSIFICATION)


@keras.saving.register_keras_serializable(package="colorization")
class ZeroHints(keras.layers.Layer):
    """The empty hints of automatic mode: L `(B, H, W, 1)` -> zeros `(B, H, W, 3)` (ab hints, mask).

    Example:
    >>> import numpy as np
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


@register_model("siggraph17")
def siggraph17(
    input_shape=(256, 256, 1),
    width=64,
    head="regression",
    num_bins=NUM_GRID_BINS,
    hints=False,
    batch_norm_epsilon=TORCH_BN_EPSILON,
    name=None,
):
    """Zhang et al.'s SIGGRAPH 2017 network as a functional `keras.Model`.

    Section 3.1 and Fig. 3 as the released `siggraph17`, layer names included. In: `(L - 50) / 100`,
    ab hints / 110, the mask. `ENCODER_BLOCKS` of 3x3 ReLU convs closed by BatchNorm, 1-3 then
    keeping every second row and column; `DECODER_BLOCKS`: a 4x4/2 transposed conv plus a 3x3 conv
    of the same-size encoder feature (`conv3_3_short`, ...), ReLU, 3x3 convs, BatchNorm (8, 9) or
    LeakyReLU(0.2) (10); `conv10_ab`: 1x1, tanh, x110; `conv8_classes`: softmax over the 529-bin
    grid (10 over 23 x 23) at 1/4 size. Open choices, from the release: un-normalised mask, biases.

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1 (64 is the release); all channels scale by `width / 64`.
        head: `"regression"` (ab) or `"regression_and_classification"` (ab, `conv8_classes`).
        num_bins: bins of the classification branch.
        hints: `False`: L alone, zero hints (automatic, for `colorization.colorize`); `True`:
            `[L, ab_hints, hint_mask]` (ab in Lab units, mask in {0, 1}); the weights are the same.
        batch_norm_epsilon: epsilon of every BatchNormalization (1e-5, as the release).
        name: the model name; `"siggraph17"` or `"siggraph17_hints"`.

    Returns:
        A functional `keras.Model`; its (first) output is ab `(B, H, W, 2)`.

    Example:
    >>> model = siggraph17(input_shape=(32, 32, 1), width=4)
    >>> model.output_shape
    (None, 32, 32, 2)
    >>> interactive = siggraph17(input_shape=(32, 32, 1), width=4, hints=True)
    >>> interactive.set_weights(model.get_weights())
    """
    input_shape = contract.check_input_shape(input_shape, "siggraph17", multiple=8)
    width = contract.check_positive_int("width", width)
    contract.check_choice("head", head, HEADS)
    num_bins = contract.resolve_num_bins(num_bins)
    eps = batch_norm_epsilon

    # Inputs and normalisation
    L = keras.Input(shape=input_shape, name="L")
    if hints:
        ab_hints = keras.Input(shape=input_shape[:2] + (2,), name="ab_hints")
        mask = keras.Input(shape=input_shape[:2] + (1,), name="hint_mask")
        inputs = [L, ab_hints, mask]
        ab_normalized = keras.layers.Rescaling(scale=1.0 / AB_SCALE, name="normalize_ab")(ab_hints)
        guidance = keras.layers.Concatenate(name="hints")([ab_normalized, mask])
    else:
        inputs = L
        guidance = ZeroHints(name="hints")(L)
    l_normalized = apply_l_normalization(L, CENTERED)
    x = keras.layers.Concatenate(name="input_lab_mask")([l_normalized, guidance])

    # Encoder
    features = {}
    for block, num_convs, channels, dilation in ENCODER_BLOCKS:
        filters = contract.scaled_channels(channels, width, REFERENCE_WIDTH)
        for index in range(1, num_convs + 1):
            x = _conv(x, filters, f"conv{block}_{index}", dilation)
        x = _batch_norm(x, f"conv{block}_{num_convs}norm", eps)
        features[block] = (x, num_convs)
        if block <= 3:
            # Keep every second row and column, starting with the first (PyTorch `[::2, ::2]`).
            x = keras.layers.AveragePooling2D(
                pool_size=1, strides=2, name=f"conv{block}_{num_convs}_sub"
            )(x)

    # Decoder with shortcuts
    class_source = None
    for block, channels, num_convs, source in DECODER_BLOCKS:
        filters = contract.scaled_channels(channels, width, REFERENCE_WIDTH)
        up = _transposed_conv(x, filters, f"conv{block}_1")
        skip, skip_convs = features[source]
        short = _conv(skip, filters, f"conv{source}_{skip_convs}_short", activation=None)
        x = keras.layers.Add(name=f"conv{block}_merge")([up, short])
        x = keras.layers.ReLU(name=f"conv{block}_merge_relu")(x)
        for index in range(2, num_convs + 2):
            if block == 10 and index == num_convs + 1:
                x = _conv(x, filters, f"conv{block}_{index}", activation=None)
                x = keras.layers.LeakyReLU(
                    negative_slope=0.2, name=f"conv{block}_{index}_leaky_relu"
                )(x)
            else:
                x = _conv(x, filters, f"conv{block}_{index}")
        if block != 10:
            x = _batch_norm(x, f"conv{block}_{num_convs + 1}norm", eps)
        if block == 8:
            class_source = x

    # Outputs
    ab = keras.layers.Conv2D(2, 1, activation="tanh", name="conv10_ab")(x)
    ab = keras.layers.Rescaling(scale=AB_SCALE, name="ab", dtype="float32")(ab)
    outputs = ab
    if head == REGRESSION_AND_CLASSIFICATION:
        logits = keras.layers.Conv2D(num_bins, 1, name="conv8_classes")(class_source)
        probabilities = keras.layers.Softmax(name="class_probabilities", dtype="float32")(logits)
        outputs = [ab, probabilities]
    return keras.Model(
        inputs, outputs, name=name or ("siggraph17_hints" if hints else "siggraph17")
    )
