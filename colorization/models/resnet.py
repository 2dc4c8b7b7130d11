"""Residual blocks and the stride-1 ResNet colorizer of report 004 (section 5.1).

The blocks are plain `apply_*` functions on Keras tensors, shared by
`resnet_colorizer` and the ResNet-18 autoencoder (`autoencoder.py`). Their
layer names follow torchvision's ResNet (`layer1_0_conv1` for
`layer1.0.conv1`) so that ImageNet weights exported from PyTorch map onto them
by name, and strided convolutions pad explicitly (1 pixel each side, like
PyTorch) instead of Keras's asymmetric `"same"` padding.

Report 004 works in Lab scaled to [-1, 1]. The models here keep the library's
data contract -- L in [0, 100] in, ab in Lab units out -- and do the scaling
inside themselves: `apply_l_normalization` maps L to [-1, 1] with a built-in
`Rescaling(1/50, offset=-1)`, and `apply_color_head` multiplies a tanh output
by `AB_SCALE` = 110. 110 is the smallest round number bounding the ab of
every sRGB colour (a in [-86.2, 98.2], b in [-107.9, 94.5]), so a tanh output
can reach every displayable colour without wasting range; other
implementations use 128 (the nominal ab range), which only changes the scale
of the tanh's argument.
"""

import keras

from colorization.models.registry import register_model

AB_SCALE = 110.0
"""Lab units per unit of tanh output: ab = AB_SCALE * tanh(.)."""

BN_EPSILON = 1e-5
"""BatchNorm epsilon of torchvision's ResNets, so imported weights behave as trained."""

RESNET50_STAGE_BLOCKS = (3, 4, 6, 3)
"""Bottleneck blocks per stage of ResNet-50 (He et al. 2016, Table 1)."""


# Shared input / output layers


def apply_l_normalization(x, name="l_normalization"):
    """Maps L in [0, 100] to [-1, 1] (report 004 section 5.3's scaling).

    Args:
        x: a Keras tensor of L values in [0, 100], shape (B, H, W, C).
        name: the layer name.

    Returns:
        `x / 50 - 1`.
    """
    return keras.layers.Rescaling(scale=1.0 / 50.0, offset=-1.0, name=name)(x)


def apply_color_head(x, output_channels=2, name="color"):
    """Turns pre-activations into colour in the library's units.

    `output_channels=2`: ab in Lab units, `AB_SCALE * tanh(x)`.
    `output_channels=3`: RGB in [0, 1], `(tanh(x) + 1) / 2` (report 004's
    three-channel output).

    Args:
        x: a Keras tensor of pre-activations with `output_channels` channels.
        output_channels: 2 (ab) or 3 (RGB).
        name: prefix of the layer names.

    Returns:
        The colour tensor.
    """
    _check_output_channels(output_channels)
    # float32 head: under a mixed-precision policy the colour is computed and returned in float32.
    x = keras.layers.Activation("tanh", name=f"{name}_tanh", dtype="float32")(x)
    if output_channels == 2:
        return keras.layers.Rescaling(scale=AB_SCALE, name=f"{name}_ab", dtype="float32")(x)
    return keras.layers.Rescaling(scale=0.5, offset=0.5, name=f"{name}_rgb", dtype="float32")(x)


def _check_output_channels(output_channels):
    if output_channels not in (2, 3):
        raise ValueError(
            "`output_channels` must be 2 (ab in Lab units) or 3 (RGB in [0, 1]). "
            f"Received: output_channels={output_channels}"
        )


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


# Residual blocks


def apply_conv_bn(x, filters, kernel_size, strides=1, activation="relu", name="conv"):
    """Convolution (no bias), BatchNorm and an optional activation.

    Strided convolutions pad `kernel_size // 2` pixels on every side and then
    convolve with `"valid"` padding, as PyTorch does; stride-1 ones use
    `"same"`, which is the same thing for odd kernels.

    Args:
        x: input Keras tensor.
        filters: output channels.
        kernel_size: an odd integer.
        strides: 1 or 2.
        activation: an activation name or None.
        name: prefix; the layers are `{name}` (conv) and `{name}_bn`.

    Returns:
        The output tensor.
    """
    if strides > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
    )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def _apply_shortcut(x, filters, strides, name):
    if strides == 1 and x.shape[-1] == filters:
        return x
    return apply_conv_bn(x, filters, 1, strides=strides, activation=None, name=f"{name}_downsample")


