"""Metrics against hand-worked values, brute-force NumPy and scikit-image."""

import math
import pathlib

import keras
import numpy as np
import pytest
from skimage import color as skcolor
from skimage import metrics as skmetrics

from colorization import metrics

pytestmark = pytest.mark.core


def brute_force_auc(error, weights=None, max_threshold=150):
    """CMF at each integer threshold by direct comparison, then the trapezoid rule."""
    error = np.ravel(error)
    weights = np.ones_like(error) if weights is None else np.ravel(weights)
    cmf = [np.sum(weights * (error <= t)) / np.sum(weights) for t in range(max_threshold + 1)]
    area = sum((cmf[t] + cmf[t + 1]) / 2.0 for t in range(max_threshold))
    return area / max_threshold


# AuC


def test_auc_hand_values():
    true = np.zeros((3, 5, 2), np.float32)
    assert metrics.auc(true, true) == pytest.approx(1.0)
    # Every error is 50: CMF is 0 below 50 and 1 from 50 on -> (0.5 + 100) / 150.
    assert metrics.auc(true, true + [30.0, 40.0]) == pytest.approx(100.5 / 150)
    # Every error is beyond 150: nothing is ever within a threshold.
    assert metrics.auc(true, true + [200.0, 0.0]) == pytest.approx(0.0)


def test_auc_matches_brute_force(rng):
    true = rng.uniform(-80, 80, (2, 9, 7, 2)).astype(np.float32)
    pred = rng.uniform(-80, 80, (2, 9, 7, 2)).astype(np.float32)
    error = np.sqrt(((true - pred) ** 2).sum(-1))
    assert metrics.auc(true, pred) == pytest.approx(brute_force_auc(error), abs=1e-6)


def test_auc_rebalanced_counts_every_colour_class_equally_hand_worked(reference_bins):
    # Three colour classes: A = bin (0, 0) with 3 exact pixels, B = its
    # neighbour (10, 0) with 1 pixel 50 off, C = a far bin with 2 pixels 200 off.
    a = int(np.flatnonzero((reference_bins == [0, 0]).all(1))[0])
    b = int(np.flatnonzero((reference_bins == [10, 0]).all(1))[0])
    c = int(np.flatnonzero((reference_bins == [-70, 60]).all(1))[0])
    true = reference_bins[[a, a, a, b, c, c]].astype(np.float32)
    pred = true + np.array([[0, 0]] * 3 + [[30, 40]] + [[200, 0]] * 2, np.float32)
    area_a, area_b, area_c = 1.0, 100.5 / 150, 0.0
    assert metrics.auc(true, pred) == pytest.approx((3 * area_a + area_b) / 6)
    # Unsmoothed own distribution (3/6, 1/6, 2/6): each class weighs 1/3.
    assert metrics.auc(true, pred, rebalanced=True, smoothing_sigma=0) == pytest.approx(
        (area_a + area_b + area_c) / 3
    )
    # Smoothed with sigma = 5: A and B, 10 apart, lend each other exp(-100 / 50)
    # of their counts; C is too far from both to matter (exp(-92 ** 2 / 50)).
    # The common normalisation of the smoothed prior cancels.
    lend = math.exp(-2.0)
    weight_a, weight_b, weight_c = 1 / (3 + lend), 1 / (1 + 3 * lend), 1 / 2
    expected = (3 * weight_a * area_a + weight_b * area_b + 2 * weight_c * area_c) / (
        3 * weight_a + weight_b + 2 * weight_c
    )
    assert metrics.auc(true, pred, rebalanced=True) == pytest.approx(expected, rel=1e-9)
    assert metrics.auc(true, pred, rebalanced=True, bins=reference_bins) == pytest.approx(
        expected, rel=1e-9
    )


