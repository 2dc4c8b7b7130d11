"""sRGB <-> CIELAB against scikit-image, the reference implementation."""

import warnings

import keras
import numpy as np
import pytest
from skimage import color as skcolor

from colorization.color import l_ab_to_rgb_uint8
from colorization.color import lab_to_rgb
from colorization.color import lab_to_rgb_uint8
from colorization.color import luminance_to_lightness
from colorization.color import rgb_to_lab

pytestmark = pytest.mark.core


def _8bit_colours():
    """Every 8-bit level on a 3-step lattice (86^3 colours, black to white) and 400,000 random
    colours of the whole cube: each level and each region of the gamut, at 1/16 of 2^24."""
    levels = np.unique(np.append(np.arange(0, 256, 3), 255)).astype(np.uint8)
    lattice = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    rest = np.random.default_rng(0).integers(0, 256, (400_000, 3), dtype=np.uint8)
    return np.concatenate([lattice, rest])


def test_rgb_to_lab_matches_skimage_on_8bit_colours():
    rgb = _8bit_colours()
    expected = skcolor.rgb2lab(rgb / 255.0)
    for colours in (rgb, rgb.astype(np.float32) / np.float32(255.0)):
        got = keras.ops.convert_to_numpy(rgb_to_lab(colours))
        assert got.dtype == np.float32
        assert np.abs(got - expected).max() <= 1.2e-4


def test_round_trip_returns_in_gamut_colours(rng):
    rgb = np.concatenate(
        [rng.uniform(0, 1, (200_000, 3)), np.eye(3), np.zeros((1, 3)), np.ones((1, 3))]
    )
    rgb = rgb.astype(np.float32)
    back = np.asarray(lab_to_rgb(rgb_to_lab(rgb)))
    assert np.abs(back - rgb).max() <= 1e-4


def test_lab_to_rgb_matches_skimage_including_out_of_gamut(rng):
    lab = np.stack(
        [
            rng.uniform(0, 100, 50_000),
            rng.uniform(-128, 127, 50_000),
            rng.uniform(-128, 127, 50_000),
        ],
        axis=-1,
    )
    with pytest.warns(UserWarning):  # scikit-image warns about its negative-Z clipping
        expected = skcolor.lab2rgb(lab)
    got = np.asarray(lab_to_rgb(lab.astype(np.float32)))
    assert np.abs(got - expected).max() <= 1e-4


def test_known_values():
    lab = np.asarray(
        rgb_to_lab(np.array([[0, 0, 0], [255, 255, 255], [255, 0, 0]], dtype=np.uint8))
    )
    np.testing.assert_allclose(lab[0], [0, 0, 0], atol=1e-4)
    # The sRGB matrix rows sum to 0.950456 against a white of 0.95047, so white
    # sits 0.005 from the neutral axis in scikit-image too.
    np.testing.assert_allclose(lab[1], [100, 0, 0], atol=1e-2)
    # sRGB red, D65: L*=53.24, a*=80.09, b*=67.20 (standard published value).
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)


def test_any_leading_shape_and_uint8_rule(photo_rgb):
    uint8 = np.round(photo_rgb * 255).astype(np.uint8)
    batch = np.stack([uint8, uint8[::-1]])
    lab = np.asarray(rgb_to_lab(batch))
    assert lab.shape == batch.shape
    np.testing.assert_allclose(
        lab[0], np.asarray(rgb_to_lab(uint8.astype(np.float32) / 255.0)), atol=1e-4
    )
    rgb = np.asarray(lab_to_rgb_uint8(lab))
    assert rgb.dtype == np.uint8 and np.abs(rgb.astype(int) - batch.astype(int)).max() <= 1


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (2, 1)])
def test_wrong_channel_count_names_the_shape(shape):
    with pytest.raises(ValueError, match=r"shape=\(" + ", ".join(map(str, shape))):
        rgb_to_lab(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        lab_to_rgb(np.zeros(shape, np.float32))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16, np.bool_])
def test_other_integer_input_is_refused(dtype):
    with pytest.raises(TypeError, match="uint8"):
        rgb_to_lab(np.zeros((2, 3), dtype))


def _gradient(fn, x):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x))
        return tape.gradient(y, x).numpy()
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        (grad,) = torch.autograd.grad(fn(x).sum(), x)
        return grad.numpy()
    pytest.skip(f"no gradient helper for backend {backend}")


def test_gradients_finite_everywhere_and_match_finite_differences(rng):
    special = np.array(
        [[0, 0, 0], [1, 1, 1], [0.04045, 0.5, 1.0], [1e-7, 0, 0.0031308]], np.float32
    )
    rgb = np.concatenate([special, rng.uniform(0, 1, (64, 3)).astype(np.float32)])
    grad = _gradient(rgb_to_lab, rgb)
    assert np.isfinite(grad).all()
    lab = np.asarray(rgb_to_lab(rgb))
    assert np.isfinite(_gradient(lambda v: lab_to_rgb(v, clip=False), lab)).all()
    # Central differences in float64 through scikit-image, away from the kinks.
    x = rng.uniform(0.1, 0.9, (16, 3))
    eps = 1e-5
    numeric = np.zeros_like(x)
    for c in range(3):
        step = np.zeros(3)
        step[c] = eps
        numeric[:, c] = (skcolor.rgb2lab(x + step).sum(-1) - skcolor.rgb2lab(x - step).sum(-1)) / (
            2 * eps
        )
    analytic = _gradient(rgb_to_lab, x.astype(np.float32))
    np.testing.assert_allclose(analytic, numeric, rtol=2e-3, atol=2e-2)


def test_l_ab_to_rgb_uint8_is_scikit_images_picture(rng):
    lab = np.stack(
        [rng.uniform(0, 100, 5000), rng.uniform(-60, 60, 5000), rng.uniform(-60, 60, 5000)], axis=-1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image's negative-Z warning
        expected = np.round(skcolor.lab2rgb(lab) * 255)
    got = l_ab_to_rgb_uint8(lab[:, :1], lab[:, 1:])
    assert isinstance(got, np.ndarray) and got.dtype == np.uint8
    # Rounding may fall either way for values within float32 error of a half level.
    assert np.abs(got.astype(int) - expected).max() <= 1
    assert np.mean(got == expected) > 0.999


def test_luminance_to_lightness_is_scikit_images_lightness(rng):
    rgb = np.concatenate(
        [rng.uniform(0, 1, (5000, 3)), np.linspace(0, 0.05, 300)[:, None].repeat(3, -1)]
    )
    luminance = skcolor.rgb2xyz(rgb)[:, 1]  # D65 white has Y = 1
    got = keras.ops.convert_to_numpy(luminance_to_lightness(luminance))
    np.testing.assert_allclose(got, skcolor.rgb2lab(rgb)[:, 0], atol=1e-4)


def _compiled(fn):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    pytest.skip(f"no compiler helper for backend {backend}")


def test_conversions_compile(rng):
    rgb = rng.uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    lab = keras.ops.convert_to_numpy(_compiled(rgb_to_lab)(rgb))
    np.testing.assert_allclose(lab, skcolor.rgb2lab(rgb.astype(np.float64)), atol=2e-4)
    back = keras.ops.convert_to_numpy(_compiled(lab_to_rgb)(lab))
    np.testing.assert_allclose(back, rgb, atol=2e-4)
