"""Colorization metrics: AuC of the ab-error CMF, PSNR, SSIM, colourfulness.

All functions take NumPy-compatible arrays (NumPy, or a backend tensor that
`numpy.asarray` accepts) and return Python floats or NumPy arrays; they are
evaluation code and run outside any graph.

- `auc`: Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016),
  Table 1 "AuC": the area under the cumulative mass function of the per-pixel
  Euclidean error in ab, for thresholds 0..150, normalised to [0, 1]; the
  class-rebalanced variant weights each pixel inversely by the (smoothed)
  frequency of its true colour's bin among the evaluated pixels, so that
  every colour class counts about equally.
- `psnr`, `ssim`: on sRGB uint8 images, data range 255.
- `colorfulness`: Hasler & Suesstrunk, "Measuring colourfulness in natural
  images" (SPIE 2003), the metric M^(3).

`evaluate(model, dataset)` runs a model over `(L, ab)` batches through the
same path as `colorization.colorize` and returns the means of all of them;
`evaluate(None, dataset)` (or `evaluate_grey_baseline`) scores the grey
baseline, ab = 0.
"""

import numpy as np

AUC_MAX_THRESHOLD = 150
# Gaussian smoothing (ab units) of the class distribution of the rebalanced
# AuC: Zhang et al.'s prior smoothing, `quantization.ZHANG_SIGMA`.
REBALANCING_SIGMA = 5.0
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # int(3.5 * 1.5 + 0.5): an 11-tap window, as Wang et al. 2004
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03
_ERROR_TOLERANCE = 1e-4


# Helpers


