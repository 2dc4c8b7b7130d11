"""Zhang et al.'s quantised ab space ("Colorful Image Colorization", ECCV 2016, Sec. 2.1-2.3).

The Q = 313 in-gamut cells of a grid of 10, Gaussian soft encoding (sigma = 5), the annealed mean
(T = 0.38) and class rebalancing (gamma = 1/2, alpha = 1); `keras.ops` in training, NumPy else.
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from colorization.constants import GRID_SPACING
from colorization.constants import ZHANG_GAMMA
from colorization.constants import ZHANG_NEIGHBORS
from colorization.constants import ZHANG_SIGMA
from colorization.constants import ZHANG_TEMPERATURE

# Zhang et al.'s in-gamut bins, one contiguous run of a values (step 10) per b
# row: b -> (first a, last a). Source: the released `pts_in_hull.npy`.
_ZHANG_BIN_ROWS = {
    100: (-50, 0),
    90: (-90, 40),
    80: (-90, 70),
    70: (-90, 90),
    60: (-90, 90),
    50: (-90, 90),
    40: (-80, 90),
    30: (-80, 90),
    20: (-80, 90),
    10: (-70, 90),
    0: (-70, 100),
    -10: (-60, 100),
    -20: (-60, 100),
    -30: (-50, 100),
    -40: (-40, 100),
    -50: (-30, 100),
    -60: (-10, 100),
    -70: (0, 100),
    -80: (10, 100),
    -90: (30, 100),
    -100: (40, 90),
    -110: (60, 90),
}
# Keeps log(0) finite where a probability is exactly zero.
_LOG_FLOOR = 1e-30


def default_ab_bins():
    """Zhang et al.'s Q = 313 ab bin centres, ordered by a, then b.

    Returns:
        float32 array of shape `(313, 2)` holding (a, b) pairs.

    Example:
    >>> bins = default_ab_bins()
    >>> bins.shape, bins[0].tolist()
    ((313, 2), [-90.0, 50.0])
    """
    points = [
        (a, b)
        for b, (first, last) in _ZHANG_BIN_ROWS.items()
        for a in range(first, last + 1, int(GRID_SPACING))
    ]
    points.sort()
    return np.asarray(points, dtype=np.float32)


def annealed_distribution(probs, temperature, from_logits=False):
    """Re-tempers a distribution: `f_T(z) = exp(log z / T) / sum_q exp(log z_q / T)` (Zhang eq. 5).

    `T = 1` returns it, `T -> 0` a one-hot at its mode; log space keeps zeros and small T finite.

    Args:
        probs: probabilities (or logits if `from_logits`) over the last axis.
        temperature: positive float; `ValueError` otherwise.
        from_logits: whether `probs` holds unnormalised logits.

    Returns:
        float32 tensor of the shape of `probs`, summing to 1 over the last axis.
    """
    if temperature <= 0:
        raise ValueError(f"`temperature` must be positive. Received: temperature={temperature}")
    probs = ops.cast(probs, "float32")
    if from_logits:
        log_probs = ops.log_softmax(probs, axis=-1)
    else:
        log_probs = ops.log(ops.maximum(probs, _LOG_FLOOR))
    return ops.softmax(log_probs / temperature, axis=-1)


def _nearest_candidate_table(bins, neighbors, cell_size, margin=160.0):
    """Per cell of a grid over ab, the bins that can be among the `neighbors` nearest (pad: Q)."""
    bins = np.asarray(bins, dtype=np.float64)
    low = math.floor(min(-margin, bins.min() - 2 * cell_size) / cell_size) * cell_size
    high = math.ceil(max(margin, bins.max() + 2 * cell_size) / cell_size) * cell_size
    cells_per_axis = int(round((high - low) / cell_size))
    edges = low + cell_size * np.arange(cells_per_axis)
    # Cell rectangles [a0, a0 + s) x [b0, b0 + s), a-major.
    a0 = np.repeat(edges, cells_per_axis)[:, None]
    b0 = np.tile(edges, cells_per_axis)[:, None]
    a, b = bins[None, :, 0], bins[None, :, 1]
    near_a = np.maximum(np.maximum(a0 - a, a - (a0 + cell_size)), 0.0)
    near_b = np.maximum(np.maximum(b0 - b, b - (b0 + cell_size)), 0.0)
    far_a = np.maximum(np.abs(a - a0), np.abs(a - (a0 + cell_size)))
    far_b = np.maximum(np.abs(b - b0), np.abs(b - (b0 + cell_size)))
    min_dist = np.hypot(near_a, near_b)
    max_dist = np.hypot(far_a, far_b)
    k = min(neighbors, len(bins))
    threshold = np.partition(max_dist, k - 1, axis=1)[:, k - 1 : k]
    # A bin nearer than the k-th smallest farthest distance can be among the k nearest.
    is_candidate = min_dist <= threshold + 1e-9
    width = int(is_candidate.sum(axis=1).max())
    # Pad with index Q, which points at a sentinel centre far from everything.
    table = np.full((len(edges) ** 2, width), len(bins), dtype=np.int32)
    for cell, row in enumerate(is_candidate):
        found = np.flatnonzero(row)
        table[cell, : len(found)] = found
    return table, float(low), cells_per_axis


@keras.saving.register_keras_serializable(package="colorization")
class ABQuantizer:
    """Maps ab colours to and from distributions over the ab bins (Zhang et al. Sec. 2.1-2.3).

    Soft and hard encoding, the annealed mean and the mode. A pixel is compared only with the
    candidate bins of its cell in a table over at least [-160, 160]^2 (outside: the border cell).

    Args:
        bins: `(Q, 2)` bin centres, or `None` for Zhang's 313 bins.
        sigma: standard deviation (ab units) of the soft-encoding Gaussian (Zhang: 5).
        neighbors: nearest bins sharing a soft target (paper: 5; the authors' training code: 10).
        cell_size: grid spacing (ab units) of the candidate table; changes speed, not results.

    Example:
    >>> quantizer = ABQuantizer()
    >>> ab = np.array([[[12.0, -31.0]]], dtype="float32")
    >>> probs = quantizer.soft_encode(ab)
    >>> tuple(probs.shape), round(float(np.asarray(probs).sum()), 4)
    ((1, 1, 313), 1.0)
    >>> mean = np.asarray(quantizer.annealed_mean(probs, temperature=1.0))
    >>> bool(np.abs(mean - ab).max() < 1.0)  # the soft code's mean is close to ab
    True
    """

    def __init__(
        self, bins=None, sigma=ZHANG_SIGMA, neighbors=ZHANG_NEIGHBORS, cell_size=GRID_SPACING / 2
    ):
        if bins is None:
            self._bins = default_ab_bins()
            self._is_default = True
        else:
            self._bins = np.asarray(bins, dtype=np.float32)
            self._is_default = False
            if self._bins.ndim != 2 or self._bins.shape[1] != 2 or len(self._bins) < 1:
                raise ValueError(
                    f"`bins` must have shape (Q, 2). Received: bins.shape={self._bins.shape}"
                )
            if not np.all(np.isfinite(self._bins)):
                raise ValueError("`bins` must be finite.")
        if sigma <= 0:
            raise ValueError(f"`sigma` must be positive. Received: sigma={sigma}")
        if not 1 <= int(neighbors) <= len(self._bins):
            raise ValueError(
                f"`neighbors` must be between 1 and Q={len(self._bins)}. "
                f"Received: neighbors={neighbors}"
            )
        if cell_size <= 0:
            raise ValueError(f"`cell_size` must be positive. Received: cell_size={cell_size}")
        self.sigma = float(sigma)
        self.neighbors = int(neighbors)
        self.cell_size = float(cell_size)
        self._table, self._grid_low, self._cells_per_axis = _nearest_candidate_table(
            self._bins, self.neighbors, self.cell_size
        )
        sentinel = np.full((1, 2), 1e6, dtype=np.float32)
        self._padded_bins = np.concatenate([self._bins, sentinel], axis=0)

    @property
    def bins(self):
        """The `(Q, 2)` float32 NumPy array of bin centres."""
        return self._bins

    @property
    def num_bins(self):
        """Q, the number of bins."""
        return len(self._bins)

    def _nearest(self, ab, k):
        """Indices `(N, k)` of the k nearest bins and squared distances `(N, k)`."""
        ab = ops.cast(ab, "float32")
        if ab.shape[-1] != 2:
            raise ValueError(
                f"ab input must have 2 channels in its last axis. Received: shape={tuple(ab.shape)}"
            )
        flat = ops.reshape(ab, (-1, 2))
        cells = ops.floor((flat - self._grid_low) / self.cell_size)
        cells = ops.cast(ops.clip(cells, 0, self._cells_per_axis - 1), "int32")
        cell_ids = cells[:, 0] * self._cells_per_axis + cells[:, 1]
        candidates = ops.take(ops.convert_to_tensor(self._table), cell_ids, axis=0)
        centres = ops.take(ops.convert_to_tensor(self._padded_bins), candidates, axis=0)
        sq_dist = ops.sum(ops.square(flat[:, None, :] - centres), axis=-1)
        if k == 1:
            nearest = ops.expand_dims(ops.argmin(sq_dist, axis=-1), -1)
            nearest = ops.cast(nearest, "int32")
        else:
            _, nearest = ops.top_k(-sq_dist, k=k, sorted=True)
        indices = ops.take_along_axis(candidates, ops.cast(nearest, "int32"), axis=-1)
        return ops.cast(indices, "int32"), ops.take_along_axis(sq_dist, nearest, axis=-1)

    def soft_encode_sparse(self, ab):
        """Soft encoding as the `neighbors` nearest bins and their weights.

        Args:
            ab: tensor `(..., 2)` of ab values.

        Returns:
            `(indices, weights)`, each `(..., neighbors)`: int32 bin indices, nearest first, and
            float32 Gaussian weights summing to 1.
        """
        leading = tuple(ops.shape(ab)[:-1])
        indices, sq_dist = self._nearest(ab, self.neighbors)
        # Shifting by the nearest distance leaves the normalised weights unchanged and keeps
        # far-away points from underflowing to 0/0.
        if self.neighbors == 1:
            weights = ops.ones_like(sq_dist)
        else:
            logits = -(sq_dist - sq_dist[:, :1]) / (2.0 * self.sigma**2)
            weights = ops.softmax(logits, axis=-1)
        shape = leading + (self.neighbors,)
        return ops.reshape(indices, shape), ops.reshape(weights, shape)

    def soft_encode(self, ab):
        """Soft encoding `(..., 2)` -> `(..., Q)`: Gaussian weights on the nearest bins."""
        leading = tuple(ops.shape(ab)[:-1])
        indices, weights = self.soft_encode_sparse(ab)
        indices = ops.reshape(indices, (-1, self.neighbors))
        rows = ops.broadcast_to(
            ops.arange(ops.shape(indices)[0], dtype="int32")[:, None], ops.shape(indices)
        )
        coords = ops.stack([ops.reshape(rows, (-1,)), ops.reshape(indices, (-1,))], axis=-1)
        dense = ops.scatter(
            coords, ops.reshape(weights, (-1,)), (ops.shape(indices)[0], self.num_bins)
        )
        return ops.reshape(dense, leading + (self.num_bins,))

    def hard_encode(self, ab):
        """Index of the nearest bin: `(..., 2)` -> `(...)` int32."""
        leading = tuple(ops.shape(ab)[:-1])
        indices, _ = self._nearest(ab, 1)
        return ops.reshape(indices, leading)

    def annealed_mean(self, probs, temperature=ZHANG_TEMPERATURE, from_logits=False):
        """Annealed mean `(..., Q)` -> `(..., 2)` (Zhang eq. 5): T = 1 the mean, T -> 0 the mode."""
        self._check_num_bins(probs)
        weights = annealed_distribution(probs, temperature, from_logits=from_logits)
        return ops.matmul(weights, ops.convert_to_tensor(self._bins))

    def mode(self, probs):
        """The centre of the most probable bin: `(..., Q)` -> `(..., 2)`."""
        self._check_num_bins(probs)
        return ops.take(ops.convert_to_tensor(self._bins), ops.argmax(probs, axis=-1), axis=0)

    def bin_counts(self, ab):
        """How many of the ab values fall nearest to each bin: `(Q,)` float32."""
        indices = ops.reshape(self.hard_encode(ab), (-1,))
        return ops.cast(ops.bincount(indices, minlength=self.num_bins), "float32")

    def _check_num_bins(self, probs):
        if probs.shape[-1] != self.num_bins:
            raise ValueError(
                f"Expected a distribution over {self.num_bins} bins in the last axis. "
                f"Received: shape={tuple(probs.shape)}"
            )

    def get_config(self):
        return {
            "bins": None if self._is_default else self._bins.tolist(),
            "sigma": self.sigma,
            "neighbors": self.neighbors,
            "cell_size": self.cell_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return (
            f"ABQuantizer(num_bins={self.num_bins}, sigma={self.sigma}, neighbors={self.neighbors})"
        )


@functools.cache
def default_quantizer():
    """The `ABQuantizer()` of Zhang et al.'s 313 bins, built once and shared.

    Example:
    >>> default_quantizer().num_bins
    313
    """
    return ABQuantizer()


def smooth_prior(prior, bins=None, sigma=ZHANG_SIGMA):
    """Smooths a distribution over bins with a Gaussian in ab space (Zhang et al. Sec. 2.2).

    Bin i receives `sum_j p_j exp(-|c_i - c_j|^2 / (2 sigma^2))`, which also works off the grid.

    Args:
        prior: `(Q,)` non-negative array, not all zero; `ValueError` otherwise.
        bins: `(Q, 2)` bin centres; `None` for Zhang's 313.
        sigma: Gaussian width in ab units (Zhang: 5); 0 returns the normalised prior.

    Returns:
        float64 NumPy array `(Q,)` summing to 1.
    """
    prior = np.asarray(prior, dtype=np.float64)
    bins = default_ab_bins() if bins is None else np.asarray(bins, dtype=np.float64)
    if prior.shape != (len(bins),):
        raise ValueError(f"`prior` must have shape ({len(bins)},). Received: shape={prior.shape}")
    if np.any(prior < 0) or not np.isfinite(prior).all() or prior.sum() <= 0:
        raise ValueError("`prior` must be finite, non-negative and not all zero.")
    if sigma > 0:
        sq_dist = np.sum((bins[:, None, :] - bins[None, :, :]) ** 2, axis=-1)
        prior = np.exp(-sq_dist / (2.0 * sigma**2)) @ prior
    return prior / prior.sum()


def empirical_prior(counts, bins=None, smoothing_sigma=ZHANG_SIGMA):
    """The empirical distribution over bins from per-bin pixel counts.

    Args:
        counts: `(Q,)` counts, e.g. summed `ABQuantizer.bin_counts` over a data set.
        bins: `(Q, 2)` bin centres; `None` for Zhang's 313.
        smoothing_sigma: Gaussian smoothing in ab units (Zhang: 5); 0 for none.

    Returns:
        float64 NumPy array `(Q,)` summing to 1.

    Example:
    >>> quantizer = ABQuantizer()
    >>> ab = np.random.default_rng(0).normal(0, 20, (4, 16, 16, 2)).astype("float32")
    >>> prior = empirical_prior(np.asarray(quantizer.bin_counts(ab)))
    >>> prior.shape, round(float(prior.sum()), 6)
    ((313,), 1.0)
    """
    return smooth_prior(counts, bins=bins, sigma=smoothing_sigma)


def rebalancing_weights(prior, alpha=1.0, gamma=ZHANG_GAMMA):
    """Class-rebalancing weights `w = ((1 - gamma) p + gamma / Q) ** -alpha` (Zhang et al. eq. 4).

    Normalised so that `sum_q p_q w_q = 1`. Zhang et al. use gamma = 1/2, alpha = 1.

    Args:
        prior: `(Q,)` distribution over the bins (summing to 1).
        alpha: exponent; larger favours rare colours more, 0 gives uniform weights.
        gamma: weight of the uniform distribution mixed into the prior.

    Returns:
        float64 NumPy array `(Q,)`.

    Example:
    >>> rebalancing_weights(np.array([0.7, 0.1, 0.1, 0.1])).round(3).tolist()
    [0.66, 1.792, 1.792, 1.792]
    """
    prior = np.asarray(prior, dtype=np.float64)
    if prior.ndim != 1 or np.any(prior < 0) or not np.isfinite(prior).all():
        raise ValueError(
            f"`prior` must be a finite, non-negative vector. Received: shape={prior.shape}"
        )
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"`gamma` must lie in [0, 1]. Received: gamma={gamma}")
    prior = prior / prior.sum()
    mixed = (1.0 - gamma) * prior + gamma / len(prior)
    if np.any(mixed <= 0):
        raise ValueError("With gamma=0 every bin needs a non-zero prior; pass gamma > 0.")
    weights = mixed ** (-float(alpha))
    return weights / np.sum(prior * weights)
