"""The KL term of a variational autoencoder (Kingma & Welling 2014, appendix B)."""

import keras
from keras import ops


def gaussian_kl_divergence(z_mean, z_log_var):
    """Per-example `KL(N(mean, exp(log_var)) || N(0, I))` (Kingma & Welling 2014, appendix B).

    `-KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)`, summed over the latent axes.

    Args:
        z_mean: posterior means, shape (B, ...).
        z_log_var: posterior log-variances, the shape of `z_mean` (else `ValueError`).

    Returns:
        The KL divergence of each example, shape (B,), in nats.

    Example:
    >>> import numpy as np
    >>> float(gaussian_kl_divergence(np.ones((1, 3)), np.zeros((1, 3)))[0])
    1.5
    """
    z_mean = ops.convert_to_tensor(z_mean, "float32")
    z_log_var = ops.convert_to_tensor(z_log_var, "float32")
    if tuple(z_mean.shape) != tuple(z_log_var.shape):
        raise ValueError(
            "`z_mean` and `z_log_var` must have the same shape. "
            f"Received: z_mean.shape={tuple(z_mean.shape)}, "
            f"z_log_var.shape={tuple(z_log_var.shape)}"
        )
    per_unit = 1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)
    per_unit = ops.reshape(per_unit, (ops.shape(per_unit)[0], -1))
    return -0.5 * ops.sum(per_unit, axis=-1)


def kl_loss(z_mean, z_log_var, beta=1.0, normalizer=1.0):
    """`beta * mean_batch(KL) / normalizer`: the VAE's weighted KL term, a scalar.

    Args:
        z_mean, z_log_var: as for `gaussian_kl_divergence`.
        beta: the weight of the KL term (beta-VAE, Higgins et al. 2017).
        normalizer: divides the per-example KL, e.g. the output size for a per-value MSE.
    """
    return beta * ops.mean(gaussian_kl_divergence(z_mean, z_log_var)) / normalizer


@keras.saving.register_keras_serializable(package="colorization")
class GaussianKL(keras.losses.Loss):
    """`beta` times the Gaussian KL as a loss: `y_true` holds the means, `y_pred` the log-variances.

    Args:
        beta: weight of the term.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> float(GaussianKL()(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")))
    1.0
    """

    def __init__(self, beta=1.0, reduction="sum_over_batch_size", name="gaussian_kl", dtype=None):
        if not float(beta) >= 0:
            raise ValueError(f"`beta` must be non-negative. Received: beta={beta}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.beta = float(beta)

    def call(self, y_true, y_pred):
        return self.beta * gaussian_kl_divergence(y_true, y_pred)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}
