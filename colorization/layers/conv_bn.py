"""Convolution - BatchNorm - activation, padded as PyTorch pads, so ported weights line up."""

import keras

# BatchNorm epsilon of PyTorch (and of torchvision's ResNets), so ported weights behave as trained.
TORCH_BN_EPSILON = 1e-5


def apply_conv_bn(x, filters, kernel_size, strides=1, activation="relu", name="conv"):
    """A bias-free convolution, BatchNorm and an optional activation (He et al. 2016's unit).

    Strided convolutions pad `kernel_size // 2` on every side, then use `"valid"`, as PyTorch
    (Keras's `"same"` pads asymmetrically); stride-1 ones use `"same"`.

    Args:
        x: input Keras tensor.
        filters: output channels.
        kernel_size: an odd integer.
        strides, activation: 1 or 2; an activation name or `None`.
        name: prefix; the layers are `{name}` (conv) and `{name}_bn`.

    Returns:
        The output tensor.

    Example:
    >>> apply_conv_bn(keras.Input((32, 32, 3)), 8, 7, strides=2).shape
    (None, 16, 16, 8)
    """
    padding = "same"
    if strides > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
    )(x)
    x = keras.layers.BatchNormalization(epsilon=TORCH_BN_EPSILON, name=f"{name}_bn")(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x
