"""Zhang et al.'s ECCV 2016 network as released, `eccv16(head="release")`: L in, ab out."""

from colorization.layers import TORCH_BN_EPSILON
from colorization.models.eccv16 import eccv16
from colorization.models.registry import register_model


@register_model("eccv16_release")
def eccv16_release(
    input_shape=(256, 256, 1),
    width=64,
    head="release",
    logit_scale=1.0,
    batch_norm_epsilon=TORCH_BN_EPSILON,
    name="eccv16_release",
):
    """The released ECCV16 colorizer (Zhang et al. 2016, Fig. 2); layers as `eccv16`.

    Args:
        input_shape, width, batch_norm_epsilon, name: as for `eccv16`.
        head: only `"release"` (ab at the input's resolution).
        logit_scale: factor on the logits before the softmax: 1.0 for the PyTorch weights, 2.606
            for the Caffe model's (`CAFFE_LOGIT_SCALE`).

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab `(B, H, W, 2)`.

    Example:
    >>> eccv16_release(input_shape=(64, 64, 1), width=8).output_shape
    (None, 64, 64, 2)
    """
    if head != "release":
        raise ValueError(f"eccv16_release has only the release head. Received: head={head!r}")
    return eccv16(
        input_shape=input_shape,
        width=width,
        head="release",
        logit_scale=logit_scale,
        batch_norm_epsilon=batch_norm_epsilon,
        name=name,
    )
