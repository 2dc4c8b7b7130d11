"""The U-Net of report 000 (Table 1): structure, parameter counts, heads, serialization."""

import keras
import numpy as np
import pytest
from kit import assert_round_trip
from kit import run

from colorization.models import get_model
from colorization.models import unet

pytestmark = pytest.mark.core


def conv_params(c_in, c_out, k):
    return c_in * c_out * k * k + c_out


def table1_param_count(head_channels, upsampling_kernel=None, k=3):
    """Parameters of report 000's Table 1, computed by hand from its rows."""
    convs = [
        (1, 32),
        (32, 32),
        (32, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256 + 128, 128),
        (128, 128),
        (128 + 64, 64),
        (64, 64),
        (64 + 32, 32),
        (32, 32),
    ]
    total = sum(conv_params(i, o, k) for i, o in convs)
    # BatchNorm after MaxPool_1..3 and Conv4_2, Conv5_2, Conv6_2: 4 vectors each.
    total += 4 * (32 + 64 + 128 + 256 + 128 + 64)
    if upsampling_kernel:  # transposed convolutions keeping 256, 128, 64 channels
        total += sum(conv_params(c, c, upsampling_kernel) for c in (256, 128, 64))
    total += conv_params(32, head_channels, 1)
    return total


@pytest.mark.parametrize("head,q", [("classification", 313), ("regression", 2)])
@pytest.mark.parametrize(
    "upsampling,kernel,expected_millions",
    [
        ("nearest", None, 1.95),
        ("bilinear", None, 1.95),
        ("transposed", 3, 2.72),
        ("transposed", 4, 3.33),
    ],
)
def test_parameter_counts_match_table_1(head, q, upsampling, kernel, expected_millions):
    model = unet(head=head, upsampling=upsampling, upsampling_kernel_size=kernel or 4)
    expected = table1_param_count(q, kernel)
    assert model.count_params() == expected
    assert abs(expected / 1e6 - expected_millions) < 0.015
    if head == "classification" and kernel == 4:
        assert expected == 3_335_993  # the figure quoted in the docstring


def test_default_is_classification_count_closest_to_reported_3_5m():
    counts = {
        (up, k): unet(head="classification", upsampling=up, upsampling_kernel_size=k).count_params()
        for up, k in [("nearest", 4), ("transposed", 3), ("transposed", 4)]
    }
    default = unet(head="classification").count_params()
    assert default == min(counts.values(), key=lambda c: abs(c - 3.5e6))


def test_layers_follow_table_1():
    model = unet(head="classification")
    shape = lambda name: tuple(model.get_layer(name).output.shape[1:])  # noqa: E731
    table = {  # layer -> (X, X, C) of Table 1
        "conv1_1": (64, 64, 32),
        "conv1_2": (64, 64, 32),
        "pool_1": (32, 32, 32),
        "conv2_2": (32, 32, 64),
        "pool_2": (16, 16, 64),
        "conv3_2": (16, 16, 128),
        "pool_3": (8, 8, 128),
        "conv4_1": (8, 8, 256),
        "conv4_2": (8, 8, 256),
        "upsample_1": (16, 16, 256),
        "concat_1": (16, 16, 384),
        "conv5_2": (16, 16, 128),
        "upsample_2": (32, 32, 128),
        "concat_2": (32, 32, 192),
        "conv6_2": (32, 32, 64),
        "upsample_3": (64, 64, 64),
        "concat_3": (64, 64, 96),
        "conv7_1": (64, 64, 32),
        "conv7_2": (64, 64, 32),
        "probabilities": (64, 64, 313),
    }
    for name, expected in table.items():
        assert shape(name) == expected, name
    # The concatenations take Conv3_2, Conv2_2 and Conv1_2.
    for concat, skip in [("concat_1", "conv3_2"), ("concat_2", "conv2_2"), ("concat_3", "conv1_2")]:
        inbound = [t._keras_history.operation.name for t in model.get_layer(concat).input]
        assert inbound[1] == skip
    # Dropout 0.2 after Conv1_1 .. Conv6_1 only; BatchNorm after the pools and Conv4_2 .. Conv6_2.
    dropouts = sorted(
        layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    )
    assert dropouts == [f"conv{b}_1_dropout" for b in range(1, 7)]
    assert all(model.get_layer(n).rate == 0.2 for n in dropouts)
    norms = sorted(
        layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert norms == [
        "conv4_2_bn",
        "conv5_2_bn",
        "conv6_2_bn",
        "pool_1_bn",
        "pool_2_bn",
        "pool_3_bn",
    ]
    for bn in norms:
        source = model.get_layer(bn).input._keras_history.operation.name
        assert source == bn[: -len("_bn")]


def test_heads_output_ab_and_probabilities(rng):
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    probs = run(unet(input_shape=(32, 32, 1), head="classification", width=4), L)
    assert probs.shape == (2, 32, 32, 313)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert (probs >= 0).all()
    ab = run(unet(input_shape=(32, 32, 1), head="regression", width=4), L)
    assert ab.shape == (2, 32, 32, 2)


def test_regression_head_scales_a_linear_1x1_conv_by_ab_scale(rng):
    model = unet(input_shape=(16, 16, 1), width=2, head="regression")
    L = rng.uniform(0, 100, (1, 16, 16, 1)).astype("float32")
    features = run(keras.Model(model.input, model.get_layer("conv7_2").output), L)
    kernel, bias = [keras.ops.convert_to_numpy(w) for w in model.get_layer("ab_normalized").weights]
    expected = 110.0 * (features @ kernel[0, 0] + bias)
    np.testing.assert_allclose(run(model, L), expected, rtol=1e-4, atol=1e-3)


def test_quantizer_sets_the_number_of_bins():
    class FakeQuantizer:
        num_bins = 7

    model = unet(input_shape=(16, 16, 1), width=2, head="classification", quantizer=FakeQuantizer())
    assert model.output_shape == (None, 16, 16, 7)
    with pytest.raises(ValueError, match="disagrees"):
        unet(
            input_shape=(16, 16, 1),
            width=2,
            head="classification",
            quantizer=FakeQuantizer(),
            num_bins=313,
        )


def test_any_multiple_of_8_with_unknown_size(rng):
    model = unet(input_shape=(None, None, 1), width=2, head="regression")
    assert run(model, rng.uniform(0, 100, (1, 24, 40, 1)).astype("float32")).shape == (1, 24, 40, 2)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_shape": (64, 64, 3)}, "input_shape"),
        ({"input_shape": (60, 64, 1)}, "multiples of 8"),
        ({"head": "gan"}, "head"),
        ({"upsampling": "pixelshuffle"}, "upsampling"),
        ({"dropout": 1.5}, "dropout"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        unet(**kwargs)


def test_classification_head_round_trips(tmp_path, rng):
    # The sweep round-trips the default (regression) head.
    model = get_model("unet", input_shape=(32, 32, 1), width=4, head="classification")
    assert_round_trip(model, rng.uniform(0, 100, (2, 32, 32, 1)).astype("float32"), tmp_path)
