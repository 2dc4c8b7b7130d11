"""The builder contract: argument checks (`ValueError`s quoting the value) and channel scaling.

Example:
>>> scaled_channels(512, width=16, reference_width=64)
128
"""

from colorization.constants import NUM_AB_BINS

# What a model outputs: ab in Lab units, probabilities over ab bins, or RGB in [0, 1] (report 004).
REGRESSION = "regression"
CLASSIFICATION = "classification"
RGB = "rgb"


def check_input_shape(input_shape, model, multiple=1, channels=1, fixed=False):
    """Checks an `(height, width, channels)` input shape and returns it as a tuple.

    Args:
        input_shape, model: the builder's `input_shape` and the model's name (for the message).
        multiple: height and width must be multiples of it (the total downsampling).
        channels: the required channel count, or `None` for any.
        fixed: whether height and width must be given (not `None`).
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or (channels is not None and input_shape[-1] != channels):
        expected = "C" if channels is None else channels
        raise ValueError(
            f"{model} takes input_shape (height, width, {expected}). Received: "
            f"input_shape={input_shape}"
        )
    for side in input_shape[:2]:
        if side is None and fixed:
            raise ValueError(
                f"{model} needs a fixed height and width. Received: input_shape={input_shape}"
            )
        if side is not None and (side < multiple or side % multiple):
            raise ValueError(
                f"{model} needs height and width that are multiples of {multiple}. "
                f"Received: input_shape={input_shape}"
            )
    return input_shape


def check_positive_int(name, value):
    """Raises unless `value` is a positive integer (booleans excluded); returns it as `int`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 1
        or int(value) != value
    ):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`; returns it."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}")
    return value


def check_rate(name, value):
    """Raises unless `0 <= value < 1` (a dropout rate, a momentum); returns it as `float`."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must lie in [0, 1). Received: {name}={value}")
    return float(value)


def resolve_num_bins(num_bins, quantizer=None, default=NUM_AB_BINS):
    """The number of bins Q of a classification head, from `num_bins` or a quantizer's bins.

    Args:
        num_bins: the builder's `num_bins`, or `None` for the quantizer's or `default`.
        quantizer: an `ABQuantizer`, or `None`.
        default: Q when neither is given (Zhang's 313).
    """
    if quantizer is not None:
        quantizer_bins = int(quantizer.num_bins)
        if num_bins is not None and int(num_bins) != quantizer_bins:
            raise ValueError(
                f"`num_bins` disagrees with the quantizer, which has {quantizer_bins} bins. "
                f"Received: num_bins={num_bins}"
            )
        return quantizer_bins
    num_bins = default if num_bins is None else num_bins
    if check_positive_int("num_bins", num_bins) < 2:
        raise ValueError(
            f"A classification head needs at least 2 bins. Received: num_bins={num_bins}"
        )
    return int(num_bins)


def scaled_channels(channels, width, reference_width):
    """A layer's channels at `width`: `channels * width / reference_width`, floored, at least 1."""
    return max(1, (int(channels) * int(width)) // int(reference_width))
