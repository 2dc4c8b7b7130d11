"""L normalisation: every model's first layer maps L in [0, 100] to its network's range."""

import keras

# (L - 50) / 100: Zhang et al.'s released models, the U-Net of report 000, report 003's branch.
CENTERED = (-0.5, 0.5)
# L / 50 - 1: Lab scaled to [-1, 1] (report 004 section 5.3, Deep Koalarization).
SYMMETRIC = (-1.0, 1.0)


def apply_l_normalization(x, output_range=SYMMETRIC, name="normalize_l"):
    """Maps L in [0, 100] linearly onto `output_range` with a `Rescaling` layer.

    Args:
        x: a Keras tensor of L values in [0, 100].
        output_range: `(low, high)`, the images of L = 0 and L = 100.
        name: the layer name.

    Returns:
        The normalised tensor.

    Example:
    >>> import numpy as np
    >>> L = np.array([0.0, 50.0, 100.0], "float32")
    >>> np.asarray(apply_l_normalization(L, CENTERED)).tolist()
    [-0.5, 0.0, 0.5]
    """
    low, high = (float(v) for v in output_range)
    return keras.layers.Rescaling(scale=(high - low) / 100.0, offset=low, name=name)(x)
