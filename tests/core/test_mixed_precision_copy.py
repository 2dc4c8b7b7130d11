"""`mixed_precision_copy`: a bfloat16 copy of a trained float32 model, for fast inference.

Checked against the float32 model it copies (a separate computation in
another precision): which layers compute in 16 bits, that the weights and the
original are untouched, and that predictions stay within bfloat16's rounding
of float32's (8 significant bits: the tolerance of `tests/test_mixed_precision.py`).
"""

import keras
import numpy as np
import pytest
from kit import tiny_model_kwargs

import colorization
from colorization.models.registry import get_model
from colorization.training.mixed_precision import float32_head
from colorization.training.mixed_precision import mixed_precision_copy

pytestmark = pytest.mark.core

RELATIVE_TOLERANCE = 0.04


def _release_like(seed=0):
    """A tiny ECCV16 release network, He-normal weights, peaked bin distributions (ab up to ~40)."""
    model = get_model("eccv16_release", **tiny_model_kwargs("eccv16_release"))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if (
            isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
            and layer.trainable
        ):
            weights = layer.get_weights()
            kernel = weights[0]
            transposed = isinstance(layer, keras.layers.Conv2DTranspose)
            fan_in = np.prod(kernel.shape[:2]) * kernel.shape[3 if transposed else 2]
            gain = 10.0 if layer.name == "conv8_313" else 1.0
            weights[0] = (gain * rng.normal(0, np.sqrt(2.0 / fan_in), kernel.shape)).astype(
                np.float32
            )
            if len(weights) > 1:
                weights[1] = rng.uniform(0, 0.1, weights[1].shape).astype(np.float32)
            layer.set_weights(weights)
    return model


def test_the_convolutions_compute_in_bfloat16_and_the_head_in_float32():
    model = _release_like()
    fast = mixed_precision_copy(model)
    # ECCV16's head, from its architecture: the 1x1 logits, their scale, softmax, the ab projection,
    # upsampling, x110.
    head = ["conv8_313", "conv8_313_rh", "probabilities", "class8_ab", "upsample_ab", "ab"]
    assert float32_head(model) == head
    for layer in fast.layers:
        if layer.name in head:
            assert layer.compute_dtype == "float32", layer.name
        elif isinstance(layer, keras.layers.Conv2D) and layer.kernel_size != (1, 1):
            assert layer.compute_dtype == "bfloat16", layer.name
            assert layer.variable_dtype == "float32", layer.name
    assert fast.name == f"{model.name}_mixed_bfloat16"
    if keras.backend.backend() == "tensorflow":
        assert fast.jit_compile is False  # XLA:CPU has no fast bfloat16 convolutions


def test_the_copy_has_the_weights_and_leaves_the_original_alone():
    model = _release_like()
    L = (
        np.random.default_rng(1)
        .uniform(0, 100, (2,) + tuple(model.input_shape[1:]))
        .astype(np.float32)
    )
    before = model.predict(L, verbose=0)
    fast = mixed_precision_copy(model)
    for original, copied in zip(model.get_weights(), fast.get_weights()):
        np.testing.assert_array_equal(original, copied)
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    np.testing.assert_array_equal(model.predict(L, verbose=0), before)


@pytest.mark.parametrize("name", ["eccv16_release", "siggraph17", "unet"])
def test_predictions_stay_within_bfloat16_rounding_of_float32(name):
    model = (
        _release_like() if name == "eccv16_release" else get_model(name, **tiny_model_kwargs(name))
    )
    shape = tuple(32 if d is None else d for d in model.input_shape[1:])
    L = np.random.default_rng(2).uniform(0, 100, (2,) + shape).astype(np.float32)
    expected = model.predict(L, verbose=0)
    fast = mixed_precision_copy(model)
    predicted = fast.predict(L, verbose=0)
    assert predicted.dtype == np.float32
    scale = np.abs(expected).max()
    assert scale > 0
    difference = np.abs(predicted - expected).max()
    assert difference <= RELATIVE_TOLERANCE * scale
    assert difference > 0  # it did compute in 16 bits


def test_colorize_with_the_copy_gives_nearly_the_same_pictures(photo_rgb):
    model = _release_like()
    photo = (photo_rgb * 255).astype(np.uint8)
    expected = colorization.colorize(model, photo).astype(int)
    pictures = colorization.colorize(mixed_precision_copy(model), photo).astype(int)
    assert pictures.shape == expected.shape
    assert np.abs(pictures - expected).max() <= 4


def test_what_cannot_be_copied_is_named():
    with pytest.raises(ValueError, match="'float8'"):
        mixed_precision_copy(_release_like(), "float8")

    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="functional keras.Model.*Received: model=Subclassed"):
        mixed_precision_copy(Subclassed())
