"""A reduced-precision copy of a trained model, for fast inference.

Convolutions compute in 16 bits; the head (`float32_head`, every softmax and annealed mean) stays
float32, as its rounding would land on the colours.
"""

import keras

from colorization.layers import AnnealedMean

REDUCED_PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16")
_ALWAYS_FLOAT32 = (keras.layers.Softmax, AnnealedMean)


def _spatial_kernel(layer):
    kernel_size = getattr(layer, "kernel_size", None)
    if kernel_size is None:
        return False
    sizes = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,)
    size = 1
    for value in sizes:
        size *= int(value)
    return size > 1


def float32_head(model):
    """Layer names after the last convolution with a kernel over 1x1 (all if there is none)."""
    layers = model.layers
    last = max((i for i, layer in enumerate(layers) if _spatial_kernel(layer)), default=-1)
    return [layer.name for layer in layers[last + 1 :]]


def mixed_precision_copy(model, policy="mixed_bfloat16"):
    """A copy of a functional `model` computing in 16 bits, with the same (float32) weights.

    Every layer takes `policy` but the float32 head (module docstring) and layers not in float32.
    On TensorFlow the copy predicts without XLA, which lacks bfloat16 convolutions on CPU.

    Args:
        model: a functional `keras.Model` (for `Pix2Pix`, its `generator`).
        policy: `"mixed_bfloat16"` or `"mixed_float16"`.

    Returns:
        A new `keras.Model` named `<name>_<policy>`, its head in float32.

    Raises:
        ValueError: an unknown policy, or a model that is not functional.

    Example:
    >>> import keras, numpy as np
    >>> inputs = keras.Input((8, 8, 1))
    >>> hidden = keras.layers.Conv2D(4, 3, padding="same", name="features")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="ab")(hidden))
    >>> fast = mixed_precision_copy(model)
    >>> fast.get_layer("features").compute_dtype, fast.get_layer("ab").compute_dtype
    ('bfloat16', 'float32')
    >>> fast.predict(np.zeros((1, 8, 8, 1)), verbose=0).dtype
    dtype('float32')
    """
    if policy not in REDUCED_PRECISION_POLICIES:
        raise ValueError(
            f"`policy` must be one of {REDUCED_PRECISION_POLICIES}. Received: policy={policy!r}"
        )
    if not isinstance(model, (keras.Function, keras.Sequential)):
        raise ValueError(
            "mixed_precision_copy needs a functional keras.Model "
            "(for Pix2Pix, copy its `generator`). "
            f"Received: model={type(model).__name__}"
        )
    keep = set(float32_head(model))

    def clone(layer):
        config = layer.get_config()
        if (
            layer.name not in keep
            and not isinstance(layer, _ALWAYS_FLOAT32)
            and not isinstance(layer, keras.layers.InputLayer)
            and layer.dtype_policy.name == "float32"
        ):
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    copy.name = f"{model.name}_{policy}"
    if keras.backend.backend() == "tensorflow":
        copy.jit_compile = False
    return copy
