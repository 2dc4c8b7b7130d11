"""How losses adapt `(B, H, W, 2)` ab targets to their model's output grid."""

from keras import ops

TARGET_INTERPOLATIONS = ("nearest", "bilinear", "area")


def resize_targets(ab, height, width, interpolation="nearest"):
    """Resizes ab targets `(B, H, W, C)` to `(B, height, width, C)` if needed.

    `"nearest"` subsamples (pixels 0, 4, 8, ... as Zhang et al.'s training net's fixed 1x1 stride-4
    conv), never mixing two regions (non-integer factors: nearest-neighbour resizing). `"area"`
    averages blocks (integer factors only); `"bilinear"` interpolates.
    """
    if interpolation not in TARGET_INTERPOLATIONS:
        raise ValueError(
            f"`interpolation` must be one of {TARGET_INTERPOLATIONS}. Received: "
            f"interpolation={interpolation!r}"
        )
    in_height, in_width = ab.shape[1], ab.shape[2]
    if in_height == height and in_width == width:
        return ab
    integer_factors = in_height is not None and in_height % height == 0 and in_width % width == 0
    if interpolation == "nearest" and integer_factors:
        return ab[:, :: in_height // height, :: in_width // width, :]
    if interpolation == "area":
        if not integer_factors:
            raise ValueError(
                "`area` resizing needs integer factors. "
                f"Received targets of {in_height}x{in_width} for a {height}x{width} output."
            )
        factor = (in_height // height, in_width // width)
        return ops.average_pool(ab, pool_size=factor, strides=factor, padding="valid")
    return ops.image.resize(ab, (height, width), interpolation=interpolation, antialias=False)
