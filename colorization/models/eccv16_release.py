"""Zhang et al.'s ECCV 2016 network exactly as released: `eccv16(head="release")`, L in, ab out.

The released model turns the bin distribution into ab inside the network
(a fixed 1x1 projection onto the bin centres) and upsamples it to the input
size; `colorization.weights.load("eccv16")` copies the released PyTorch state
dict into it layer for layer.
"""

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
    """The released ECCV16 colorizer (Zhang et al. 2016, Fig. 2), registered so the sweep covers it.

    See `colorization.models.eccv16` for the layers. The released PyTorch
    weights use `logit_scale=1.0` (their forward pass has no scale); the
    Caffe model's is 2.606 (`colorization.models.eccv16.CAFFE_LOGIT_SCALE`).

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1; 64 is the released network.
        head: only `"release"` (ab at the input's resolution).
        logit_scale: factor applied to the logits before the softmax.
        batch_norm_epsilon: epsilon of every BatchNormalization.
        name: the model name.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab `(B, H, W, 2)`.

    Example:

    >>> from colorization.models import eccv16_release
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
