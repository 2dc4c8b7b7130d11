"""Evidence for the reports' claims: per-photo scores, a bootstrap over photos, computed verdicts.

The notebooks test each claim of a report on validation photos no model trained on, and
compute every verdict by the rules here, never by hand: `PhotoScores` keeps every score per
photo, `compare` bootstraps a difference over the photos, `verdict_for_difference` and
`verdict_for_agreement` decide, and `Claims` writes `results/<notebook>.json`.

The bootstrap measures how much a result depends on which photos were evaluated, not how much
it would move with another training seed.
"""

import json
import math
import os
import pathlib

import numpy as np

from colorization import metrics
from notebook_support.visualization import to_rgb

VERDICTS = ("supported", "not supported", "inconclusive at this scale")
MODES = ("smoke", "cpu", "full")
RESULTS_DIR_ENV = "NOTEBOOK_RESULTS_DIR"
PER_PHOTO_METRICS = ("mse", "psnr", "ssim", "colorfulness", "colorfulness_true")
POOLED_METRICS = ("auc", "auc_rebalanced")
METRICS = POOLED_METRICS + PER_PHOTO_METRICS
CONFIDENCE = 0.95


def notebook_mode(environ=None):
    """The notebook's mode: "smoke" when `SMOKE=1`, else `MODE` (default "full").

    >>> notebook_mode({"SMOKE": "1"}), notebook_mode({"MODE": "cpu"}), notebook_mode({})
    ('smoke', 'cpu', 'full')
    """
    environ = os.environ if environ is None else environ
    if environ.get("SMOKE", "0") == "1":
        return "smoke"
    mode = environ.get("MODE", "full").strip().lower() or "full"
    if mode not in MODES:
        raise ValueError(
            f"MODE={environ.get('MODE')!r} is not a notebook mode; use one of {MODES}."
        )
    return mode


class PhotoScores:
    """Every score of one set of predictions, kept per photo.

    Args:
        L: `(N, H, W, 1)` lightness of the validation photos, [0, 100].
        ab_true: `(N, H, W, 2)` their true ab (Lab units).
        ab_pred: `(N, H, W, 2)` the predicted ab (`predict_ab`, `colorize`).
        bins: the AuC's colour classes (default: the 313 in-gamut bins).
        smoothing_sigma: see `metrics.auc`.

    `metric(name)` over all photos equals `metrics.evaluate`'s value; the AuCs are recomputed
    from per-photo error histograms, so they are exact for any resample of the photos.

    Example:

    >>> import numpy as np
    >>> L = np.full((2, 16, 16, 1), 50.0, "float32")
    >>> ab = np.zeros((2, 16, 16, 2), "float32")
    >>> ab[1] = 20.0
    >>> scores = PhotoScores(L, ab, np.zeros_like(ab))
    >>> # half the pixels exact, half off by 28.3: (0.5 * 28 + 0.75 + 121) / 150
    >>> round(scores.metric("auc"), 4)
    0.905
    >>> round(scores.metric("auc", weights=[2, 0]), 4)  # a resample: photo 0 twice
    1.0
    """

    def __init__(self, L, ab_true, ab_pred, bins=None, smoothing_sigma=metrics.REBALANCING_SIGMA):
        L = np.asarray(L, dtype=np.float32)
        ab_true = np.asarray(ab_true, dtype=np.float32)
        ab_pred = np.asarray(ab_pred, dtype=np.float32)
        if (
            L.ndim != 4
            or L.shape[-1] != 1
            or ab_true.shape != L.shape[:-1] + (2,)
            or ab_pred.shape != ab_true.shape
        ):
            raise ValueError(
                "PhotoScores expects L (N, H, W, 1), ab_true and ab_pred (N, H, W, 2); "
                f"Received: L.shape={L.shape}, ab_true.shape={ab_true.shape}, "
                f"ab_pred.shape={ab_pred.shape}"
            )
        self.bins = metrics._resolve_bins(bins)
        self.smoothing_sigma = smoothing_sigma
        rgb_true, rgb_pred = to_rgb(L, ab_true), to_rgb(L, ab_pred)
        self.values = {
            # Keras's MeanSquaredError of ab, per photo: over pixels and both channels, Lab units^2.
            "mse": np.mean(np.square(ab_true.astype(np.float64) - ab_pred), axis=(1, 2, 3)),
            "psnr": metrics.psnr(rgb_true, rgb_pred),
            "ssim": metrics.ssim(rgb_true, rgb_pred),
            "colorfulness": metrics.colorfulness(rgb_pred),
            "colorfulness_true": metrics.colorfulness(rgb_true),
        }
        num_classes = len(self.bins)
        classes = metrics._nearest_bins(ab_true, self.bins).reshape(len(L), -1)
        errors = metrics._ab_error(ab_true, ab_pred).reshape(len(L), -1)
        hist = np.zeros((len(L), num_classes * (metrics.AUC_MAX_THRESHOLD + 1)), np.float32)
        self._pixels = np.zeros((len(L), num_classes), np.float64)
        for i in range(len(L)):
            histogram = metrics._ErrorHistogram(num_classes)
            histogram.update(errors[i], classes[i])
            hist[i] = histogram.hist.reshape(-1)
            self._pixels[i] = histogram.pixels
        # Only the (class, threshold) cells some photo occupies, in float64: a resample is then
        # one small, exact matrix product (float32 sums of counts are inexact beyond 2^24).
        self._cells = np.flatnonzero(hist.any(axis=0))
        self._hist = hist[:, self._cells].astype(np.float64)

    def __len__(self):
        return len(self._pixels)

    def metric(self, name, weights=None):
        """The metric over the photos, each counted `weights[i]` times (default once)."""
        weights = np.ones(len(self)) if weights is None else np.asarray(weights, dtype=np.float64)
        if name in self.values:
            return float(np.sum(weights * self.values[name]) / np.sum(weights))
        if name not in POOLED_METRICS:
            raise ValueError(f"unknown metric {name!r}; PhotoScores knows {METRICS}.")
        histogram = metrics._ErrorHistogram(len(self.bins))
        histogram.hist.reshape(-1)[self._cells] = weights @ self._hist
        histogram.pixels = weights @ self._pixels
        if name == "auc":
            return histogram.area()
        return histogram.area(
            metrics._own_distribution_class_weights(
                histogram.pixels, self.bins, self.smoothing_sigma
            )
        )

    def summary(self, names=METRICS):
        """`{metric: value}` over all photos, as `metrics.evaluate` reports them."""
        return {name: self.metric(name) for name in names}


