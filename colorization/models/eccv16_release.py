"""Zhang et al.'s ECCV 2016 network exactly as released, for loading the released weights.

`colorization.models.eccv16` is the trainable network (probabilities over
the 313 bins, decoded by `colorize` with the annealed mean). The authors'
released model ends differently: it turns the distribution into ab INSIDE the
network, with a fixed 1x1 convolution, and upsamples it to the input size.
`eccv16(head="release")` reproduces that end on top of the same blocks (the
same layer names, `conv1_1` ... `conv8_313`), so that
`colorization.weights.load("eccv16")` can copy the released PyTorch state
dict layer for layer and `colorize` gives the release's pictures.
"""

from colorization.models.eccv16 import CAFFE_LOGIT_SCALE  # noqa: F401  (re-exported)
from colorization.models.eccv16 import eccv16
from colorization.models.registry import register_model

RELEASE_AB_SCALE = 110.0


@register_model("eccv16_release", tiny_kwargs={"input_shape": (32, 32, 1), "width": 4})
def eccv16_release(
    input_shape=(256, 256, 1),
    width=64,
    logit_scale=1.0,
    ab_scale=RELEASE_AB_SCALE,
    batch_norm_epsilon=1e-5,
    name="eccv16_release",
):
    """The released ECCV16 colorizer: `eccv16(head="release")`, L in, ab out.

    Registered on its own so that the registry's shared tests sweep the
    release head too (output ab `(B, H, W, 2)`), and used by
    `colorization.weights`. See `colorization.models.eccv16` for the
    layers: eccv16's blocks, then `conv8_313`, `conv8_313_rh` (times
    `logit_scale`), softmax, the bias-free 1x1 projection `class8_ab` onto
    ab / `ab_scale`, bilinear x4 upsampling and times `ab_scale`. The released
    PyTorch weights use `logit_scale=1.0` (their forward pass has no scale);
    the Caffe model's is 2.606 (`CAFFE_LOGIT_SCALE`).

    Args:
        input_shape: `(height, width, 1)`, sides multiples of 8 (or `None`).
        width: channels of block 1; 64 is the released network.
        logit_scale: factor applied to the logits before the softmax.
        ab_scale: ab normalisation of the projection and of the output (110).
        batch_norm_epsilon: epsilon of every BatchNormalization.
        name: the model name.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab.

    Example:

    >>> from colorization.models.eccv16_release import eccv16_release
    >>> model = eccv16_release(input_shape=(64, 64, 1), width=8)
    >>> model.output_shape
    (None, 64, 64, 2)
    """
    return eccv16(
        input_shape=input_shape,
        head="release",
        width=width,
        ab_scale=ab_scale,
        batch_norm_epsilon=batch_norm_epsilon,
        name=name,
        logit_scale=logit_scale,
    )
