"""colorize(): sizes, channel layouts, both heads; checked with scikit-image's Lab."""

import gc
import weakref

import keras
import numpy as np
import pytest
from skimage import color as skcolor

from colorization import inference
from colorization.inference import colorize

pytestmark = pytest.mark.core


def constant_ab_model(ab=(25.0, -15.0), size=(16, 16)):
    """Regression model predicting one ab everywhere, at a fixed input size."""
    inputs = keras.Input(size + (1,))
    x = keras.layers.Rescaling(1 / 100.0, offset=-0.5)(inputs)
    out = keras.layers.Conv2D(
        2, 1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(list(ab))
    )(x)
    return keras.Model(inputs, out)


def two_bin_model(bins, first, second, p_first, size=(8, 8)):
    """Classification model giving probability p_first to one bin, the rest to another."""
    logits = np.full(len(bins), -1e4, np.float32)
    logits[first] = np.log(p_first)
    logits[second] = np.log(1 - p_first)
    inputs = keras.Input(size + (1,))
    out = keras.layers.Conv2D(
        len(bins),
        1,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(logits),
        activation="softmax",
    )(inputs)
    return keras.Model(inputs, out)


def unet_like(multiple=8):
    """A fully convolutional model with three pooling stages (needs sizes divisible by 8)."""
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    skip = x
    for _ in range(3):
        x = keras.layers.MaxPooling2D()(x)
    for _ in range(3):
        x = keras.layers.UpSampling2D()(x)
    x = keras.layers.Concatenate()([x, skip])
    return keras.Model(inputs, keras.layers.Conv2D(2, 1)(x))


def sk_lab(rgb_uint8):
    return skcolor.rgb2lab(rgb_uint8.astype(np.float64) / 255.0)


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (17, 31, 3), (700, 1000, 3), (23, 19, 4), (40, 30), (12, 9, 1)]
)
def test_sizes_and_layouts_keep_full_resolution_lightness(shape, rng):
    image = rng.integers(0, 256, shape).astype(np.uint8)
    out = colorize(constant_ab_model(), image)
    assert out.dtype == np.uint8 and out.shape == shape[:2] + (3,)
    # The original L is kept at full resolution (up to uint8 rounding).
    rgb = (
        image[..., :3]
        if image.ndim == 3 and image.shape[-1] >= 3
        else np.repeat(image.reshape(shape[:2] + (1,)), 3, -1)
    )
    L_in = sk_lab(rgb)[..., 0]
    L_out = sk_lab(out)[..., 0]
    in_gamut = (out > 3).all(-1) & (out < 252).all(-1)
    assert np.abs(L_in - L_out)[in_gamut].max(initial=0) < 1.0


def test_constant_prediction_colours_a_grey_photo(photo_rgb):
    grey = (skcolor.rgb2gray(photo_rgb) * 255).round().astype(np.uint8)  # (128, 128)
    out = colorize(constant_ab_model(ab=(25.0, -15.0)), grey)
    lab = sk_lab(out)
    mid = (lab[..., 0] > 30) & (lab[..., 0] < 80)
    np.testing.assert_allclose(lab[..., 1][mid].mean(), 25.0, atol=1.0)
    np.testing.assert_allclose(lab[..., 2][mid].mean(), -15.0, atol=1.0)


def test_colour_input_is_turned_grey_first(photo_rgb):
    model = constant_ab_model()
    colour = (photo_rgb * 255).round().astype(np.uint8)
    grey_rgb = np.asarray(
        (
            skcolor.lab2rgb(
                np.concatenate([sk_lab(colour)[..., :1], np.zeros(colour.shape[:2] + (2,))], -1)
            )
            * 255
        ).round(),
        np.uint8,
    )
    np.testing.assert_allclose(
        colorize(model, colour).astype(int), colorize(model, grey_rgb).astype(int), atol=2
    )
    # Float input in [0, 1] gives the uint8 result.
    np.testing.assert_allclose(
        colorize(model, photo_rgb).astype(int), colorize(model, colour).astype(int), atol=1
    )


def test_list_of_sizes_and_batch_keep_structure(rng):
    model = constant_ab_model()
    images = [rng.integers(0, 256, s).astype(np.uint8) for s in [(5, 7, 3), (64, 48), (33, 20, 4)]]
    out = colorize(model, images)
    assert isinstance(out, list) and [o.shape for o in out] == [(5, 7, 3), (64, 48, 3), (33, 20, 3)]
    for image, result in zip(images, out):
        np.testing.assert_array_equal(result, colorize(model, image))
    batch = rng.integers(0, 256, (3, 10, 12, 3)).astype(np.uint8)
    out = colorize(model, batch)
    assert isinstance(out, np.ndarray) and out.shape == (3, 10, 12, 3)


