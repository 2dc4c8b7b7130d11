"""Colorization metrics in NumPy: AuC (Zhang et al. 2016, Table 1), PSNR, SSIM, colourfulness.

`psnr` and `ssim` take sRGB uint8 (data range 255); `colorfulness` is Hasler & Suesstrunk's
M^(3) (SPIE 2003); `evaluate` scores a model or the grey baseline on `(L, ab)` batches.
"""

import numpy as np
from keras import ops

from colorization.color import l_ab_to_rgb_uint8
from colorization.constants import ZHANG_SIGMA
from colorization.constants import ZHANG_TEMPERATURE
from colorization.inference import predict_ab
from colorization.quantization import ABQuantizer
from colorization.quantization import default_ab_bins
from colorization.quantization import default_quantizer
from colorization.quantization import smooth_prior

AUC_MAX_THRESHOLD = 150
# The class distribution of the rebalanced AuC is smoothed as Zhang et al. smooth their prior.
REBALANCING_SIGMA = ZHANG_SIGMA
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # int(3.5 * 1.5 + 0.5): an 11-tap window, as Wang et al. 2004
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
# Errors this far above an integer threshold count at it, so that float32 rounding of an exact
# prediction does not move it to the next threshold.
_ERROR_TOLERANCE = 1e-4


# Helpers


def _as_rgb_uint8(rgb, name):
    """Checks an RGB uint8 image or batch; returns (array, is_batch)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise TypeError(
            f"`{name}` expects sRGB uint8 (0-255); convert with "
            "`colorization.color.l_ab_to_rgb_uint8` "
            f"or `np.round(x * 255).astype('uint8')` first. Received: dtype={rgb.dtype}"
        )
    if rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
        raise ValueError(
            f"`{name}` expects an RGB image (H, W, 3) or a batch (N, H, W, 3). "
            f"Received: shape={rgb.shape}"
        )
    return rgb, rgb.ndim == 4


def _check_same_shape(a, b, name):
    if a.shape != b.shape:
        raise ValueError(
            f"`{name}` needs images of the same shape. Received: shapes {a.shape} and {b.shape}"
        )


def _resolve_bins(bins):
    """float64 `(Q, 2)` bin centres; `None` for Zhang et al.'s 313."""
    return np.asarray(default_ab_bins() if bins is None else bins, dtype=np.float64)


def _quantizer_for(bins):
    """An `ABQuantizer` over `bins` (the shared one for Zhang's 313)."""
    bins = np.asarray(bins, dtype=np.float32)
    if np.array_equal(bins, default_quantizer().bins):
        return default_quantizer()
    return ABQuantizer(bins=bins, neighbors=1)


def _bin_indices(quantizer, ab):
    """Flat int64 index of the bin nearest each ab value `(..., 2)`: the hard encoding."""
    ab = np.asarray(ab, dtype=np.float32).reshape(-1, 2)
    return ops.convert_to_numpy(quantizer.hard_encode(ab)).astype(np.int64)


def _nearest_bins(ab, bins):
    return _bin_indices(_quantizer_for(bins), ab)


def _inverse_prior_class_weights(prior, bins):
    """Per-class weights 1 / p(class); zero-prior classes get the smallest non-zero prior."""
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.shape[0] != bins.shape[0]:
        raise ValueError(
            f"`prior` must have one probability per ab bin ({bins.shape[0]}). "
            f"Received: shape={prior.shape}"
        )
    if np.any(prior < 0) or not np.any(prior > 0) or not np.all(np.isfinite(prior)):
        raise ValueError("`prior` must be finite, non-negative and not all zero.")
    prior = prior / prior.sum()
    return 1.0 / np.maximum(prior, prior[prior > 0].min())


def _own_distribution_class_weights(pixels_per_class, bins, smoothing_sigma):
    """Weights 1 / p~(class), p~ the pixels' own smoothed class distribution; 0 for empty ones."""
    own = smooth_prior(pixels_per_class, bins=bins, sigma=smoothing_sigma)
    occupied = pixels_per_class > 0
    return np.divide(1.0, own, out=np.zeros_like(own), where=occupied)


