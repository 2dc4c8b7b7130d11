"""The reparameterised Gaussian sample of a VAE, which adds its KL term to the model's losses."""

import keras
from keras import ops

from colorization.losses.kl import kl_loss


@keras.saving.register_keras_serializable(package="colorization")
class GaussianSampling(keras.layers.Layer):
    """`z = mean + exp(log_var / 2) * eps` (Kingma & Welling 2014, section 2.4), adding the KL term.

    Called on `[z_mean, z_log_var]`; `z_mean` in inference. Each call `add_loss`es `kl.kl_loss`.

    Args:
        beta: weight of the KL term.
        kl_normalizer: divides the per-example KL, e.g. by the output size to match a per-value MSE.
        seed: seed of the noise.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> import numpy as np
    >>> layer = GaussianSampling()
    >>> z = layer([np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")])
    >>> [round(float(loss), 3) for loss in layer.losses]  # KL = (1 + 1) / 2
    [1.0]
    """

    def __init__(self, beta=1.0, kl_normalizer=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not float(beta) >= 0:
            raise ValueError(f"`beta` must be non-negative. Received: beta={beta}")
        if not float(kl_normalizer) > 0:
            raise ValueError(
                f"`kl_normalizer` must be positive. Received: kl_normalizer={kl_normalizer}"
            )
        self.beta = float(beta)
        self.kl_normalizer = float(kl_normalizer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        self.add_loss(kl_loss(z_mean, z_log_var, beta=self.beta, normalizer=self.kl_normalizer))
        if not training:
            return z_mean
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "kl_normalizer": self.kl_normalizer,
            "seed": self.seed,
        }