def test_fully_convolutional_model_runs_at_rounded_size(rng):
    model = unet_like()
    assert inference.model_input_size(model, 17, 31, size_multiple=8) == (16, 32)
    assert inference.model_input_size(model, 3, 3) == (32, 32)
    out = colorize(model, rng.integers(0, 256, (17, 31)).astype(np.uint8), size_multiple=8)
    assert out.shape == (17, 31, 3)


def test_predicted_ab_is_upsampled_bilinearly():
    # 2x2 ab upsampled to 8x8 must be the bilinear interpolation with
    # half-pixel centres (edge values held), computed here by hand.
    ab_small = np.array([[[0.0, 0], [40, 0]], [[0, 40], [40, 40]]], np.float32)
    centres = (np.arange(8) + 0.5) / 4 - 0.5  # sample positions in the 2x2 grid
    w = np.clip(centres, 0, 1)
    expected_a = 40 * np.broadcast_to(w[None, :], (8, 8))
    got = inference._resize(ab_small[None], (8, 8))[0]
    np.testing.assert_allclose(got[..., 0], expected_a, atol=1e-4)
    np.testing.assert_allclose(got[..., 1], expected_a.T, atol=1e-4)
    # The model runs at its 2x2 input size and its ab comes back at 8x8.
    inputs = keras.Input((2, 2, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, bias_initializer="ones")(inputs))
    ab = inference.predict_ab(model, np.full((1, 8, 8, 1), 60.0, np.float32))
    assert ab.shape == (1, 8, 8, 2)


def test_classification_uses_annealed_mean(reference_bins):
    bins = reference_bins
    first = int(np.argmin(((bins - [30.0, 30.0]) ** 2).sum(-1)))
    second = int(np.argmin(((bins - [-30.0, -30.0]) ** 2).sum(-1)))
    p = 0.7
    model = two_bin_model(bins, first, second, p)
    grey = np.full((20, 20), 128, np.uint8)
    for temperature in (1.0, 0.38, 0.1):
        # Independent annealed mean: p^(1/T) renormalised, then the mean bin.
        q = np.array([p, 1 - p]) ** (1.0 / temperature)
        q /= q.sum()
        ab_expected = q[0] * bins[first] + q[1] * bins[second]
        lab = sk_lab(colorize(model, grey, temperature=temperature))
        np.testing.assert_allclose(lab[10, 10, 1:], ab_expected, atol=1.5)


def test_incompatible_models_and_bad_inputs_are_refused(rng):
    inputs = keras.Input((8, 8, 1))
    three = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    with pytest.raises(ValueError, match="last dimension is 3"):
        colorize(three, np.zeros((8, 8), np.uint8))
    rgb_in = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match=r"\(batch, H, W, 1\)"):
        colorize(keras.Model(rgb_in, keras.layers.Conv2D(2, 1)(rgb_in)), np.zeros((8, 8), np.uint8))
    model = constant_ab_model()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        colorize(model, np.full((8, 8, 3), 200.0, np.float32))
    with pytest.raises(ValueError, match=r"shape=\(8, 8, 5\)"):
        colorize(model, np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(TypeError, match="int64"):
        colorize(model, np.zeros((8, 8), np.int64))
    with pytest.raises(ValueError, match="image 1"):
        colorize(model, [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 2), np.uint8)])


def test_lightness_of_uint8_equals_scikit_image(rng):
    # Every code of each channel, plus random colours: the table route must give scikit-image's L.
    codes = np.arange(256, dtype=np.uint8)
    pixels = np.concatenate(
        [
            np.stack([codes, codes, codes], -1),
            np.stack([codes, 0 * codes, 0 * codes], -1),
            np.stack([0 * codes, codes, 0 * codes], -1),
            np.stack([0 * codes, 0 * codes, codes], -1),
            rng.integers(0, 256, (4096, 3)).astype(np.uint8),
        ]
    )[None]
    np.testing.assert_allclose(
        inference.lightness(pixels)[0, :, 0], sk_lab(pixels)[0, :, 0], atol=2e-4
    )
    grey = rng.integers(0, 256, (5, 6)).astype(np.uint8)
    np.testing.assert_allclose(
        inference.lightness(grey)[..., 0],
        sk_lab(np.repeat(grey[..., None], 3, -1))[..., 0],
        atol=2e-4,
    )


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_bicubic_rgb_input_is_pillows_resize_then_lightness(dtype, photo_rgb):
    from PIL import Image

    photo = (photo_rgb[:100, :77] * 255).round().astype(np.uint8)  # 100 x 77 -> 16 x 16 and 40 x 24
    image = photo if dtype == "uint8" else photo.astype(np.float32) / 255.0
    for size in [(16, 16), (40, 24)]:
        if dtype == "uint8":
            small = (
                np.asarray(Image.fromarray(photo).resize(size[::-1], Image.BICUBIC)).astype(
                    np.float64
                )
                / 255
            )
        else:  # float images: each channel resized in float, no rounding to uint8
            small = np.stack(
                [
                    np.asarray(Image.fromarray(image[..., c]).resize(size[::-1], Image.BICUBIC))
                    for c in range(3)
                ],
                -1,
            ).clip(0, 1)
        expected = skcolor.rgb2lab(small)[..., :1]
        got = inference._network_input(inference._as_rgb(image), size, "bicubic_rgb")
        np.testing.assert_allclose(got, expected, atol=2e-3)
        # The library's own route resizes L bilinearly: a different input, by design.
        bilinear = inference._network_input(inference._as_rgb(image), size, "bilinear_l")
        assert np.abs(bilinear - expected).max() > 0.1