def _resample_weights(num_photos, resamples, rng):
    draws = rng.integers(0, num_photos, size=(resamples, num_photos))
    return [np.bincount(row, minlength=num_photos) for row in draws]


def compare(a, b, metric, resamples=1000, seed=0, paired=None):
    """The difference `a - b` of a metric, with its 95% bootstrap interval over the photos.

    Args:
        a, b: `PhotoScores`.
        metric: one of `METRICS`, or a per-photo array the caller added to both `values`.
        paired: resample `a` and `b` together (the same photos) or each on its own;
            default: paired when both hold the same number of photos.
        resamples: bootstrap resamples.
        seed: the resampling seed.

    Returns:
        dict with `a`, `b`, `difference` (on all photos) and the interval's `low`, `high`.
    """
    rng = np.random.default_rng(seed)
    paired = len(a) == len(b) if paired is None else bool(paired)
    if paired and len(a) != len(b):
        raise ValueError(
            "compare(paired=True) needs the same photos on both sides. "
            f"Received: len(a)={len(a)}, len(b)={len(b)}"
        )
    weights_a = _resample_weights(len(a), resamples, rng)
    weights_b = weights_a if paired else _resample_weights(len(b), resamples, rng)
    differences = np.array(
        [a.metric(metric, wa) - b.metric(metric, wb) for wa, wb in zip(weights_a, weights_b)]
    )
    tail = 100 * (1 - CONFIDENCE) / 2
    value_a, value_b = a.metric(metric), b.metric(metric)
    return {
        "a": value_a,
        "b": value_b,
        "difference": value_a - value_b,
        "low": float(np.percentile(differences, tail)),
        "high": float(np.percentile(differences, 100 - tail)),
    }