def test_auc_rebalanced_matches_brute_force_own_distribution(rng, reference_bins):
    # A grey-ish prediction: the error grows with the distance from grey,
    # where the colours are rare.
    true = rng.normal(0, 25, (800, 2)).astype(np.float32)
    pred = rng.normal(0, 5, (800, 2)).astype(np.float32)
    nearest = np.argmin(((true[:, None, :] - reference_bins[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=len(reference_bins)).astype(float)
    sq_dist = ((reference_bins[:, None, :] - reference_bins[None, :, :]) ** 2).sum(-1)
    smoothed = np.exp(-sq_dist / 50.0) @ counts
    error = np.sqrt(((true - pred) ** 2).sum(-1))
    expected = brute_force_auc(error, 1.0 / smoothed[nearest])
    assert metrics.auc(true, pred, rebalanced=True) == pytest.approx(expected, abs=1e-6)
    assert expected < brute_force_auc(error) - 0.05


def test_auc_training_prior_variant_weights_pixels_by_inverse_prior(reference_bins):
    # Pixel 1 is in a common bin (p = 0.9) and exact; pixel 2 in a rare bin
    # (p = 0.1) and 200 away. Raw AuC = 0.5; weights 1/0.9 and 10 give
    # CMF = (1/0.9) / (1/0.9 + 10) = 0.1 at every threshold.
    a, b = 100, 200
    prior = np.zeros(len(reference_bins))
    prior[a], prior[b] = 0.9, 0.1
    true = np.stack([reference_bins[a], reference_bins[b]]).astype(np.float32)
    pred = true + np.array([[0.0, 0.0], [200.0, 0.0]], np.float32)
    assert metrics.auc(true, pred) == pytest.approx(0.5)
    assert metrics.auc(true, pred, prior=prior) == pytest.approx(0.1)
    # The own distribution has one pixel per class: both count alike.
    assert metrics.auc(true, pred, rebalanced=True) == pytest.approx(0.5)


def test_auc_training_prior_variant_matches_brute_force(rng, reference_bins):
    true = rng.uniform(-60, 60, (500, 2)).astype(np.float32)
    pred = true + rng.normal(0, 30, (500, 2)).astype(np.float32)
    prior = rng.uniform(0.1, 1.0, len(reference_bins))
    nearest = np.argmin(((true[:, None, :] - reference_bins[None]) ** 2).sum(-1), axis=1)
    weights = 1.0 / (prior / prior.sum())[nearest]
    error = np.sqrt(((true - pred) ** 2).sum(-1))
    expected = brute_force_auc(error, weights)
    assert metrics.auc(true, pred, prior=prior) == pytest.approx(expected, abs=1e-6)
    assert expected != pytest.approx(brute_force_auc(error), abs=1e-3)


def test_auc_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.auc(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="one probability per ab bin"):
        metrics.auc(np.zeros((4, 2)), np.zeros((4, 2)), prior=np.ones(10))


# PSNR / SSIM


def test_psnr_hand_value_and_skimage(rng, photo_rgb):
    a = np.zeros((8, 8, 3), np.uint8)
    assert metrics.psnr(a, a + 1) == pytest.approx(10 * math.log10(255**2))
    assert metrics.psnr(a, a) == math.inf
    true = (photo_rgb * 255).round().astype(np.uint8)
    noisy = np.clip(true.astype(int) + rng.integers(-20, 21, true.shape), 0, 255).astype(np.uint8)
    expected = skmetrics.peak_signal_noise_ratio(true, noisy, data_range=255)
    assert metrics.psnr(true, noisy) == pytest.approx(expected, rel=1e-9)
    batch = metrics.psnr(np.stack([true, true]), np.stack([noisy, true]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(expected) and batch[1] == math.inf


def test_ssim_matches_skimage(rng, photo_rgb):
    true = (photo_rgb * 255).round().astype(np.uint8)
    noisy = np.clip(true.astype(int) + rng.integers(-40, 41, true.shape), 0, 255).astype(np.uint8)
    expected = skmetrics.structural_similarity(
        true,
        noisy,
        channel_axis=-1,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert metrics.ssim(true, noisy) == pytest.approx(expected, abs=1e-6)
    assert metrics.ssim(true, true) == pytest.approx(1.0)
    batch = metrics.ssim(np.stack([true, noisy]), np.stack([noisy, noisy]))
    assert batch.shape == (2,)
    assert batch[0] == pytest.approx(expected, abs=1e-9) and batch[1] == pytest.approx(1.0)


def test_metrics_reject_non_uint8_and_tiny_images():
    with pytest.raises(TypeError, match="uint8"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="at least 11x11"):
        metrics.ssim(np.zeros((5, 5, 3), np.uint8), np.zeros((5, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8))


# Colourfulness


def test_colorfulness_hand_values(rng):
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert metrics.colorfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5))
    grey = np.full((4, 4, 3), 77, np.uint8)
    assert metrics.colorfulness(grey) == 0.0
    # Half red, half blue: rg in {255, 0}, yb in {127.5, -255}.
    half = np.zeros((2, 2, 3), np.uint8)
    half[0, :, 0] = 255
    half[1, :, 2] = 255
    rg, yb = [255, 255, 0, 0], [127.5, 127.5, -255, -255]
    sd = lambda v: math.sqrt(sum((x - sum(v) / 4) ** 2 for x in v) / 4)  # noqa: E731
    expected = math.hypot(sd(rg), sd(yb)) + 0.3 * math.hypot(sum(rg) / 4, sum(yb) / 4)
    assert metrics.colorfulness(half) == pytest.approx(expected)
    batch = metrics.colorfulness(np.stack([red[:2, :2], grey[:2, :2], half]))
    np.testing.assert_allclose(batch, [0.3 * math.hypot(255, 127.5), 0.0, expected])


# evaluate


def constant_model(ab=None, logit_bin=None, size=16):
    """A tiny model predicting one constant ab (regression) or one bin (classification)."""
    inputs = keras.Input((size, size, 1))
    if ab is not None:
        out = keras.layers.Conv2D(
            2, 1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(ab)
        )(inputs)
    else:
        bias = np.full(313, -20.0, np.float32)
        bias[logit_bin] = 20.0
        out = keras.layers.Conv2D(
            313,
            1,
            kernel_initializer="zeros",
            bias_initializer=keras.initializers.Constant(bias),
            activation="softmax",
        )(inputs)
    return keras.Model(inputs, out)


def test_evaluate_regression_classification_and_grey(reference_bins):
    L = np.full((3, 24, 24, 1), 60.0, np.float32)
    ab = np.zeros((3, 24, 24, 2), np.float32)
    ab[..., 0] = 20.0  # a pink of error 20 from grey
    data = [(L[:2], ab[:2]), (L[2:], ab[2:])]

    grey = metrics.evaluate_grey_baseline(data)
    assert grey["num_images"] == 3
    assert grey["auc"] == pytest.approx(brute_force_auc(np.full(10, 20.0)))
    assert grey["colorfulness"] == pytest.approx(0.0)
    rgb_true = (skcolor.lab2rgb(np.concatenate([L, ab], -1)[0]) * 255).round().astype(np.uint8)
    rgb_grey = (skcolor.lab2rgb(np.concatenate([L, 0 * ab], -1)[0]) * 255).round().astype(np.uint8)
    assert grey["psnr"] == pytest.approx(
        skmetrics.peak_signal_noise_ratio(rgb_true, rgb_grey), abs=0.05
    )
    assert grey["colorfulness_true"] == pytest.approx(metrics.colorfulness(rgb_true), abs=0.5)

    exact = metrics.evaluate(constant_model(ab=[20.0, 0.0]), data)
    assert exact["auc"] == pytest.approx(1.0)
    assert exact["ssim"] == pytest.approx(1.0)

    off = metrics.evaluate(constant_model(ab=[20.0, 30.0]), data)
    assert off["auc"] == pytest.approx(brute_force_auc(np.full(10, 30.0)), abs=1e-6)

    # A classification model certain of one bin predicts that bin's ab.
    k = int(np.argmin(((reference_bins - [40.0, -10.0]) ** 2).sum(-1)))
    cls = metrics.evaluate(constant_model(logit_bin=k), data, temperature=0.38)
    distance = float(np.hypot(*(reference_bins[k] - [20.0, 0.0])))
    assert cls["auc"] == pytest.approx(brute_force_auc(np.full(10, distance)), abs=1e-3)

    # Every true colour is in one class: rebalancing changes nothing.
    assert off["auc_rebalanced"] == pytest.approx(off["auc"])
    # A uniform training prior weights every pixel alike too.
    with_prior = metrics.evaluate(constant_model(ab=[20.0, 30.0]), data, prior=np.ones(313))
    assert with_prior["auc_rebalanced_training_prior"] == pytest.approx(off["auc"])
    assert "auc_rebalanced_training_prior" not in off


def test_evaluate_rebalances_over_all_batches_at_once(rng, reference_bins):
    # Batch 1 is mostly grey with a few blue pixels, batch 2 all orange: the
    # class frequencies must be those of the union, not of each batch.
    L = np.full((2, 16, 16, 1), 60.0, np.float32)
    ab = rng.normal(0, 2, (2, 16, 16, 2)).astype(np.float32)
    ab[0, :2, :3] += [10.0, -40.0]
    ab[1] += [30.0, 50.0]
    data = [(L[:1], ab[:1]), (L[1:], ab[1:])]
    result = metrics.evaluate(None, data)

    true = ab.reshape(-1, 2)
    nearest = np.argmin(((true[:, None, :] - reference_bins[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=len(reference_bins)).astype(float)
    sq_dist = ((reference_bins[:, None, :] - reference_bins[None, :, :]) ** 2).sum(-1)
    smoothed = np.exp(-sq_dist / 50.0) @ counts
    error = np.hypot(true[:, 0], true[:, 1])
    expected = brute_force_auc(error, 1.0 / smoothed[nearest])
    assert result["auc_rebalanced"] == pytest.approx(expected, abs=1e-6)
    assert result["auc"] == pytest.approx(brute_force_auc(error), abs=1e-6)
    per_batch = [metrics.auc(b, 0 * b, rebalanced=True) for b in (ab[:1], ab[1:])]
    assert abs(np.mean(per_batch) - expected) > 0.02


PHOTOS = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "photos" / "imagenet-800"


def load_lab_photos(paths, size=64):
    """Centre-cropped, resized photos as float32 Lab (scikit-image's conversion)."""
    from PIL import Image
    from PIL import ImageOps

    photos = []
    for path in paths:
        with Image.open(path) as image:
            image.draft("RGB", (2 * size, 2 * size))
            image = ImageOps.fit(image.convert("RGB"), (size, size), Image.BICUBIC)
            photos.append(skcolor.rgb2lab(np.asarray(image) / 255.0))
    return np.stack(photos).astype(np.float32)


def test_rebalanced_auc_does_not_depend_on_the_training_set_size():
    if not PHOTOS.is_dir():
        pytest.skip(f"real photos {PHOTOS} are absent (they sit beside the clone)")
    from scipy.spatial import cKDTree

    from colorization.quantization import default_ab_bins
    from colorization.quantization import empirical_prior

    paths = sorted(PHOTOS.glob("*.jpg"))
    held_out = load_lab_photos(paths[::8])  # 100 photos, one class in eight
    training = load_lab_photos([p for i, p in enumerate(paths) if i % 8][:600])
    _, nearest = cKDTree(default_ab_bins()).query(training[..., 1:].reshape(-1, 2))
    nearest = nearest.reshape(len(training), -1)

    def training_prior(n):  # Zhang's smoothed empirical prior of the first n photos
        return empirical_prior(np.bincount(nearest[:n].ravel(), minlength=313).astype(float))

    data = [(held_out[i : i + 50, ..., :1], held_out[i : i + 50, ..., 1:]) for i in (0, 50)]
    small = metrics.evaluate_grey_baseline(data, prior=training_prior(50))
    large = metrics.evaluate_grey_baseline(data, prior=training_prior(600))
    # Zhang et al., Table 1, grey on ImageNet: AuC 89.1, rebalanced 58.0.
    assert small["auc"] == pytest.approx(0.891, abs=0.02)
    assert small["auc_rebalanced"] == large["auc_rebalanced"]
    assert small["auc_rebalanced"] == pytest.approx(0.58, abs=0.08)
    # The inverse training prior: 0.37 with 50 photos, 0.57 with 600.
    assert large["auc_rebalanced_training_prior"] > 1.3 * small["auc_rebalanced_training_prior"]


def test_evaluate_rejects_bad_batches():
    with pytest.raises(ValueError, match=r"\(B, H, W, 1\)"):
        metrics.evaluate(None, [(np.zeros((2, 8, 8)), np.zeros((2, 8, 8, 2)))])
    with pytest.raises(ValueError, match="empty"):
        metrics.evaluate(None, [])
