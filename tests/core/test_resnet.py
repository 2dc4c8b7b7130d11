"""Residual blocks and the stride-1 ResNet colorizer of report 004 (section 5.1)."""

import keras
import numpy as np
import pytest
from kit import run

from colorization.layers import apply_basic_block
from colorization.layers import apply_bottleneck_block
from colorization.layers import apply_conv_bn
from colorization.layers import apply_l_normalization
from colorization.models import resnet_colorizer

# Structure and parameter-count tests run on TensorFlow only (building the
# reference-size networks is slow under eager JAX); the numerical ones are
# marked `core` and also run under KERAS_BACKEND=jax.

TINY = {"width": 2, "stage_blocks": (1, 1, 1, 1)}


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def test_basic_block_shape_and_parameters():
    inputs = keras.Input((16, 16, 8))
    model = keras.Model(inputs, apply_basic_block(inputs, 16, strides=2))
    assert model.output_shape == (None, 8, 8, 16)
    # Two 3x3 convs without bias, a 1x1 projection, three BatchNorms (gamma, beta).
    expected = 3 * 3 * 8 * 16 + 3 * 3 * 16 * 16 + 8 * 16 + 3 * 2 * 16
    assert _trainable(model) == expected


def test_bottleneck_block_identity_shortcut_when_shapes_match():
    inputs = keras.Input((8, 8, 16))
    model = keras.Model(inputs, apply_bottleneck_block(inputs, 4))
    assert model.output_shape == (None, 8, 8, 16)
    assert not any("downsample" in layer.name for layer in model.layers)
    expected = 16 * 4 + 9 * 4 * 4 + 4 * 16 + 2 * (4 + 4 + 16)
    assert _trainable(model) == expected


@pytest.mark.core
def test_l_normalization_maps_l_range_to_unit_interval():
    inputs = keras.Input((1, 3, 1))
    model = keras.Model(inputs, apply_l_normalization(inputs))
    out = keras.ops.convert_to_numpy(
        model(np.array([0.0, 50.0, 100.0], "float32").reshape(1, 1, 3, 1))
    )
    np.testing.assert_allclose(out.ravel(), [-1.0, 0.0, 1.0], atol=1e-6)


def test_full_width_matches_resnet50_parameter_count():
    # torchvision's ResNet-50 has 25,557,032 parameters; drop the 2048->1000 classifier,
    # two of conv1's three 7x7x64 input channels, and add the 1x1 conv to ab.
    model = resnet_colorizer((32, 32, 1), width=64)
    expected = 25_557_032 - (2048 * 1000 + 1000) - 2 * 7 * 7 * 64 + (2048 * 2 + 2)
    assert _trainable(model) == expected


def spread_pre_activations(model, L):
    """Rescales the last convolution so that its outputs on L span about [-2.5, 2.5], where tanh
    is far from linear; returns a probe of those pre-activations."""
    to_color = model.get_layer("to_color")
    kernel, bias = to_color.get_weights()
    probe = keras.Model(model.inputs[0], to_color.output)
    pre = run(probe, L) - bias
    centre = pre.mean(axis=(0, 1, 2))
    factor = 2.5 / np.abs(pre - centre).max()
    to_color.set_weights([factor * kernel, -factor * centre])
    return probe


@pytest.mark.core
def test_keeps_resolution_everywhere_and_outputs_110_tanh(rng):
    model = resnet_colorizer((None, None, 1), **TINY)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D)):
            assert tuple(layer.strides) == (1, 1), layer.name
    L = rng.uniform(0, 100, (2, 40, 24, 1)).astype("float32")
    pre = run(spread_pre_activations(model, L), L)
    assert np.abs(pre).max() > 2.0
    ab = run(model, L)
    assert ab.shape == (2, 40, 24, 2)
    np.testing.assert_allclose(ab, 110.0 * np.tanh(pre), rtol=1e-5, atol=1e-3)
    # The stem sees L / 50 - 1: L = 50 everywhere is a zero input, so only biases
    # and BatchNorm offsets (zero at initialisation) remain: ab = 110 tanh(to_color's bias).
    flat = run(model, np.full((1, 8, 8, 1), 50.0, "float32"))
    bias = model.get_layer("to_color").get_weights()[1]
    np.testing.assert_allclose(flat, np.broadcast_to(110.0 * np.tanh(bias), flat.shape), rtol=1e-5)


@pytest.mark.core
def test_rgb_output_option_is_half_tanh_plus_half(rng):
    model = resnet_colorizer((32, 32, 1), head="rgb", **TINY)
    L = rng.uniform(0, 100, (1, 32, 32, 1)).astype("float32")
    pre = run(spread_pre_activations(model, L), L)
    assert np.abs(pre).max() > 2.0
    rgb = run(model, L)
    assert rgb.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(rgb, (np.tanh(pre) + 1.0) / 2.0, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"head": "classification"}, "head"),
        ({"input_shape": (32, 32, 3)}, "input_shape"),
        ({"stage_blocks": (3, 0)}, "stage_blocks"),
        ({"width": 0}, "width"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet_colorizer(**kwargs)


@pytest.mark.core
def test_strided_convolution_pads_symmetrically_like_pytorch(rng):
    # A stride-2 3x3 convolution padded one pixel on every side (PyTorch's padding=1),
    # computed by hand; Keras's "same" would pad only the bottom/right of an even input.
    inputs = keras.Input((6, 6, 1))
    model = keras.Model(inputs, apply_conv_bn(inputs, 1, 3, strides=2, activation=None, name="c"))
    kernel = rng.normal(size=(3, 3, 1, 1)).astype("float32")
    model.get_layer("c").set_weights([kernel])
    bn = model.get_layer("c_bn")
    bn.set_weights([np.ones(1), np.zeros(1), np.zeros(1), np.ones(1) - bn.epsilon])
    x = rng.normal(size=(1, 6, 6, 1)).astype("float32")
    padded = np.pad(x[0, :, :, 0], 1)
    expected = np.array(
        [
            [np.sum(padded[i : i + 3, j : j + 3] * kernel[:, :, 0, 0]) for j in range(0, 6, 2)]
            for i in range(0, 6, 2)
        ]
    )
    out = keras.ops.convert_to_numpy(model(x, training=False))[0, :, :, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