def verdict_for_difference(low, high, expected_sign=+1):
    """The verdict on a claim that a difference is positive (`expected_sign=+1`) or negative (-1).

    Returns `(verdict, rule)`: "supported" when `[low, high]` lies on the claimed side of zero,
    "not supported" when on the other side, else "inconclusive at this scale".

    >>> verdict_for_difference(0.1, 0.3)[0], verdict_for_difference(-0.3, -0.1)[0]
    ('supported', 'not supported')
    >>> verdict_for_difference(-0.1, 0.3)[0]
    'inconclusive at this scale'
    """
    if expected_sign not in (+1, -1):
        raise ValueError(
            f"expected_sign must be +1 or -1. Received: expected_sign={expected_sign!r}"
        )
    low, high = sorted((expected_sign * low, expected_sign * high))
    side = "above" if expected_sign > 0 else "below"
    if low > 0:
        return VERDICTS[0], f"the 95% interval of the difference lies entirely {side} zero"
    if high < 0:
        return VERDICTS[
            1
        ], "the 95% interval of the difference lies entirely on the other side of zero"
    return VERDICTS[2], "the 95% interval of the difference contains zero"


def verdict_for_agreement(x, y, relative_tolerance):
    """The verdict on a claim that two numbers are equal: within `relative_tolerance` of the larger.

    >>> verdict_for_agreement(10.0, 10.3, 0.05)[0], verdict_for_agreement(10.0, 20.0, 0.05)[0]
    ('supported', 'not supported')
    """
    scale = max(abs(x), abs(y))
    gap = abs(x - y) / scale if scale > 0 else 0.0
    if gap <= relative_tolerance:
        return VERDICTS[
            0
        ], f"they differ by {100 * gap:.2g}%, within the {100 * relative_tolerance:g}% tolerance"
    return VERDICTS[
        1
    ], f"they differ by {100 * gap:.2g}%, beyond the {100 * relative_tolerance:g}% tolerance"


