"""The tanh colour head: pre-activations -> ab in Lab units or RGB in [0, 1], in float32."""

import keras

from colorization.constants import AB_SCALE

# head -> output channels: ab in Lab units, or RGB in [0, 1] (report 004's output).
COLOR_HEADS = {"regression": 2, "rgb": 3}


def color_channels(head):
    """2 for `"regression"` (ab), 3 for `"rgb"`; raises for any other head."""
    if head not in COLOR_HEADS:
        raise ValueError(f"`head` must be one of {tuple(COLOR_HEADS)}. Received: head={head!r}")
    return COLOR_HEADS[head]


def apply_color_head(x, head="regression", name="color"):
    """Pre-activations to colour in float32: `AB_SCALE * tanh(x)` (ab) or `(tanh(x) + 1) / 2` (RGB).

    The tanh bounds ab to every displayable value (`AB_SCALE` = 110) and RGB to [0, 1] (report 004).

    Args:
        x: a Keras tensor with `color_channels(head)` channels.
        head: `"regression"` (ab in Lab units) or `"rgb"`.
        name: prefix of the layer names.

    Returns:
        The colour tensor.

    Example:
    >>> import numpy as np
    >>> np.asarray(apply_color_head(np.full((1, 2), 100.0, "float32"))).tolist()
    [[110.0, 110.0]]
    """
    color_channels(head)
    x = keras.layers.Activation("tanh", name=f"{name}_tanh", dtype="float32")(x)
    if head == "regression":
        return keras.layers.Rescaling(scale=AB_SCALE, name=f"{name}_ab", dtype="float32")(x)
    return keras.layers.Rescaling(scale=0.5, offset=0.5, name=f"{name}_rgb", dtype="float32")(x)
