"""SIGGRAPH17 and the release-compatible ECCV16 end: structure, counts, hints, saving."""

import keras
import numpy as np
import pytest
from kit import run

from colorization.inference import colorize
from colorization.models import siggraph17
from colorization.models.eccv16_release import eccv16_release

pytestmark = pytest.mark.core


def siggraph17_param_count(classes=529):
    """Parameters of the released SIGGRAPHGenerator by hand (BatchNorm: 4 vectors each)."""
    conv = lambda c_in, c_out, k=3: c_in * c_out * k * k + c_out  # noqa: E731
    bn = lambda c: 4 * c  # noqa: E731
    total = conv(4, 64) + conv(64, 64) + bn(64)
    total += conv(64, 128) + conv(128, 128) + bn(128)
    total += conv(128, 256) + 2 * conv(256, 256) + bn(256)
    total += conv(256, 512) + 2 * conv(512, 512) + bn(512)
    total += 3 * (3 * conv(512, 512) + bn(512))  # blocks 5, 6 (dilated) and 7
    total += (
        conv(512, 256, 4) + conv(256, 256) + 2 * conv(256, 256) + bn(256)
    )  # up, shortcut, 2 convs
    total += conv(256, 128, 4) + conv(128, 128) + conv(128, 128) + bn(128)
    total += conv(128, 128, 4) + conv(64, 128) + conv(128, 128)
    total += conv(128, 2, 1)
    return total + (conv(256, classes, 1) if classes else 0)


def test_released_parameter_count_and_shapes():
    model = siggraph17(head="regression_and_classification", hints=True)
    assert model.count_params() == siggraph17_param_count() == 34_192_787
    assert [tuple(o.shape) for o in model.outputs] == [(None, 256, 256, 2), (None, 64, 64, 529)]
    sizes = {
        "conv1_2": 256,
        "conv2_2": 128,
        "conv3_3": 64,
        "conv4_3": 32,
        "conv7_3": 32,
        "conv8_1": 64,
        "conv9_1": 128,
        "conv10_1": 256,
    }
    for name, size in sizes.items():
        assert model.get_layer(name).output.shape[1] == size, name
    assert model.get_layer("conv5_1").dilation_rate == (2, 2)
    assert isinstance(model.get_layer("conv9_1"), keras.layers.Conv2DTranspose)


def test_automatic_variant_has_the_same_weights_and_one_input():
    automatic = siggraph17(input_shape=(32, 32, 1), width=4)
    interactive = siggraph17(
        input_shape=(32, 32, 1), width=4, hints=True, head="regression_and_classification"
    )
    assert len(automatic.inputs) == 1 and automatic.output_shape == (None, 32, 32, 2)
    shapes = lambda m: [
        (w.path, tuple(w.shape)) for w in m.weights if "conv8_classes" not in w.path
    ]  # noqa: E731
    assert shapes(automatic) == shapes(interactive)


def test_subsampling_keeps_every_second_pixel(rng):
    # The release slices [:, :, ::2, ::2] between blocks; the model uses a 1x1 pooling of stride 2.
    model = siggraph17(input_shape=(32, 32, 1), width=4)
    for block in ("conv1_2_sub", "conv2_2_sub", "conv3_3_sub"):
        layer = model.get_layer(block)
        assert isinstance(layer, keras.layers.AveragePooling2D), block
        x = rng.normal(size=(2, 12, 10, 3)).astype(np.float32)
        np.testing.assert_array_equal(run(layer, x), x[:, ::2, ::2])
    assert model.get_layer("conv2_1").input.shape[1] == 16


def test_automatic_mode_is_the_interactive_network_without_hints(rng):
    keras.utils.set_random_seed(1)
    automatic = siggraph17(input_shape=(32, 32, 1), width=4)
    interactive = siggraph17(input_shape=(32, 32, 1), width=4, hints=True)
    interactive.set_weights(automatic.get_weights())
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    zeros = np.zeros((2, 32, 32, 2), np.float32)
    no_hints = run(interactive, [L, zeros, zeros[..., :1]])
    np.testing.assert_allclose(run(automatic, L), no_hints, atol=1e-6)
    mask = np.zeros((2, 32, 32, 1), np.float32)
    mask[:, 10:14, 10:14] = 1
    hinted = run(interactive, [L, np.full((2, 32, 32, 2), 60.0, np.float32) * mask, mask])
    assert np.abs(hinted - no_hints).max() > 1e-3
    assert np.abs(no_hints).max() <= 110.0  # tanh times 110


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="multiples of 8"):
        siggraph17(input_shape=(36, 32, 1))
    with pytest.raises(ValueError, match=r"\(height, width, 1\)"):
        siggraph17(input_shape=(32, 32, 3))


def test_hint_model_with_class_branch_round_trips(rng, tmp_path):
    model = siggraph17(
        input_shape=(None, None, 1), width=4, hints=True, head="regression_and_classification"
    )
    inputs = [
        rng.uniform(0, 100, (1, 24, 40, 1)).astype(np.float32),
        rng.normal(0, 20, (1, 24, 40, 2)).astype(np.float32),
        (rng.uniform(size=(1, 24, 40, 1)) < 0.2).astype(np.float32),
    ]
    model.save(tmp_path / "s.keras")
    restored = keras.saving.load_model(tmp_path / "s.keras", safe_mode=True)
    for a, b in zip(restored(inputs, training=False), model(inputs, training=False)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5
        )
    probs = keras.ops.convert_to_numpy(model(inputs, training=False)[1])
    assert probs.shape == (1, 6, 10, 529)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_automatic_model_colorizes_any_size(photo_rgb):
    model = siggraph17(input_shape=(None, None, 1), width=4)
    out = colorize(model, photo_rgb[:50, :70])
    assert out.shape == (50, 70, 3) and out.dtype == np.uint8


def test_release_ecc16_end_is_the_expectation_over_the_bins(reference_bins):
    # Logits that single out one bin make the release's output that bin's colour everywhere
    # (softmax -> fixed projection / 110 -> x4 bilinear -> x110), against the reference table.
    model = eccv16_release(input_shape=(32, 32, 1), width=4)
    conv = model.get_layer("conv8_313")
    kernel, bias = conv.get_weights()
    bias = np.full_like(bias, -30.0)
    bias[200] = 30.0
    conv.set_weights([np.zeros_like(kernel), bias])
    out = run(model, np.full((1, 32, 32, 1), 50.0, np.float32))
    assert out.shape == (1, 32, 32, 2)
    np.testing.assert_allclose(out, np.broadcast_to(reference_bins[200], out.shape), atol=1e-3)
    assert not model.get_layer("class8_ab").trainable


def test_release_ecc16_logit_scale_anneals_the_distribution(reference_bins):
    # Two bins with logits 0 and 1: softmax(s * logits) weighs them 1 : e^s (Zhang eq. 5, T = 1/s).
    model = eccv16_release(input_shape=(32, 32, 1), width=4, logit_scale=2.606)
    conv = model.get_layer("conv8_313")
    kernel, bias = conv.get_weights()
    bias = np.full_like(bias, -40.0)
    bias[[100, 250]] = [0.0, 1.0]
    conv.set_weights([np.zeros_like(kernel), bias])
    w = np.exp(2.606) / (1 + np.exp(2.606))
    expected = (1 - w) * reference_bins[100] + w * reference_bins[250]
    out = run(model, np.full((1, 32, 32, 1), 50.0, np.float32))
    np.testing.assert_allclose(out[0, 5, 5], expected, atol=1e-3)
    with pytest.raises(ValueError, match="Received: logit_scale=0"):
        eccv16_release(logit_scale=0)
