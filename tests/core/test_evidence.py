"""Per-photo evidence against the pooled metrics, the bootstrap's pairing, verdicts, results."""

import json

import keras
import numpy as np
import pytest

from colorization import metrics
from notebook_support import evidence
from notebook_support.visualization import to_rgb

pytestmark = pytest.mark.core


def _photos(n=6, size=16, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.uniform(20, 80, (n, size, size, 1)).astype(np.float32)
    ab_true = rng.normal(0, 25, (n, size, size, 2)).astype(np.float32)
    return L, ab_true


def test_scores_over_all_photos_equal_the_pooled_metrics():
    L, ab_true = _photos()
    ab_pred = (0.5 * ab_true + np.random.default_rng(1).normal(0, 5, ab_true.shape)).astype(
        np.float32
    )
    scores = evidence.PhotoScores(L, ab_true, ab_pred)
    assert scores.metric("auc") == pytest.approx(metrics.auc(ab_true, ab_pred), abs=1e-9)
    assert scores.metric("auc_rebalanced") == pytest.approx(
        metrics.auc(ab_true, ab_pred, rebalanced=True), abs=1e-9
    )
    reference = metrics.evaluate(None, [(L, ab_true)])
    grey = evidence.PhotoScores(L, ab_true, np.zeros_like(ab_true)).summary()
    for name in set(evidence.METRICS) - {"mse"}:
        assert grey[name] == pytest.approx(reference[name], rel=1e-9, abs=1e-12), name
    mse = keras.losses.MeanSquaredError()(ab_true, ab_pred)
    assert evidence.PhotoScores(L, ab_true, ab_pred).metric("mse") == pytest.approx(
        float(mse), rel=1e-5
    )


def test_a_resample_equals_the_metric_of_the_repeated_photos():
    L, ab_true = _photos()
    ab_pred = (0.3 * ab_true).astype(np.float32)
    scores = evidence.PhotoScores(L, ab_true, ab_pred)
    weights = np.array([3, 0, 1, 0, 2, 0])
    repeated = np.repeat(np.arange(len(L)), weights)
    assert scores.metric("auc_rebalanced", weights) == pytest.approx(
        metrics.auc(ab_true[repeated], ab_pred[repeated], rebalanced=True), abs=1e-9
    )
    assert scores.metric("colorfulness", weights) == pytest.approx(
        np.mean(metrics.colorfulness(to_rgb(L[repeated], ab_pred[repeated]))), rel=1e-12
    )


def test_a_clearly_better_prediction_is_supported_and_noise_is_inconclusive():
    L, ab_true = _photos(n=20)
    rng = np.random.default_rng(2)
    close = (ab_true + rng.normal(0, 3, ab_true.shape)).astype(np.float32)
    far = (ab_true + rng.normal(0, 30, ab_true.shape)).astype(np.float32)
    close_scores, far_scores = (evidence.PhotoScores(L, ab_true, p) for p in (close, far))
    result = evidence.compare(close_scores, far_scores, "auc", resamples=200)
    assert result["low"] > 0
    assert evidence.verdict_for_difference(result["low"], result["high"])[0] == "supported"
    assert (
        evidence.verdict_for_difference(result["low"], result["high"], expected_sign=-1)[0]
        == "not supported"
    )
    # Two equally good predictions (independent noise of one size): the interval straddles zero.
    other = (ab_true + rng.normal(0, 3, ab_true.shape)).astype(np.float32)
    tie = evidence.compare(
        close_scores, evidence.PhotoScores(L, ab_true, other), "psnr", resamples=200
    )
    assert tie["low"] < 0 < tie["high"]


def test_paired_resampling_is_narrower_than_unpaired_for_the_same_photos():
    L, ab_true = _photos(n=20)
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.2, 1.0, (20, 1, 1, 1)).astype(
        np.float32
    )  # photos differ a lot in difficulty
    a = evidence.PhotoScores(L, ab_true, (scale * ab_true).astype(np.float32))
    b = evidence.PhotoScores(L, ab_true, (scale * 0.9 * ab_true).astype(np.float32))
    paired = evidence.compare(a, b, "psnr", resamples=300)
    b_fewer = evidence.PhotoScores(
        L[:19], ab_true[:19], (scale[:19] * 0.9 * ab_true[:19]).astype(np.float32)
    )
    unpaired = evidence.compare(a, b_fewer, "psnr", resamples=300)
    assert paired["high"] - paired["low"] < 0.5 * (unpaired["high"] - unpaired["low"])


def test_results_are_checked_and_written(tmp_path, monkeypatch):
    claims = evidence.Claims("nb", "cpu", train_photos=10, validation_photos=5)
    claims.add_verdict(
        "000",
        "a claim",
        "by eye",
        {"x": 1.0, "y": 1.02},
        evidence.verdict_for_agreement(1.0, 1.02, 0.05),
    )
    monkeypatch.setenv(evidence.RESULTS_DIR_ENV, str(tmp_path / "out"))
    path = claims.write()
    assert path == tmp_path / "out" / "nb.json"
    loaded = evidence.load_results(path)
    assert loaded["claims"][0]["verdict"] == "supported"

    broken = json.loads(path.read_text())
    broken["claims"][0]["measured"]["x"] = float("nan")
    broken["claims"][0]["verdict"] = "SUPPORTED"
    broken["validation_photos"] = 0
    path.write_text(json.dumps(broken))
    with pytest.raises(ValueError) as error:
        evidence.load_results(path)
    message = str(error.value)
    assert (
        "nb.json" in message
        and "'x'" in message
        and "SUPPORTED" in message
        and "validation_photos" in message
    )


def test_notebook_mode_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="MODE='gpu'"):
        evidence.notebook_mode({"MODE": "gpu"})


def test_unpaired_comparison_of_equal_sized_sets_is_explicit():
    L, ab_true = _photos(n=8)
    a = evidence.PhotoScores(L, ab_true, (0.5 * ab_true).astype(np.float32))
    b = evidence.PhotoScores(L[:4], ab_true[:4], np.zeros_like(ab_true[:4]))
    with pytest.raises(ValueError, match="same photos"):
        evidence.compare(a, b, "psnr", paired=True)
    paired = evidence.compare(a, a, "psnr", resamples=50)
    unpaired = evidence.compare(a, a, "psnr", resamples=50, paired=False)
    assert (
        paired["low"] == paired["high"] == 0.0
    )  # the same photos: every resample differs by exactly zero
    assert unpaired["low"] < 0 < unpaired["high"]