class _ErrorHistogram:
    """Streams per-class histograms of ab errors over the thresholds 0..150.

    `hist[q, t]` counts pixels of true class `q` whose error rounds up to `t`, `pixels[q]` all of
    class `q`; any class weighting `w` then gives the CMF `cumsum(w @ hist) / (w @ pixels)`.
    """

    def __init__(self, num_classes=1, max_threshold=AUC_MAX_THRESHOLD):
        self.max_threshold = int(max_threshold)
        self.hist = np.zeros((num_classes, self.max_threshold + 1), dtype=np.float64)
        self.pixels = np.zeros(num_classes, dtype=np.float64)

    def update(self, error, classes=None):
        error = np.asarray(error, dtype=np.float64).reshape(-1)
        classes = (
            np.zeros(error.shape, np.int64)
            if classes is None
            else np.asarray(classes, dtype=np.int64).reshape(-1)
        )
        num_classes, width = self.hist.shape
        index = np.ceil(error - _ERROR_TOLERANCE)
        inside = index <= self.max_threshold
        flat = classes[inside] * width + np.maximum(index[inside], 0).astype(np.int64)
        self.hist += np.bincount(flat, minlength=num_classes * width).reshape(num_classes, width)
        self.pixels += np.bincount(classes, minlength=num_classes)

    def area(self, class_weights=None):
        """Normalised area under the CMF, each pixel weighted by its class's weight."""
        if class_weights is None:
            class_weights = np.ones(self.hist.shape[0])
        total = class_weights @ self.pixels
        if total <= 0:
            raise ValueError("AuC of an empty set of pixels is undefined.")
        cmf = np.cumsum(class_weights @ self.hist) / total
        # Trapezoidal area over [0, max_threshold], normalised by its width.
        return float(np.trapezoid(cmf, dx=1.0) / self.max_threshold)


def _ab_error(ab_true, ab_pred):
    ab_true = np.asarray(ab_true, dtype=np.float64)
    ab_pred = np.asarray(ab_pred, dtype=np.float64)
    if ab_true.shape != ab_pred.shape or ab_true.shape[-1:] != (2,):
        raise ValueError(
            "`auc` expects ab_true and ab_pred of the same shape (..., 2). "
            f"Received: shapes {ab_true.shape} and {ab_pred.shape}"
        )
    return np.sqrt(np.sum((ab_true - ab_pred) ** 2, axis=-1))


# Metrics


def auc(
    ab_true,
    ab_pred,
    rebalanced=False,
    prior=None,
    bins=None,
    smoothing_sigma=REBALANCING_SIGMA,
    max_threshold=AUC_MAX_THRESHOLD,
):
    """Area under the CMF of per-pixel ab errors (Zhang et al. 2016, Table 1).

    `CMF(t)` is the fraction of pixels with Euclidean ab error <= t; the AuC is its trapezoidal area
    over t = 0..150 divided by 150 (1 = all exact), all pixels pooled as Zhang et al. pool theirs.
    Rebalanced, pixels are weighted "inversely by color class probability" (which distribution is
    left open): 1 / p~ of the bin nearest the truth, p~ the pixels' own smoothed class frequencies
    (a training prior's near-zero bins would let a few pixels decide).

    Args:
        ab_true: ground-truth ab, shape `(..., 2)`, Lab units.
        ab_pred: predicted ab, same shape.
        rebalanced: weight pixels by 1 / p~(class).
        prior: optional `(Q,)` bin probabilities; weights pixels by 1 / prior(class) instead.
        bins: optional `(Q, 2)` bin centres; default the 313 in-gamut bins.
        smoothing_sigma: smoothing of p~ in ab units (5: the prior's, Sec. 2.2); 0: equal classes.
        max_threshold: the largest threshold (150 in Zhang et al.).

    Returns:
        float in [0, 1].

    Example:
    >>> true = np.zeros((4, 4, 2), "float32")
    >>> round(auc(true, true), 3)
    1.0
    >>> round(auc(true, true + [30.0, 40.0]), 3)  # every error is 50
    0.67
    >>> true[0, 0] = [60.0, 60.0]  # one pixel of a second colour, predicted grey
    >>> pred = np.zeros_like(true)
    >>> round(auc(true, pred), 3)  # 15/16 * 1 + 1/16 * (65.5 / 150), the error being 84.9
    0.965
    >>> round(auc(true, pred, rebalanced=True, smoothing_sigma=0), 3)  # (1 + 65.5 / 150) / 2
    0.718
    """
    error = _ab_error(ab_true, ab_pred)
    if not rebalanced and prior is None:
        histogram = _ErrorHistogram(1, max_threshold)
        histogram.update(error)
        return histogram.area()
    bins = _resolve_bins(bins)
    prior_weights = None if prior is None else _inverse_prior_class_weights(prior, bins)
    histogram = _ErrorHistogram(len(bins), max_threshold)
    histogram.update(error, _nearest_bins(ab_true, bins))
    if prior_weights is not None:
        return histogram.area(prior_weights)
    return histogram.area(_own_distribution_class_weights(histogram.pixels, bins, smoothing_sigma))