def _as_rgb_uint8(rgb, name):
    """Checks an RGB uint8 image or batch; returns (array, is_batch)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise TypeError(
            f"`{name}` expects sRGB uint8 (0-255); received dtype {rgb.dtype}. "
            "Convert with `colorization.color.lab_to_rgb_uint8` or "
            "`np.round(x * 255).astype('uint8')` first."
        )
    if rgb.ndim not in (3, 4) or rgb.shape[-1] != 3:
        raise ValueError(
            f"`{name}` expects an RGB image (H, W, 3) or a batch (N, H, W, 3); "
            f"received shape {rgb.shape}."
        )
    return rgb, rgb.ndim == 4


def _check_same_shape(a, b, name):
    if a.shape != b.shape:
        raise ValueError(
            f"`{name}` needs images of the same shape; received "
            f"{a.shape} and {b.shape}."
        )


def _nearest_bins(ab, bins):
    """Index of the nearest bin centre for each row of `ab` (N, 2).

    A k-d tree (SciPy, which scikit-image depends on) finds it in about a
    tenth of the time of a chunked distance matrix against all Q bins.
    """
    from scipy.spatial import cKDTree

    ab = np.asarray(ab, dtype=np.float64).reshape(-1, 2)
    _, index = cKDTree(np.asarray(bins, dtype=np.float64)).query(ab)
    return index.astype(np.int64)


def _resolve_bins(bins):
    if bins is None:
        from colorization.quantization import default_ab_bins

        bins = default_ab_bins()
    return np.asarray(bins, dtype=np.float64)


def _inverse_prior_class_weights(prior, bins):
    """Per-class weights 1 / p(class) for the training-prior variant of the rebalanced AuC.

    Classes the prior gives zero probability (a colour never seen when the
    prior was counted) are given the smallest non-zero prior, so a single
    unseen colour cannot take all the weight.
    """
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if prior.shape[0] != bins.shape[0]:
        raise ValueError(
            f"`prior` must have one probability per ab bin ({bins.shape[0]}); "
            f"received shape {prior.shape}."
        )
    if np.any(prior < 0) or not np.any(prior > 0) or not np.all(np.isfinite(prior)):
        raise ValueError("`prior` must be finite, non-negative and not all zero.")
    prior = prior / prior.sum()
    return 1.0 / np.maximum(prior, prior[prior > 0].min())


def _own_distribution_class_weights(pixels_per_class, bins, smoothing_sigma):
    """Per-class weights 1 / p~(class), p~ the evaluated pixels' own smoothed distribution.

    Only occupied classes carry pixels, and each has p~ > 0 (its own count
    survives the smoothing), so every weight that is used is finite.
    """
    from colorization.quantization import smooth_prior

    own = smooth_prior(pixels_per_class, bins=bins, sigma=smoothing_sigma)
    occupied = pixels_per_class > 0
    return np.divide(1.0, own, out=np.zeros_like(own), where=occupied)


class _ErrorHistogram:
    """Streams per-colour-class histograms of ab errors over the thresholds 0..150.

    `hist[q, t]` counts the pixels whose true colour lies in class (bin) `q`
    and whose error rounds up to the integer threshold `t` (errors within
    1e-4 Lab units above an integer count at that integer, so float32
    rounding of an exact prediction does not move it to the next threshold);
    `pixels[q]` counts all pixels of class `q`, errors beyond 150 included.
    Any weighting of the pixels by their class is then exact after a single
    pass: the weighted CMF is `cumsum(w @ hist) / (w @ pixels)`. With one
    class it is the plain CMF.
    """

    def __init__(self, num_classes=1, max_threshold=AUC_MAX_THRESHOLD):
        self.max_threshold = int(max_threshold)
        self.hist = np.zeros((num_classes, self.max_threshold + 1), dtype=np.float64)
        self.pixels = np.zeros(num_classes, dtype=np.float64)

    def update(self, error, classes=None):
        error = np.asarray(error, dtype=np.float64).reshape(-1)
        classes = (
            np.zeros(error.shape, np.int64) if classes is None
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
            "`auc` expects ab_true and ab_pred of the same shape (..., 2); "
            f"received {ab_true.shape} and {ab_pred.shape}."
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

    For every pixel the error is the Euclidean distance in ab (Lab units).
    The cumulative mass function `CMF(t)` is the fraction of pixels with
    error <= t; its area over the integer thresholds t = 0..150 (trapezoidal
    rule), divided by 150, is the AuC in [0, 1] (1 = every pixel exact). All
    pixels of all images given are pooled into one CMF, as Zhang et al. pool
    their test set.

    Rebalanced AuC (`rebalanced=True`). Zhang et al. "re-weight the pixels
    inversely by color class probability" so that rare colours count as much
    as common ones. The colour classes are the Q ab bins (the pixel's class is
    the bin nearest its true colour) and the class probability used here is
    the evaluated pixels' OWN distribution over the bins, smoothed with a
    Gaussian of sigma = 5 ab units exactly as Zhang et al. smooth their
    empirical prior (section 3.1; `quantization.smooth_prior`). Each pixel of
    class q weighs 1 / p~(q): with no smoothing every occupied class then
    weighs the same in total (the metric is the mean over occupied classes of
    each class's AuC); the smoothing makes a class's weight follow the local
    density of colours rather than the side of a bin border a colour falls
    on. Why the own distribution: Zhang et al. count their probabilities on
    1.3 million ImageNet photos, where the training and test distributions
    agree; a prior counted on a small training set instead has bins with
    probabilities near zero (1e-24 after smoothing), whose inverse lets a
    few pixels decide the metric, and the metric then moves with the size of
    the training set (for the grey baseline on 100 held-out ImageNet photos
    at 64x64: 0.37 with a 50-photo prior, 0.57 with a 600-photo prior). The
    own distribution depends only on the pixels evaluated. On those photos
    the grey baseline scores 0.892 raw and 0.633 rebalanced (Zhang et al.,
    Table 1, grey on ImageNet: 89.1 and 58.0).

    Training-prior variant (`prior=`): weights 1 / prior(q) from a given
    prior, e.g. the training set's (`data_pipeline.compute_prior`); bins with
    a zero prior get the smallest non-zero one. Unstable unless the prior was
    counted on a very large set, for the reason above; kept for comparison
    with earlier results.

    Args:
        ab_true: ground-truth ab, shape `(..., 2)`, Lab units.
        ab_pred: predicted ab, same shape.
        rebalanced: weight pixels inversely by the smoothed frequency of
            their colour class among the evaluated pixels.
        prior: optional `(Q,)` bin probabilities (normalised here); when
            given, pixels are weighted by its inverse instead (the unstable
            training-prior variant; implies rebalancing).
        bins: optional `(Q, 2)` bin centres; default the 313 in-gamut bins.
        smoothing_sigma: Gaussian smoothing (ab units) of the own
            distribution; 0 makes every occupied class count exactly equally.
        max_threshold: the largest threshold (150 in Zhang et al.).

    Returns:
        float in [0, 1].

    Example:

    >>> import numpy as np
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
    """Peak signal-to-noise ratio in dB of sRGB uint8 images (data range 255).

    `10 log10(255^2 / MSE)` with the MSE over all pixels and channels of one
    image; `inf` for identical images.

    Args:
        rgb_true: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`.
        rgb_pred: uint8 of the same shape.

    Returns:
        float for one image; `(N,)` float64 array for a batch.

    Example:

    >>> import numpy as np
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
    """Structural similarity (Wang et al. 2004) of sRGB uint8 images.

    The paper's settings: an 11x11 Gaussian window with sigma 1.5,
    K1 = 0.01, K2 = 0.03, data range 255; computed per RGB channel and
    averaged, over the window positions that lie inside the image (a border of
    5 pixels is left out). Equal to `skimage.metrics.structural_similarity(
    a, b, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`.

    Args:
        rgb_true: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`, H and W >= 11.
        rgb_pred: uint8 of the same shape.

    Returns:
        float in [-1, 1] for one image; `(N,)` array for a batch.

    Example:

    >>> import numpy as np
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
            f"`ssim` needs images of at least {size}x{size} pixels (its "
            f"Gaussian window); received shape {rgb_true.shape}."
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
    """Colourfulness of Hasler & Suesstrunk (2003), metric M^(3).

    With rg = R - G and yb = (R + G) / 2 - B on the 0-255 scale:
    `sqrt(sd_rg^2 + sd_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`
    (population standard deviations over the pixels of one image). A grey
    image scores 0; the authors call about 33 "moderately" and 59 "quite"
    colourful.

    Args:
        rgb: uint8 `(H, W, 3)` or a batch `(N, H, W, 3)`.

    Returns:
        float for one image; `(N,)` array for a batch.

    Example:

    >>> import numpy as np
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
    temperature=0.38,
    prior=None,
    max_batches=None,
    quantizer=None,
    batch_size=32,
    smoothing_sigma=REBALANCING_SIGMA,
):
    """Scores a model (or the grey baseline) on `(L, ab)` batches.

    Predictions go through the same path as `colorization.colorize`: L is
    resized to the model's input size, the model's output (ab, or bin
    probabilities decoded with the annealed mean at `temperature`) is
    upsampled bilinearly to the size of the ground truth and recombined with
    the true L. `model=None` predicts ab = 0 everywhere (the grey baseline).

    Args:
        model: a colorization `keras.Model`, or None for the grey baseline.
        dataset: an iterable of `(L, ab)` batches, L `(B, H, W, 1)` in
            [0, 100] and ab `(B, H, W, 2)` in Lab units (a `tf.data.Dataset`
            from `data_pipeline.read_shards`, or a list of NumPy pairs).
        temperature: annealed-mean temperature for classification models.
        prior: optional `(Q,)` bin prior, e.g. the training set's; adds
            `auc_rebalanced_training_prior`, the AuC weighted by its inverse
            (the unstable variant described in `auc`; `auc_rebalanced` does
            not depend on it).
        max_batches: stop after this many batches (None: the whole dataset).
        quantizer: optional `ABQuantizer` whose bins a classification model
            predicts (default: the 313 standard bins).
        batch_size: images per forward pass.
        smoothing_sigma: smoothing of the class distribution of
            `auc_rebalanced` (see `auc`).

    Returns:
        dict with `auc` (pooled over all pixels), `auc_rebalanced` (each
        pixel weighted inversely by the smoothed frequency of its colour
        class among all evaluated pixels, as `auc(..., rebalanced=True)` on
        the whole set), optionally `auc_rebalanced_training_prior`, and the
        means over images of `psnr`, `ssim`, `colorfulness` (of the
        prediction) and `colorfulness_true`, plus `num_images`.

    The class frequencies of `auc_rebalanced` need every evaluated pixel, so
    the errors are accumulated per colour class and threshold (313 x 151
    counts) and weighted once at the end: one pass over the data, exact.

    Example:

    >>> import numpy as np
    >>> L = np.full((2, 16, 16, 1), 50.0, "float32")
    >>> ab = np.zeros((2, 16, 16, 2), "float32")
    >>> evaluate(None, [(L, ab)])["auc"]
    1.0
    """
    from keras import ops

    from colorization.color import lab_to_rgb_uint8
    from colorization.color import merge_lab
    from colorization.inference import predict_ab

    bins = _resolve_bins(None if quantizer is None else quantizer.bins)
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
                "`evaluate` expects batches (L, ab) shaped (B, H, W, 1) and "
                f"(B, H, W, 2); received {L.shape} and {ab.shape}."
            )
        if model is None:
            ab_pred = np.zeros_like(ab)
        else:
            ab_pred = predict_ab(
                model, L, temperature=temperature, quantizer=quantizer, batch_size=batch_size
            )
        histogram.update(_ab_error(ab, ab_pred), _nearest_bins(ab, bins))
        rgb_true = ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab)))
        rgb_pred = ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab_pred)))
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
    """`evaluate` for the grey baseline (ab = 0): the score of doing nothing.

    `prior` only adds `auc_rebalanced_training_prior` (see `evaluate`).
    """
    return evaluate(None, dataset, prior=prior, max_batches=max_batches)
