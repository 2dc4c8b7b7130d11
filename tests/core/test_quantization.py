"""ABQuantizer, priors and weights against NumPy brute force, SciPy and hand-worked values."""

import numpy as np
import pytest
from scipy import ndimage

from colorization.quantization import ABQuantizer
from colorization.quantization import annealed_distribution
from colorization.quantization import default_ab_bins
from colorization.quantization import empirical_prior
from colorization.quantization import rebalancing_weights
from colorization.quantization import smooth_prior

pytestmark = pytest.mark.core


def _brute_force_soft_encode(ab, bins, k, sigma):
    """The usual NumPy reimplementation: distances to all Q bins, k smallest."""
    flat = ab.reshape(-1, 2).astype(np.float64)
    sq = ((flat[:, None, :] - bins[None].astype(np.float64)) ** 2).sum(-1)
    nearest = np.argsort(sq, axis=1, kind="stable")[:, :k]
    w = np.exp(-np.take_along_axis(sq, nearest, 1) / (2 * sigma**2))
    w /= w.sum(1, keepdims=True)
    dense = np.zeros((len(flat), len(bins)))
    np.put_along_axis(dense, nearest, w, axis=1)
    return dense.reshape(ab.shape[:-1] + (len(bins),)), nearest


def test_default_bins_equal_zhangs_released_table(reference_bins):
    bins = default_ab_bins()
    assert bins.shape == (313, 2)
    np.testing.assert_array_equal(bins, reference_bins.astype(np.float32))


@pytest.mark.parametrize("neighbors", [1, 5, 10])
def test_soft_encode_matches_brute_force(rng, neighbors):
    quantizer = ABQuantizer(neighbors=neighbors)
    # In-gamut colours, colours between bins, and points far outside the gamut.
    ab = np.concatenate(
        [
            rng.normal(0, 30, (3000, 2)),
            rng.uniform(-150, 150, (3000, 2)),
            np.array([[0, 0], [5, 5], [-155, 158]]),
        ]
    ).astype(np.float32)
    expected, _ = _brute_force_soft_encode(ab, quantizer.bins, neighbors, 5.0)
    got = np.asarray(quantizer.soft_encode(ab))
    assert got.shape == (len(ab), 313)
    # Ties (a point equidistant from two bins) may pick either: compare by value.
    np.testing.assert_allclose(
        np.sort(got, 1)[:, -neighbors:], np.sort(expected, 1)[:, -neighbors:], atol=1e-5
    )
    untied = np.abs(got - expected).max(1) < 1e-5
    assert untied.mean() > 0.99


def test_soft_encode_sparse_and_hard_encode(rng):
    quantizer = ABQuantizer()
    ab = rng.normal(0, 35, (2, 7, 9, 2)).astype(np.float32)
    indices, weights = quantizer.soft_encode_sparse(ab)
    assert tuple(indices.shape) == (2, 7, 9, 5) and tuple(weights.shape) == (2, 7, 9, 5)
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-6)
    sq = ((ab[..., None, :] - quantizer.bins) ** 2).sum(-1)
    hard = np.asarray(quantizer.hard_encode(ab))
    assert hard.shape == (2, 7, 9)
    np.testing.assert_allclose(
        np.take_along_axis(sq, hard[..., None], -1)[..., 0], sq.min(-1), atol=1e-3
    )
    np.testing.assert_array_equal(np.asarray(indices)[..., 0], hard)


def test_custom_bins_work_off_grid(rng):
    bins = rng.uniform(-80, 80, (37, 2)).astype(np.float32)
    quantizer = ABQuantizer(bins=bins, sigma=7.0, neighbors=3)
    ab = rng.uniform(-100, 100, (500, 2)).astype(np.float32)
    expected, _ = _brute_force_soft_encode(ab, bins, 3, 7.0)
    np.testing.assert_allclose(np.asarray(quantizer.soft_encode(ab)), expected, atol=1e-5)
    restored = ABQuantizer.from_config(quantizer.get_config())
    np.testing.assert_array_equal(restored.bins, bins)