def psnr(rgb_true, rgb_pred):
    """Peak signal-to-noise ratio in dB of sRGB uint8 images (data range 255); `inf` if equal.

    Args:
        rgb_true, rgb_pred: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`, of one shape.

    Returns:
        float for one image; `(N,)` float64 array for a batch.

    Example:
    >>> a = np.zeros((8, 8, 3), np.uint8)
    >>> round(psnr(a, a + 1), 2)  # MSE = 1
    48.13
    """
    rgb_true, batch = _as_rgb_uint8(rgb_true, "psnr")
    rgb_pred, _ = _as_rgb_uint8(rgb_pred, "psnr")
    _check_same_shape(rgb_true, rgb_pred, "psnr")
    t = rgb_true.astype(np.float64)
    p = rgb_pred.astype(np.float64)
    mse = np.mean((t - p) ** 2, axis=(-3, -2, -1))
    with np.errstate(divide="ignore"):
        value = 10.0 * np.log10(255.0**2 / mse)
    return value if batch else float(value)


def _gaussian_kernel(sigma=_SSIM_SIGMA, radius=_SSIM_RADIUS):
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(x, kernel):
    """Separable Gaussian blur over axes (-3, -2) of `(..., H, W, C)`, mirror edges."""
    r = (len(kernel) - 1) // 2
    pad = [(0, 0)] * x.ndim
    pad[-3] = (r, r)
    pad[-2] = (r, r)
    x = np.pad(x, pad, mode="symmetric")
    h, w = x.shape[-3] - 2 * r, x.shape[-2] - 2 * r
    rows = sum(kernel[i] * x[..., i : i + h, :, :] for i in range(len(kernel)))
    return sum(kernel[i] * rows[..., :, i : i + w, :] for i in range(len(kernel)))


def ssim(rgb_true, rgb_pred):
    """Structural similarity (Wang et al. 2004) of sRGB uint8 images, per channel, averaged.

    The paper's 11x11 Gaussian window (sigma 1.5, K1 = 0.01, K2 = 0.03) inside the image, as
    skimage's `structural_similarity(..., gaussian_weights=True, use_sample_covariance=False)`.

    Args:
        rgb_true, rgb_pred: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`, of one shape; H, W >= 11.

    Returns:
        float in [-1, 1] for one image; `(N,)` array for a batch.

    Example:
    >>> a = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    >>> round(ssim(a, a), 3)
    1.0
    """
    rgb_true, batch = _as_rgb_uint8(rgb_true, "ssim")
    rgb_pred, _ = _as_rgb_uint8(rgb_pred, "ssim")
    _check_same_shape(rgb_true, rgb_pred, "ssim")
    size = 2 * _SSIM_RADIUS + 1
    if min(rgb_true.shape[-3:-1]) < size:
        raise ValueError(
            f"`ssim` needs images of at least {size}x{size} pixels (its Gaussian window). "
            f"Received: shape={rgb_true.shape}"
        )
    x = rgb_true.astype(np.float64)
    y = rgb_pred.astype(np.float64)
    kernel = _gaussian_kernel()
    mu_x, mu_y = _blur(x, kernel), _blur(y, kernel)
    var_x = _blur(x * x, kernel) - mu_x**2
    var_y = _blur(y * y, kernel) - mu_y**2
    cov = _blur(x * y, kernel) - mu_x * mu_y
    c1 = (_SSIM_K1 * 255.0) ** 2
    c2 = (_SSIM_K2 * 255.0) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    r = _SSIM_RADIUS
    s = s[..., r:-r, r:-r, :]
    value = s.mean(axis=(-3, -2, -1))
    return value if batch else float(value)