def test_resize_choice_and_its_default():
    # The released architectures are recognised by their layer names (the builders are checked in
    # tests/test_release_preprocessing.py): eccv16(head="release")'s `class8_ab`, siggraph17's
    # `conv10_ab`.
    for name in ("class8_ab", "conv10_ab"):
        inputs = keras.Input((8, 8, 1))
        model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name=name)(inputs))
        assert inference.default_resize(model) == "bicubic_rgb"
    assert inference.default_resize(constant_ab_model()) == "bilinear_l"
    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(
        ValueError, match=r"`resize` must be one of \('bicubic_rgb', 'bilinear_l'\).*'bicubic'"
    ):
        colorize(constant_ab_model(), image, resize="bicubic")
    with pytest.raises(ValueError, match="batch_size=0"):
        colorize(constant_ab_model(), image, batch_size=0)


def test_batches_of_mixed_sizes_give_each_photos_picture(rng):
    # A model whose ab depends on its input: batching and grouping by size must not mix photos up.
    inputs = keras.Input((None, None, 1))
    model = keras.Model(
        inputs, keras.layers.Conv2D(2, 3, padding="same", kernel_initializer="ones")(inputs)
    )
    images = [
        rng.integers(0, 256, shape).astype(np.uint8)
        for shape in [(30, 40, 3), (64, 64), (30, 40, 3), (33, 33, 3)]
    ]
    alone = [colorize(model, image, size_multiple=8) for image in images]
    for batch_size in (1, 2):
        together = colorize(model, images, batch_size=batch_size, size_multiple=8)
        assert isinstance(together, list) and len(together) == len(images)
        for expected, got in zip(alone, together):
            assert np.abs(expected.astype(int) - got.astype(int)).max() <= 1
    assert len({tuple(a.ravel()[:50]) for a in alone}) == len(images)  # the pictures do differ


def test_fully_convolutional_model_with_bilinear_upsampling_runs_at_several_sizes(rng):
    # Keras' TensorFlow predict function retraces with unknown sizes at a second input size, which
    # bilinear UpSampling2D cannot trace: each size must still give the model's own output.
    inputs = keras.Input((None, None, 1))
    x = keras.layers.AveragePooling2D(4)(inputs)
    x = keras.layers.UpSampling2D(4, interpolation="bilinear")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, kernel_initializer="ones")(x))
    for size in [(16, 24), (32, 16), (16, 24)]:
        L = rng.uniform(0, 100, (3,) + size + (1,)).astype(np.float32)
        expected = keras.ops.convert_to_numpy(model(L, training=False))
        np.testing.assert_allclose(
            inference.predict_ab(model, L, batch_size=2, size_multiple=8), expected, atol=1e-4
        )
    # No cache keeps the model alive.
    reference = weakref.ref(model)
    del model
    gc.collect()
    assert reference() is None


def test_predict_ab_decodes_a_classification_model_batch_by_batch():
    # Seven maps, three per forward pass: each chunk's probabilities are decoded on their own, and
    # the result equals the annealed mean of every map's probabilities computed in NumPy.
    from colorization.quantization import default_ab_bins

    bins = default_ab_bins()
    inputs = keras.Input((4, 4, 1))
    logits = keras.layers.Conv2D(
        len(bins), 1, kernel_initializer=keras.initializers.RandomNormal(seed=1)
    )(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    L = np.random.default_rng(0).uniform(0, 100, (7, 4, 4, 1)).astype(np.float32)
    probabilities = np.asarray(model.predict(L, verbose=0), np.float64)
    annealed = np.exp(np.log(probabilities) / 0.38)
    annealed /= annealed.sum(-1, keepdims=True)
    expected = annealed @ bins
    got = inference.predict_ab(model, L, temperature=0.38, batch_size=3)
    np.testing.assert_allclose(got, expected, atol=1e-3)