def apply_basic_block(x, filters, strides=1, name="block"):
    """The two-3x3-convolution residual block of ResNet-18/34 (He et al. 2016, Fig. 2).

    conv3x3(stride) - BN - ReLU - conv3x3 - BN, plus the input (through a 1x1
    convolution and BN when the shape changes), then ReLU.

    Args:
        x: input Keras tensor (B, H, W, C).
        filters: output channels.
        strides: stride of the first convolution (1 keeps the resolution).
        name: prefix of the layer names, e.g. `"layer1_0"`.

    Returns:
        The output tensor (B, H / strides, W / strides, filters).

    Example:

    >>> import keras
    >>> from colorization.models.resnet import apply_basic_block
    >>> inputs = keras.Input((32, 32, 8))
    >>> apply_basic_block(inputs, 16, strides=2).shape
    (None, 16, 16, 16)
    """
    shortcut = _apply_shortcut(x, filters, strides, name)
    y = apply_conv_bn(x, filters, 3, strides=strides, name=f"{name}_conv1")
    y = apply_conv_bn(y, filters, 3, activation=None, name=f"{name}_conv2")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def apply_bottleneck_block(x, filters, strides=1, expansion=4, name="block"):
    """The bottleneck residual block of ResNet-50 (He et al. 2016, Fig. 5).

    conv1x1 - BN - ReLU - conv3x3(stride) - BN - ReLU - conv1x1 (x expansion) -
    BN, plus the input (projected by a 1x1 convolution and BN when the shape
    changes), then ReLU. The stride sits on the 3x3 convolution, as in
    torchvision ("ResNet v1.5").

    Args:
        x: input Keras tensor (B, H, W, C).
        filters: channels of the inner convolutions; the block outputs
            `expansion * filters`.
        strides: stride of the 3x3 convolution.
        expansion: output channels over inner channels (4 in ResNet-50).
        name: prefix of the layer names.

    Returns:
        The output tensor (B, H / strides, W / strides, expansion * filters).

    Example:

    >>> import keras
    >>> from colorization.models.resnet import apply_bottleneck_block
    >>> inputs = keras.Input((32, 32, 8))
    >>> apply_bottleneck_block(inputs, 4).shape
    (None, 32, 32, 16)
    """
    shortcut = _apply_shortcut(x, filters * expansion, strides, name)
    y = apply_conv_bn(x, filters, 1, name=f"{name}_conv1")
    y = apply_conv_bn(y, filters, 3, strides=strides, name=f"{name}_conv2")
    y = apply_conv_bn(y, filters * expansion, 1, activation=None, name=f"{name}_conv3")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def apply_resnet_stage(x, block_fn, filters, num_blocks, strides=1, name="layer1"):
    """`num_blocks` residual blocks; only the first one may stride.

    Args:
        x: input Keras tensor.
        block_fn: `apply_basic_block` or `apply_bottleneck_block`.
        filters: the blocks' `filters`.
        num_blocks: number of blocks.
        strides: stride of the first block.
        name: stage name; block `i` is named `{name}_{i}`.

    Returns:
        The output tensor.
    """
    for i in range(num_blocks):
        x = block_fn(x, filters, strides=strides if i == 0 else 1, name=f"{name}_{i}")
    return x


# The colorizer


@register_model(
    "resnet_colorizer",
    tiny_kwargs={"input_shape": (32, 32, 1), "base_filters": 2, "stage_blocks": (1, 1, 1, 1)},
)
def resnet_colorizer(
    input_shape=(None, None, 1),
    base_filters=16,
    stage_blocks=RESNET50_STAGE_BLOCKS,
    output_channels=2,
    name="resnet_colorizer",
):
    """ResNet-50 without downsampling, as a per-pixel colorizer (report 004 section 5.1).

    Report 004 removes every max-pooling layer, sets every stride to 1, feeds
    one input channel and replaces the classifier by a convolution to the
    colour channels; it also narrows the residual modules "to reduce the
    number of network weights" without saying by how much. Here:
    stem conv7x7 (stride 1) - BN - ReLU, then four stages of
    `stage_blocks` bottleneck blocks with inner widths
    `base_filters * (1, 2, 4, 8)` (ResNet-50: 64 * (1, 2, 4, 8), outputs 4x
    those), every stride 1, then a 1x1 convolution and `apply_color_head`.

    Choices the report leaves open: the width reduction (`base_filters=16`,
    a quarter of ResNet-50: 1,480,434
    trainable parameters; `base_filters=64` gives ResNet-50's 23.5M), the output kernel (1x1, a
    per-pixel replacement of the fully connected layer), the output
    activation (tanh scaled to Lab units, section 5.3's [-1, 1] scaling) and
    the loss (use MSE on ab). As the report notes, ImageNet weights cannot be
    used (the input has one channel and the strides differ).

    Args:
        input_shape: (H, W, 1) of the L input; H and W may be None (the network
            is fully convolutional and keeps the resolution).
        base_filters: inner width of the first stage (64 in ResNet-50).
        stage_blocks: bottleneck blocks per stage, (3, 4, 6, 3) in ResNet-50.
        output_channels: 2 for ab in Lab units (the library's contract), 3 for
            RGB in [0, 1] (the report's output).
        name: the model name.

    Returns:
        A functional `keras.Model` from L in [0, 100] (B, H, W, 1) to
        (B, H, W, output_channels).

    Example:

    >>> import numpy as np
    >>> from colorization.models import resnet_colorizer
    >>> model = resnet_colorizer((32, 32, 1), base_filters=2, stage_blocks=(1, 1, 1, 1))
    >>> tuple(model(np.full((1, 32, 32, 1), 50.0, "float32")).shape)
    (1, 32, 32, 2)
    """
    _check_positive_int("base_filters", base_filters)
    _check_output_channels(output_channels)
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(
            f"`input_shape` must be (H, W, 1), an L image. Received: input_shape={input_shape}"
        )
    if not stage_blocks or any(not isinstance(n, int) or n < 1 for n in stage_blocks):
        raise ValueError(
            "`stage_blocks` must be a non-empty sequence of positive integers. "
            f"Received: stage_blocks={stage_blocks}"
        )

    inputs = keras.Input(input_shape, name="L")
    x = apply_l_normalization(inputs)
    x = apply_conv_bn(x, base_filters, 7, name="conv1")
    for i, num_blocks in enumerate(stage_blocks):
        x = apply_resnet_stage(
            x, apply_bottleneck_block, base_filters * 2**i, num_blocks, name=f"layer{i + 1}"
        )
    x = keras.layers.Conv2D(output_channels, 1, name="to_color")(x)
    outputs = apply_color_head(x, output_channels)
    return keras.Model(inputs, outputs, name=name)
