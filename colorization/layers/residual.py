"""ResNet blocks (He et al. 2016), named as torchvision's: `layer1_0_conv1` is `layer1.0.conv1`."""

import keras

from colorization.layers.conv_bn import apply_conv_bn


def _apply_shortcut(x, filters, strides, name):
    if strides == 1 and x.shape[-1] == filters:
        return x
    return apply_conv_bn(x, filters, 1, strides=strides, activation=None, name=f"{name}_downsample")


def apply_basic_block(x, filters, strides=1, name="block"):
    """The block of ResNet-18/34 (He et al. 2016, Fig. 2, left).

    conv3x3(stride)-BN-ReLU-conv3x3-BN plus the input (1x1 conv-BN when the shape changes), ReLU.

    Args:
        x, filters: the input Keras tensor (B, H, W, C) and the output channels.
        strides: stride of the first convolution.
        name: prefix of the layer names, e.g. `"layer1_0"`.

    Example:
    >>> apply_basic_block(keras.Input((32, 32, 8)), 16, strides=2).shape
    (None, 16, 16, 16)
    """
    shortcut = _apply_shortcut(x, filters, strides, name)
    y = apply_conv_bn(x, filters, 3, strides=strides, name=f"{name}_conv1")
    y = apply_conv_bn(y, filters, 3, activation=None, name=f"{name}_conv2")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def apply_bottleneck_block(x, filters, strides=1, expansion=4, name="block"):
    """The bottleneck block of ResNet-50 (He et al. 2016, Fig. 5), stride on the 3x3 ("v1.5").

    conv1x1 - BN - ReLU - conv3x3(stride) - BN - ReLU - conv1x1 - BN, plus the input, ReLU.

    Args:
        x, filters: the input (B, H, W, C) and the inner channels (output: `expansion * filters`).
        strides: stride of the 3x3 convolution.
        expansion: output channels over inner channels (4 in ResNet-50).
        name: prefix of the layer names.

    Example:
    >>> apply_bottleneck_block(keras.Input((32, 32, 8)), 4).shape
    (None, 32, 32, 16)
    """
    shortcut = _apply_shortcut(x, filters * expansion, strides, name)
    y = apply_conv_bn(x, filters, 1, name=f"{name}_conv1")
    y = apply_conv_bn(y, filters, 3, strides=strides, name=f"{name}_conv2")
    y = apply_conv_bn(y, filters * expansion, 1, activation=None, name=f"{name}_conv3")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def apply_resnet_stage(x, block_fn, filters, num_blocks, strides=1, name="layer1"):
    """`num_blocks` residual blocks `block_fn`, only the first strided; block i is `{name}_{i}`.

    Example:
    >>> apply_resnet_stage(keras.Input((16, 16, 4)), apply_basic_block, 8, 2, strides=2).shape
    (None, 8, 8, 8)
    """
    for i in range(num_blocks):
        x = block_fn(x, filters, strides=strides if i == 0 else 1, name=f"{name}_{i}")
    return x
