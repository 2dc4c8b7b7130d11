"""The gradient-coherence loss of report 003 (eq. 3)."""

import keras
from keras import ops

from colorization.losses.targets import resize_targets

_SQRT_FLOOR = 1e-12


def _safe_norm(squared):
    """sqrt with value and gradient 0 at 0 (plain sqrt has an infinite slope there)."""
    return ops.where(squared > _SQRT_FLOOR, ops.sqrt(ops.maximum(squared, _SQRT_FLOOR)), 0.0)


def gradient_coherence_map(ab_true, ab_pred):
    """Per-pixel `||dY - dYhat||_2`, dY the forward a and b differences: `(B, H-1, W-1)`."""
    ab_true = ops.cast(ab_true, "float32")
    ab_pred = ops.cast(ab_pred, "float32")
    delta = ab_true - ab_pred
    along_width = delta[:, :-1, 1:, :] - delta[:, :-1, :-1, :]
    along_height = delta[:, 1:, :-1, :] - delta[:, :-1, :-1, :]
    squared = ops.sum(ops.square(along_width), axis=-1) + ops.sum(ops.square(along_height), axis=-1)
    return _safe_norm(squared)


def gradient_coherence(ab_true, ab_pred):
    """Report 003 eq. 3 averaged over pixels: a scalar. See `GradientCoherenceLoss`."""
    return ops.mean(gradient_coherence_map(ab_true, ab_pred))


@keras.saving.register_keras_serializable(package="colorization")
class GradientCoherenceLoss(keras.losses.Loss):
    """Distance between the gradients of predicted and true ab (report 003, section 3.1, eq. 3).

    `L_C = sum_{h,w} ||dY_{h,w} - dYhat_{h,w}||_2`, dY the horizontal and vertical a and b
    differences: colour changes where the truth does, whatever the colour. Open choices: forward
    differences on the `(H-1) x (W-1)` pixels with both neighbours, and a mean instead of the sum.

    Args:
        target_interpolation: ab target resizing: `"nearest"`, `"area"` or `"bilinear"`.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> truth = np.zeros((1, 4, 4, 2), "float32"); truth[:, :, 2:, 0] = 10.0
    >>> float(GradientCoherenceLoss()(truth, truth + 25.0))  # a shift costs nothing
    0.0
    """

    def __init__(
        self,
        target_interpolation="nearest",
        reduction="sum_over_batch_size",
        name="gradient_coherence",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.target_interpolation = target_interpolation

    def call(self, y_true, y_pred):
        if y_pred.shape[-1] != 2 or y_true.shape[-1] != 2:
            raise ValueError(
                "GradientCoherenceLoss compares ab images (last dim 2). "
                f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
            )
        y_true = resize_targets(y_true, y_pred.shape[1], y_pred.shape[2], self.target_interpolation)
        return gradient_coherence_map(y_true, y_pred)

    def get_config(self):
        config = super().get_config()
        config["target_interpolation"] = self.target_interpolation
        return config
