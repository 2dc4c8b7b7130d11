"""Plotting helpers: eccv16's layer groups, activation maps of hand-set convolutions, figures."""

import keras
import matplotlib
import numpy as np
import pytest

from colorization.models import eccv16
from notebook_support import visualization

matplotlib.use("Agg")
pytestmark = pytest.mark.core


def test_layer_groups_are_the_last_conv_of_each_eccv16_block():
    model = eccv16((32, 32, 1), width=4, head="regression")
    expected = [
        "conv1_2",
        "conv2_2",
        "conv3_3",
        "conv4_3",
        "conv5_3",
        "conv6_3",
        "conv7_3",
        "conv8_3",
    ]
    assert visualization.layer_groups(model) == expected
    inputs = keras.Input((8, 8, 1))
    with pytest.raises(ValueError, match="no layers named convN_M"):
        visualization.layer_groups(keras.Model(inputs, keras.layers.Conv2D(2, 1, name="a")(inputs)))


def test_activation_maps_pick_the_requested_kernel(rng):
    inputs = keras.Input((6, 6, 1))
    first = keras.layers.Conv2D(2, 1, activation="relu", name="conv1_1")
    second = keras.layers.Conv2D(3, 1, name="conv2_1")
    model = keras.Model(inputs, second(first(inputs)))
    first.set_weights([np.array([[[[1.0, -1.0]]]], "float32"), np.zeros(2, "float32")])
    second.set_weights(
        [np.array([[[[1, 2, 3], [4, 5, 6]]]], "float32"), np.array([0.0, 0.0, 10.0], "float32")]
    )
    L = rng.normal(0, 1, (6, 6)).astype("float32")
    maps = visualization.activation_maps(model, L, kernels=[1, 2])
    assert [(name, kernel) for name, kernel, _ in maps] == [("conv1_1", 1), ("conv2_1", 2)]
    np.testing.assert_allclose(maps[0][2], np.maximum(-L, 0), atol=1e-6)
    np.testing.assert_allclose(
        maps[1][2], 3 * np.maximum(L, 0) + 6 * np.maximum(-L, 0) + 10, atol=1e-5
    )
    random_pick = visualization.activation_maps(model, L[..., None], seed=4)
    assert all(0 <= kernel < channels for (_, kernel, _), channels in zip(random_pick, (2, 3)))
    with pytest.raises(ValueError, match="kernel 7 does not exist"):
        visualization.activation_maps(model, L, kernels=[7, 0])


def test_figures_have_one_panel_per_group_and_per_image(rng):
    model = eccv16((32, 32, 1), width=4, head="regression")
    figure = visualization.plot_activation_maps(model, rng.uniform(0, 100, (32, 32, 1)), columns=3)
    titled = [axis.get_title() for axis in figure.axes if axis.get_title()]
    assert len(titled) == 9 and titled[0] == "input L" and titled[1].startswith("conv1_2, kernel")
    L = rng.uniform(0, 100, (3, 16, 16, 1)).astype("float32")
    ab = rng.normal(0, 10, (3, 16, 16, 2)).astype("float32")
    grid = visualization.plot_colorizations(L, {"model": ab[:, ::4, ::4]}, ab, max_images=2)
    assert len(grid.axes) == 2 * 3
    curves = visualization.plot_histories({"a": {"loss": [3, 2, 1]}}, keys=["loss"])
    assert len(curves.axes[0].lines) == 1


def test_to_rgb_matches_scikit_image_and_upsamples_ab(rng):
    from skimage import color as skcolor

    L = rng.uniform(20, 90, (2, 8, 8, 1)).astype("float32")
    ab = rng.uniform(-20, 20, (2, 8, 8, 2)).astype("float32")
    expected = np.round(skcolor.lab2rgb(np.concatenate([L, ab], -1).astype("float64")) * 255)
    rgb = visualization.to_rgb(L, ab)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 8, 8, 3)
    assert np.abs(rgb.astype(int) - expected).max() <= 1
    constant = np.broadcast_to(
        np.array([10.0, -15.0], "float32"), (2, 2, 2, 2)
    )  # one colour at 1/4 resolution
    expected = np.round(
        skcolor.lab2rgb(np.concatenate([L, np.broadcast_to(constant[:, :1, :1], ab.shape)], -1))
        * 255
    )
    assert np.abs(visualization.to_rgb(L, constant).astype(int) - expected).max() <= 1
