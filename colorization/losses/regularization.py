"""The colour regulariser of report 003 (eq. 5)."""

import keras
from keras import ops

from colorization.quantization import annealed_distribution

REGULARIZER_TEMPERATURE = 0.01


def color_regularizer_map(z, z_hat, temperature=REGULARIZER_TEMPERATURE, stop_gradient_z=True):
    """Per-pixel `1 - Z . f_T(Zhat) / max(Z)`: shape of `z` without its last axis."""
    z = ops.cast(z, "float32")
    if stop_gradient_z:
        z = ops.stop_gradient(z)
    if z.shape[-1] != z_hat.shape[-1]:
        raise ValueError(
            f"`z` and `z_hat` must be distributions over the same bins. "
            f"Received: z.shape={tuple(z.shape)}, z_hat.shape={tuple(z_hat.shape)}"
        )
    sharpened = annealed_distribution(z_hat, temperature)
    agreement = ops.sum(z * sharpened, axis=-1) / ops.maximum(ops.max(z, axis=-1), 1e-12)
    return 1.0 - agreement


def color_regularizer(z, z_hat, temperature=REGULARIZER_TEMPERATURE, stop_gradient_z=True):
    """Report 003 eq. 5 averaged over pixels: a scalar in [0, 1].

    Args:
        z: the base network's distribution `(..., Q)` (softmax output).
        z_hat: the refined distribution `(..., Q)`.
        temperature: T of `f_T` (report 003: 0.01, close to one-hot).
        stop_gradient_z: block gradients into `z`: only the refinement trains (report 003, sec. 4).

    Example:
    >>> import numpy as np
    >>> z = np.array([[0.6, 0.3, 0.1]], "float32")
    >>> round(float(color_regularizer(z, np.array([[0.1, 0.8, 0.1]], "float32"))), 3)
    0.5
    """
    return ops.mean(color_regularizer_map(z, z_hat, temperature, stop_gradient_z))


@keras.saving.register_keras_serializable(package="colorization")
class ColorRegularizer(keras.losses.Loss):
    """Keeps the mode of a refined distribution likely under the original one (report 003, eq. 5).

    Section 3.2: eq. 4, `1 - Z[argmax(Zhat)] / max(Z)`, has no useful gradient, so eq. 5 sharpens
    Zhat with `f_T` (T = 0.01); a mean over pixels, in [0, 1]. `loss(Z, Zhat)`: no gradient to Z.

    Args:
        temperature: T of `f_T`.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> z = np.array([[0.6, 0.3, 0.1]], "float32")
    >>> round(float(ColorRegularizer()(z, z)), 3)
    0.0
    """

    def __init__(
        self,
        temperature=REGULARIZER_TEMPERATURE,
        reduction="sum_over_batch_size",
        name="color_regularizer",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if temperature <= 0:
            raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return color_regularizer_map(y_true, y_pred, self.temperature, stop_gradient_z=True)

    def get_config(self):
        config = super().get_config()
        config["temperature"] = self.temperature
        return config
