"""The annealed mean: a distribution over ab bins -> an ab colour (Zhang et al. 2016, Sec. 2.3)."""

import keras
import numpy as np

from colorization.constants import ZHANG_TEMPERATURE
from colorization.quantization import ABQuantizer


@keras.saving.register_keras_serializable(package="colorization")
class AnnealedMean(keras.layers.Layer):
    """Turns a distribution over ab bins into an ab colour: the annealed mean (Zhang et al. eq. 5).

    Section 2.3 (report 000, 3.3): the bin centres' mean under `annealed_distribution`; T = 1 is the
    mean (desaturated), T -> 0 the mode (vivid, noisy), Zhang: 0.38. Float32 log space: stable for
    zero probabilities and T down to 0.01, under mixed precision too.

    Args:
        temperature: positive float, the annealing temperature T.
        bins: `(Q, 2)` bin centres, or `None` for Zhang's 313 bins.
        from_logits: whether inputs are logits rather than probabilities.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> probs = np.full((1, 4, 4, 313), 1.0 / 313, dtype="float32")
    >>> tuple(AnnealedMean(temperature=0.38)(probs).shape)
    (1, 4, 4, 2)
    """

    def __init__(self, temperature=ZHANG_TEMPERATURE, bins=None, from_logits=False, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if temperature <= 0:
            raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
        self.temperature = float(temperature)
        self.bins = None if bins is None else np.asarray(bins, dtype="float32").tolist()
        self.from_logits = bool(from_logits)
        self._quantizer = ABQuantizer(bins=bins, neighbors=1)

    def call(self, inputs):
        return self._quantizer.annealed_mean(inputs, self.temperature, from_logits=self.from_logits)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"temperature": self.temperature, "bins": self.bins, "from_logits": self.from_logits}
        )
        return config