def colorfulness(rgb):
    """Colourfulness M^(3) of Hasler & Suesstrunk (2003); a grey image scores 0.

    `sqrt(sd_rg^2 + sd_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`, rg = R - G, yb = (R + G) / 2 - B.

    Args:
        rgb: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`.

    Returns:
        float for one image; `(N,)` array for a batch.

    Example:
    >>> red = np.zeros((2, 2, 3), np.uint8); red[..., 0] = 255
    >>> round(colorfulness(red), 2)  # rg = 255, yb = 127.5, no spread
    85.53
    """
    rgb, batch = _as_rgb_uint8(rgb, "colorfulness")
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    axes = (-2, -1)
    spread = np.sqrt(rg.std(axis=axes) ** 2 + yb.std(axis=axes) ** 2)
    centre = np.sqrt(rg.mean(axis=axes) ** 2 + yb.mean(axis=axes) ** 2)
    value = spread + 0.3 * centre
    return value if batch else float(value)


# Evaluation


def evaluate(
    model,
    dataset,
    temperature=ZHANG_TEMPERATURE,
    prior=None,
    max_batches=None,
    quantizer=None,
    batch_size=32,
    smoothing_sigma=REBALANCING_SIGMA,
):
    """Scores a model (or the grey baseline) on `(L, ab)` batches, predicting as `colorize` does.

    Args:
        model: a colorization `keras.Model`, or `None` for the grey baseline (ab = 0).
        dataset: iterable of `(L, ab)` batches `(B, H, W, 1)`, `(B, H, W, 2)` in Lab units.
        temperature, quantizer, batch_size: as for `colorization.inference.colorize`.
        prior: optional `(Q,)` bin prior; adds `auc_rebalanced_training_prior` (see `auc`).
        max_batches: stop after this many batches (None: the whole dataset).
        smoothing_sigma: smoothing of `auc_rebalanced`'s class distribution (see `auc`).

    Returns:
        dict: `auc`, `auc_rebalanced` (pixels pooled), maybe `auc_rebalanced_training_prior`, the
        per-image means `psnr`, `ssim`, `colorfulness`, `colorfulness_true`, and `num_images`.

    Example:
    >>> L = np.full((2, 16, 16, 1), 50.0, "float32")
    >>> ab = np.zeros((2, 16, 16, 2), "float32")
    >>> evaluate(None, [(L, ab)])["auc"]
    1.0
    """
    # The class frequencies of `auc_rebalanced` need every evaluated pixel: the errors are counted
    # per colour class and threshold and weighted once at the end.
    bin_quantizer = default_quantizer() if quantizer is None else quantizer
    bins = _resolve_bins(bin_quantizer.bins)
    prior_weights = None if prior is None else _inverse_prior_class_weights(prior, bins)
    histogram = _ErrorHistogram(len(bins))
    scores = {"psnr": [], "ssim": [], "colorfulness": [], "colorfulness_true": []}
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        L, ab = batch[0], batch[1]
        L = np.asarray(L, dtype=np.float32)
        ab = np.asarray(ab, dtype=np.float32)
        if L.ndim != 4 or L.shape[-1] != 1 or ab.shape != L.shape[:-1] + (2,):
            raise ValueError(
                "`evaluate` expects batches (L, ab) shaped (B, H, W, 1) and (B, H, W, 2). "
                f"Received: shapes {L.shape} and {ab.shape}"
            )
        if model is None:
            ab_pred = np.zeros_like(ab)
        else:
            ab_pred = predict_ab(
                model, L, temperature=temperature, quantizer=quantizer, batch_size=batch_size
            )
        histogram.update(_ab_error(ab, ab_pred), _bin_indices(bin_quantizer, ab))
        rgb_true, rgb_pred = l_ab_to_rgb_uint8(L, ab), l_ab_to_rgb_uint8(L, ab_pred)
        scores["psnr"].append(psnr(rgb_true, rgb_pred))
        scores["ssim"].append(ssim(rgb_true, rgb_pred))
        scores["colorfulness"].append(colorfulness(rgb_pred))
        scores["colorfulness_true"].append(colorfulness(rgb_true))
    if not scores["psnr"]:
        raise ValueError("`evaluate` received an empty dataset.")
    result = {
        "auc": histogram.area(),
        "auc_rebalanced": histogram.area(
            _own_distribution_class_weights(histogram.pixels, bins, smoothing_sigma)
        ),
    }
    if prior_weights is not None:
        result["auc_rebalanced_training_prior"] = histogram.area(prior_weights)
    for name, values in scores.items():
        result[name] = float(np.mean(np.concatenate(values)))
    result["num_images"] = int(sum(len(v) for v in scores["psnr"]))
    return result


def evaluate_grey_baseline(dataset, prior=None, max_batches=None):
    """`evaluate` for the grey baseline (ab = 0): the score of doing nothing."""
    return evaluate(None, dataset, prior=prior, max_batches=max_batches)
