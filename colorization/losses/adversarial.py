"""The conditional-GAN objective of pix2pix (Isola et al. 2017, eq. 1-4), used by report 004.

G: the non-saturating BCE (section 3.3) + lambda = 100 times L1; D: the two BCEs, halved "to slow
down the rate at which D learns". Every BCE is from logits, averaged over the patches.
"""

import keras
from keras import ops

PIX2PIX_L1_WEIGHT = 100.0
"""lambda of Isola et al. eq. 4."""


def _bce_with_logits(label, logits):
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")  # float32 BCE under mixed precision
    labels = ops.full(ops.shape(logits), label, dtype=logits.dtype)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_loss(real_logits, fake_logits):
    """The discriminator's half-weighted BCE: `(BCE(1, real) + BCE(0, fake)) / 2`.

    Args:
        real_logits, fake_logits: D's logits on real and on generated targets, any shape.

    Returns:
        The scalars `(total, real_term, fake_term)`.

    Example:
    >>> import numpy as np
    >>> total, real, fake = discriminator_loss(np.zeros((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)))
    >>> round(float(total), 4)  # log 2: an undecided discriminator
    0.6931
    """
    real_term = _bce_with_logits(1.0, real_logits)
    fake_term = _bce_with_logits(0.0, fake_logits)
    return 0.5 * (real_term + fake_term), real_term, fake_term


def generator_adversarial_loss(fake_logits):
    """The non-saturating generator term `BCE(1, D(x, G(x)))`, a scalar (Isola et al. 3.3)."""
    return _bce_with_logits(1.0, fake_logits)


def scaled_l1(y_true, y_pred, scale=1.0):
    """Mean absolute error of `y_true / scale` and `y_pred / scale` (see `ScaledL1`)."""
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    return ops.mean(ops.abs(y_true - y_pred)) / scale


@keras.saving.register_keras_serializable(package="colorization")
class AdversarialBCE(keras.losses.Loss):
    """Binary cross-entropy of discriminator logits `y_pred` against a constant label.

    Args:
        label: the target in [0, 1]: 1 for G's and D's real term, 0 for D's fake (`y_true` unused).
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> logits = np.zeros((2, 4, 4, 1), "float32")
    >>> round(float(AdversarialBCE(label=1.0)(logits, logits)), 4)
    0.6931
    """

    def __init__(
        self, label=1.0, reduction="sum_over_batch_size", name="adversarial_bce", dtype=None
    ):
        if not 0.0 <= float(label) <= 1.0:
            raise ValueError(f"`label` must lie in [0, 1]. Received: label={label}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label = float(label)

    def call(self, y_true, y_pred):
        labels = ops.full(ops.shape(y_pred), self.label, dtype=y_pred.dtype)
        per_element = ops.binary_crossentropy(labels, y_pred, from_logits=True)
        return ops.mean(ops.reshape(per_element, (ops.shape(y_pred)[0], -1)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "label": self.label}


@keras.saving.register_keras_serializable(package="colorization")
class ScaledL1(keras.losses.Loss):
    """Mean absolute error divided by `scale`: pix2pix's L1 on the [-1, 1] scale lambda = 100 suits.

    Args:
        scale: units of `y` per unit of [-1, 1] (`AB_SCALE` = 110 for ab; 1 if in [-1, 1]).
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> import numpy as np
    >>> round(float(ScaledL1(scale=110.0)(np.zeros((1, 2)), np.full((1, 2), 11.0))), 4)
    0.1
    """

    def __init__(self, scale=110.0, reduction="sum_over_batch_size", name="scaled_l1", dtype=None):
        if not float(scale) > 0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        per_element = ops.abs(y_true - y_pred) / self.scale
        return ops.mean(ops.reshape(per_element, (ops.shape(y_pred)[0], -1)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
