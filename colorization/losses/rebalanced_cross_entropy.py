"""Class-rebalanced cross-entropy over quantised ab bins (Zhang et al. eq. 2)."""

import keras
import numpy as np
from keras import ops

from colorization.losses.targets import resize_targets
from colorization.quantization import ABQuantizer

_LOG_FLOOR = 1e-30


@keras.saving.register_keras_serializable(package="colorization")
class RebalancedCrossEntropy(keras.losses.Loss):
    """Weighted multinomial cross-entropy against soft-encoded ab targets (Zhang et al. eq. 2).

    `L = -sum_{h,w} v(Z_{h,w}) sum_q Z_{h,w,q} log Zhat_{h,w,q}` (as a mean over pixels; reports 000
    3.2, 003 2.2). `y_true` is ab `(B, H, W, 2)` at any size, resized to the output grid and soft
    encoded inside (data sets hold Lab only), or already encoded (last dimension Q).

    Args:
        class_weights: `(Q,)` weights `v` (`quantization.rebalancing_weights`), or `None` (uniform).
        quantizer: an `ABQuantizer` (or its config dict); `None` for Zhang's.
        from_logits: whether `y_pred` holds logits rather than probabilities.
        target_interpolation: ab target resizing: `"nearest"` (Zhang's), `"area"` or `"bilinear"`.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:
    >>> ab = np.zeros((2, 64, 64, 2), "float32")
    >>> probs = np.full((2, 16, 16, 313), 1 / 313, "float32")
    >>> round(float(RebalancedCrossEntropy()(ab, probs)), 3)  # log(313)
    5.746
    """

    def __init__(
        self,
        class_weights=None,
        quantizer=None,
        from_logits=False,
        target_interpolation="nearest",
        reduction="sum_over_batch_size",
        name="rebalanced_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(quantizer, dict):
            quantizer = keras.saving.deserialize_keras_object(quantizer)
        self.quantizer = quantizer if quantizer is not None else ABQuantizer()
        if class_weights is not None:
            class_weights = np.asarray(class_weights, dtype="float32")
            if class_weights.shape != (self.quantizer.num_bins,):
                raise ValueError(
                    f"`class_weights` must have shape ({self.quantizer.num_bins},). "
                    f"Received: shape={class_weights.shape}"
                )
        self.class_weights = class_weights
        self.from_logits = bool(from_logits)
        self.target_interpolation = target_interpolation

    def call(self, y_true, y_pred):
        num_bins = self.quantizer.num_bins
        if y_pred.shape[-1] != num_bins:
            raise ValueError(
                f"`y_pred` must hold {num_bins} bins in its last axis. Received: "
                f"shape={tuple(y_pred.shape)}"
            )
        y_pred = ops.cast(y_pred, "float32")
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
        else:
            log_probs = ops.log(ops.maximum(y_pred, _LOG_FLOOR))
        y_true = ops.cast(y_true, "float32")
        if y_true.shape[-1] == num_bins:
            cross_entropy = -ops.sum(y_true * log_probs, axis=-1)
            nearest = ops.argmax(y_true, axis=-1)
        elif y_true.shape[-1] == 2:
            y_true = resize_targets(
                y_true, y_pred.shape[1], y_pred.shape[2], self.target_interpolation
            )
            indices, weights = self.quantizer.soft_encode_sparse(y_true)
            picked = ops.take_along_axis(log_probs, indices, axis=-1)
            cross_entropy = -ops.sum(weights * picked, axis=-1)
            nearest = indices[..., 0]
        else:
            raise ValueError(
                f"`y_true` must be ab (last dim 2) or encoded (last dim {num_bins}). "
                f"Received: shape={tuple(y_true.shape)}"
            )
        if self.class_weights is None:
            return cross_entropy
        return cross_entropy * ops.take(ops.convert_to_tensor(self.class_weights), nearest, axis=0)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "class_weights": None
                if self.class_weights is None
                else self.class_weights.tolist(),
                "quantizer": keras.saving.serialize_keras_object(self.quantizer),
                "from_logits": self.from_logits,
                "target_interpolation": self.target_interpolation,
            }
        )
        return config