def results_path(notebook, directory=None):
    """`$NOTEBOOK_RESULTS_DIR/<notebook>.json`, default `results/<notebook>.json`."""
    directory = directory or os.environ.get(RESULTS_DIR_ENV) or "results"
    return pathlib.Path(directory) / f"{notebook}.json"


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_results(results):
    """Returns a results dict (see `Claims.write`), or raises ValueError naming every problem."""
    problems = []
    if results.get("mode") not in MODES:
        problems.append(f"mode {results.get('mode')!r} is not one of {MODES}")
    for key in ("train_photos", "validation_photos"):
        if not isinstance(results.get(key), int) or results[key] < 1:
            problems.append(
                f"{key} must be a positive number of photos; found {results.get(key)!r}"
            )
    claims = results.get("claims")
    if not isinstance(claims, list) or not claims:
        problems.append("there are no claims")
        claims = []
    for index, entry in enumerate(claims):
        label = f"claim {index} ({entry.get('report')!r}: {str(entry.get('claim'))[:40]!r})"
        for key in ("report", "claim", "report_value", "why"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{label}: {key!r} must be a non-empty string")
        measured = entry.get("measured")
        if not isinstance(measured, dict) or not measured:
            problems.append(f"{label}: 'measured' must hold at least one number")
        else:
            for name, value in measured.items():
                if not _finite(value):
                    problems.append(f"{label}: measured {name!r} is {value!r}, not a finite number")
        if entry.get("verdict") not in VERDICTS:
            problems.append(f"{label}: verdict {entry.get('verdict')!r} is not one of {VERDICTS}")
    if problems:
        raise ValueError("results: " + "; ".join(problems))
    return results


def load_results(path):
    """Reads and checks a results file; the ValueError names the file."""
    path = pathlib.Path(path)
    try:
        return check_results(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None


class Claims:
    """The claims of one notebook, each with its measured numbers and computed verdict.

    Args:
        notebook: the notebook's name (the results file's name).
        mode: `notebook_mode()`.
        train_photos, validation_photos: how many photos trained and judged.

    Example:

    >>> claims = Claims("demo", "smoke", train_photos=8, validation_photos=4)
    >>> entry = claims.add_verdict(
    ...     "002", "predict agrees with the logged loss", "loss 40",
    ...     {"predict": 10.0, "logged": 12.0}, verdict_for_agreement(10.0, 12.0, 0.05))
    [002] predict agrees with the logged loss
        report: loss 40
        here:   predict 10, logged 12
        -> not supported (they differ by 17%, beyond the 5% tolerance)
    >>> entry["verdict"]
    'not supported'
    """

    def __init__(self, notebook, mode, train_photos, validation_photos, **extra):
        self.results = {
            "notebook": notebook,
            "mode": mode,
            "train_photos": int(train_photos),
            "validation_photos": int(validation_photos),
            **extra,
            "claims": [],
        }

    @property
    def claims(self):
        return self.results["claims"]

    def add_verdict(self, report, claim, report_value, measured, verdict_and_rule, why=None):
        """Records a claim with a verdict from `verdict_for_difference` / `verdict_for_agreement`.

        `why`, if given, prefixes the rule's own sentence.
        """
        verdict, rule = verdict_and_rule
        entry = {
            "report": str(report),
            "claim": claim,
            "report_value": str(report_value),
            "measured": {name: float(value) for name, value in measured.items()},
            "verdict": verdict,
            "why": f"{why}: {rule}" if why else rule,
        }
        self.claims.append(entry)
        numbers = ", ".join(f"{name} {value:.4g}" for name, value in entry["measured"].items())
        print(f"[{report}] {claim}\n    report: {report_value}\n    here:   {numbers}")
        print(f"    -> {verdict} ({entry['why']})")
        return entry

    def add_comparison(
        self, report, claim, report_value, comparison, names, expected_sign=+1, why=None
    ):
        """Records a claim tested by `compare`: its values under `names` (a, b) and the interval."""
        name_a, name_b = names
        measured = {
            name_a: comparison["a"],
            name_b: comparison["b"],
            "difference": comparison["difference"],
            "difference_low": comparison["low"],
            "difference_high": comparison["high"],
        }
        verdict = verdict_for_difference(comparison["low"], comparison["high"], expected_sign)
        return self.add_verdict(report, claim, report_value, measured, verdict, why)

    def table(self):
        """One line per claim: report, verdict, claim."""
        return "\n".join(f"{c['report']:<5} {c['verdict']:<27} {c['claim']}" for c in self.claims)

    def write(self, directory=None):
        """Checks the results and writes `results/<notebook>.json`; returns its path."""
        check_results(self.results)
        path = results_path(self.results["notebook"], directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.results, indent=2) + "\n")
        print(f"wrote {path} ({len(self.claims)} claims)")
        return path


README_START = (
    "<!-- reproduced: generated from notebooks/results by `make results-table`; do not edit -->"
)
README_END = "<!-- reproduced: end -->"


def _format_measured(measured, limit=4):
    parts = [
        f"{name} {value:.3g}"
        for name, value in measured.items()
        if not name.startswith("difference_")
    ]
    if len(parts) > limit:
        parts = parts[:limit] + ["..."]
    return ", ".join(parts)


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def reproduced_table(all_results):
    """The README's "What we reproduced" table: one row per claim of every results dict.

    >>> claim = {"report": "000", "claim": "A beats B", "report_value": "by eye",
    ...          "measured": {"a": 0.91, "b": 0.88, "difference_low": 0.01},
    ...          "verdict": "supported", "why": "..."}
    >>> results = {"notebook": "nb", "mode": "cpu", "train_photos": 6, "validation_photos": 2,
    ...            "claims": [claim]}
    >>> print(reproduced_table([results]))
    | report | claim | the report's result | ours | verdict | scale |
    |---|---|---|---|---|---|
    | 000 | A beats B | by eye | a 0.91, b 0.88 | supported | cpu: 6 train / 2 validation photos |
    """
    lines = [
        "| report | claim | the report's result | ours | verdict | scale |",
        "|---|---|---|---|---|---|",
    ]
    for results in all_results:
        photos = (
            f"{results['train_photos']} train / {results['validation_photos']} validation photos"
        )
        scale = f"{results['mode']}: {photos}"
        for entry in results["claims"]:
            cells = (
                entry["report"],
                entry["claim"],
                entry["report_value"],
                _format_measured(entry["measured"]),
                entry["verdict"],
                scale,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def update_readme(readme_path, results_dir):
    """Rewrites the README's table between its markers from `results_dir`; returns the table."""
    readme_path = pathlib.Path(readme_path)
    files = sorted(pathlib.Path(results_dir).glob("*.json"))
    if not files:
        raise ValueError(f"{results_dir}: no results files; run `make notebooks` first.")
    table = reproduced_table([load_results(path) for path in files])
    text = readme_path.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(
            f"{readme_path}: the markers {README_START!r} and {README_END!r} are missing."
        )
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme_path.write_text(f"{head}{README_START}\n{table}\n{README_END}{tail}")
    return table