def test_annealed_mean_interpolates_between_mean_and_mode(rng):
    quantizer = ABQuantizer()
    logits = rng.normal(0, 2, (50, 313))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs[:, :20] = 0.0  # exact zeros must not produce NaN
    probs /= probs.sum(1, keepdims=True)
    probs = probs.astype(np.float32)
    bins = quantizer.bins.astype(np.float64)
    np.testing.assert_allclose(
        np.asarray(quantizer.annealed_mean(probs, 1.0)), probs @ bins, atol=1e-3
    )
    t = 0.38
    tempered = np.where(probs > 0, probs, 0.0) ** (1 / t)
    tempered /= tempered.sum(1, keepdims=True)
    np.testing.assert_allclose(
        np.asarray(quantizer.annealed_mean(probs, t)), tempered @ bins, atol=1e-3
    )
    cold = np.asarray(quantizer.annealed_mean(probs, 0.01))
    assert np.isfinite(cold).all()
    log_tempered = np.log(np.maximum(probs.astype(np.float64), 1e-300)) / 0.01
    tempered = np.exp(log_tempered - log_tempered.max(1, keepdims=True))
    tempered /= tempered.sum(1, keepdims=True)
    np.testing.assert_allclose(cold, tempered @ bins, atol=1e-2)
    # With a clear winner (second bin at 0.9x the first), T = 0.01 is the mode.
    peaked = np.full((1, 313), 0.5 / 311)
    peaked[0, 7], peaked[0, 100] = 0.5 / 1.9, 0.45 / 1.9
    np.testing.assert_allclose(
        np.asarray(quantizer.annealed_mean(peaked.astype(np.float32), 0.01)), bins[[7]], atol=0.01
    )
    np.testing.assert_array_equal(
        np.asarray(quantizer.mode(probs)), quantizer.bins[probs.argmax(1)]
    )


def test_annealed_distribution_from_logits_equals_from_probabilities(rng):
    logits = rng.normal(0, 3, (10, 313)).astype(np.float32)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    a = np.asarray(annealed_distribution(logits, 0.5, from_logits=True))
    b = np.asarray(annealed_distribution(probs, 0.5))
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        annealed_distribution(probs, 0.0)


def test_bin_counts_match_numpy(rng):
    quantizer = ABQuantizer()
    ab = rng.normal(0, 25, (3, 16, 16, 2)).astype(np.float32)
    sq = ((ab.reshape(-1, 1, 2) - quantizer.bins) ** 2).sum(-1)
    expected = np.bincount(sq.argmin(1), minlength=313)
    np.testing.assert_array_equal(np.asarray(quantizer.bin_counts(ab)), expected)


def test_smoothing_equals_gaussian_filtering_of_the_grid_histogram(rng):
    bins = default_ab_bins()
    counts = rng.integers(0, 1000, 313).astype(np.float64)
    # Zhang's recipe: histogram on the full 10-unit grid, Gaussian filter with
    # sigma = 5 ab units (0.5 cells), keep the in-gamut cells, renormalise.
    grid = np.zeros((23, 23))
    rows = ((bins[:, 0] + 110) / 10).astype(int)
    cols = ((bins[:, 1] + 110) / 10).astype(int)
    grid[rows, cols] = counts
    filtered = ndimage.gaussian_filter(grid, sigma=0.5, mode="constant", truncate=10.0)[rows, cols]
    np.testing.assert_allclose(empirical_prior(counts), filtered / filtered.sum(), rtol=1e-6)
    np.testing.assert_allclose(empirical_prior(counts, smoothing_sigma=0), counts / counts.sum())
    with pytest.raises(ValueError, match="shape"):
        smooth_prior(np.ones(10))


def test_rebalancing_weights_worked_example():
    # Q = 4, p = (0.7, 0.1, 0.1, 0.1), gamma = 1/2: mix = (0.475, 0.175, 0.175, 0.175);
    # alpha = 1: w ~ 1/mix, scaled so that sum p w = 1 (0.7/0.475 + 0.3/0.175 = 3.18797).
    prior = np.array([0.7, 0.1, 0.1, 0.1])
    expected = np.array([1 / 0.475, 1 / 0.175, 1 / 0.175, 1 / 0.175]) / 3.1879699
    np.testing.assert_allclose(rebalancing_weights(prior), expected, rtol=1e-6)
    np.testing.assert_allclose(rebalancing_weights(prior, alpha=0.0), np.ones(4))
    w = rebalancing_weights(prior, alpha=1.1, gamma=0.5)
    assert abs((prior * w).sum() - 1) < 1e-12 and w[0] < w[1]
    with pytest.raises(ValueError, match="gamma"):
        rebalancing_weights(prior, gamma=1.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bins": np.zeros((5, 3))}, "shape"),
        ({"sigma": 0}, "sigma"),
        ({"neighbors": 400}, "neighbors"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ABQuantizer(**kwargs)


def test_bad_ab_shape_is_named():
    with pytest.raises(ValueError, match=r"shape=\(4, 3\)"):
        ABQuantizer().hard_encode(np.zeros((4, 3), np.float32))
