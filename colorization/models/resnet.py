"""The stride-1 ResNet colorizer of report 004 (section 5.1): ResNet-50 without downsampling."""

import keras

import colorization.models.contract as contract
from colorization.layers import SYMMETRIC
from colorization.layers import apply_bottleneck_block
from colorization.layers import apply_color_head
from colorization.layers import apply_conv_bn
from colorization.layers import apply_l_normalization
from colorization.layers import apply_resnet_stage
from colorization.layers import color_channels
from colorization.models.registry import register_model

# Bottleneck blocks per stage of ResNet-50 (He et al. 2016, Table 1).
RESNET50_STAGE_BLOCKS = (3, 4, 6, 3)


@register_model("resnet_colorizer")
def resnet_colorizer(
    input_shape=(None, None, 1),
    width=16,
    head="regression",
    stage_blocks=RESNET50_STAGE_BLOCKS,
    name="resnet_colorizer",
):
    """ResNet-50 without downsampling, as a per-pixel colorizer (report 004 section 5.1).

    As the report: no max-pooling or stride, one input channel. L to [-1, 1], conv7x7 - BN - ReLU,
    four stages of `stage_blocks` bottlenecks (inner width `width * (1, 2, 4, 8)`), a 1x1 conv, the
    tanh head. Open choices: the width (the report does not say; 16 is a quarter), the 1x1 output,
    ab = tanh x `AB_SCALE` (section 5.3's [-1, 1] scaling), MSE on ab.

    Args:
        input_shape: `(H, W, 1)`; H and W may be `None` (the network keeps the resolution).
        width: inner width of the first stage (64 in ResNet-50).
        head: `"regression"` (ab in Lab units) or `"rgb"` (RGB in [0, 1], the report's output).
        stage_blocks: bottleneck blocks per stage, (3, 4, 6, 3) in ResNet-50.

    Returns:
        A functional `keras.Model`: L `(B, H, W, 1)` in [0, 100] -> ab `(B, H, W, 2)` or RGB.

    Example:
    >>> resnet_colorizer((32, 32, 1), width=2, stage_blocks=(1, 1, 1, 1)).output_shape
    (None, 32, 32, 2)
    """
    input_shape = contract.check_input_shape(input_shape, "resnet_colorizer")
    width = contract.check_positive_int("width", width)
    channels = color_channels(head)
    if not stage_blocks or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in stage_blocks
    ):
        raise ValueError(
            "`stage_blocks` must be a non-empty sequence of positive integers. Received: "
            f"stage_blocks={stage_blocks}"
        )

    inputs = keras.Input(input_shape, name="L")
    x = apply_l_normalization(inputs, SYMMETRIC, name="l_normalization")
    x = apply_conv_bn(x, width, 7, name="conv1")
    for i, num_blocks in enumerate(stage_blocks):
        x = apply_resnet_stage(
            x, apply_bottleneck_block, width * 2**i, num_blocks, name=f"layer{i + 1}"
        )
    x = keras.layers.Conv2D(channels, 1, name="to_color")(x)
    outputs = apply_color_head(x, head)
    return keras.Model(inputs, outputs, name=name)
