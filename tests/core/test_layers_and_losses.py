"""AnnealedMean and the paper losses against NumPy computations and worked examples."""

import keras
import numpy as np
import pytest

from colorization.layers import AnnealedMean
from colorization.losses import ColorRegularizer
from colorization.losses import GradientCoherenceLoss
from colorization.losses import RebalancedCrossEntropy
from colorization.losses import color_regularizer
from colorization.losses import gradient_coherence
from colorization.quantization import ABQuantizer
from colorization.quantization import default_ab_bins

pytestmark = pytest.mark.core


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _numpy_soft_targets(ab, k=5, sigma=5.0):
    bins = default_ab_bins().astype(np.float64)
    sq = ((ab[..., None, :].astype(np.float64) - bins) ** 2).sum(-1)
    nearest = np.argsort(sq, axis=-1, kind="stable")[..., :k]
    w = np.exp(-np.take_along_axis(sq, nearest, -1) / (2 * sigma**2))
    w /= w.sum(-1, keepdims=True)
    dense = np.zeros(sq.shape)
    np.put_along_axis(dense, nearest, w, axis=-1)
    return dense, nearest[..., 0]


def _round_trip(model, tmp_path, inputs):
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        np.asarray(restored.predict(inputs, verbose=0)),
        np.asarray(model.predict(inputs, verbose=0)),
        atol=1e-6,
    )
    return restored


def test_annealed_mean_layer_matches_numpy_and_round_trips(rng, tmp_path):
    probs = _softmax(rng.normal(0, 2, (2, 3, 5, 313))).astype(np.float32)
    layer = AnnealedMean(temperature=0.38)
    tempered = probs.astype(np.float64) ** (1 / 0.38)
    tempered /= tempered.sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(layer(probs)), tempered @ default_ab_bins(), atol=1e-3)
    inputs = keras.Input((3, 5, 313))
    model = keras.Model(inputs, AnnealedMean(temperature=0.2, name="decode")(inputs))
    restored = _round_trip(model, tmp_path, probs)
    assert restored.get_layer("decode").temperature == 0.2


def test_annealed_mean_exact_zeros_and_custom_bins(tmp_path):
    bins = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
    layer = AnnealedMean(temperature=0.01, bins=bins)
    out = np.asarray(layer(np.array([[0.0, 0.7, 0.3]], np.float32)))
    np.testing.assert_allclose(out, [[10.0, 0.0]], atol=1e-4)
    restored = AnnealedMean.from_config(layer.get_config())
    np.testing.assert_array_equal(restored._quantizer.bins, bins)


def test_rebalanced_cross_entropy_matches_numpy(rng):
    ab = rng.normal(0, 30, (2, 8, 8, 2)).astype(np.float32)
    probs = _softmax(rng.normal(0, 1, (2, 8, 8, 313))).astype(np.float32)
    weights = rng.uniform(0.5, 2.0, 313).astype(np.float32)
    targets, nearest = _numpy_soft_targets(ab)
    per_pixel = -(targets * np.log(probs)).sum(-1) * weights[nearest]
    loss = RebalancedCrossEntropy(class_weights=weights)
    np.testing.assert_allclose(float(loss(ab, probs)), per_pixel.mean(), rtol=1e-5)
    # Already-encoded targets give the same value; logits give the same value.
    np.testing.assert_allclose(
        float(loss(targets.astype(np.float32), probs)), per_pixel.mean(), rtol=1e-5
    )
    logits = np.log(probs)
    from_logits = RebalancedCrossEntropy(class_weights=weights, from_logits=True)
    np.testing.assert_allclose(float(from_logits(ab, logits)), per_pixel.mean(), rtol=1e-5)


def test_rebalanced_cross_entropy_resizes_targets_to_the_output_grid(rng):
    ab = rng.normal(0, 30, (1, 16, 16, 2)).astype(np.float32)
    probs = _softmax(rng.normal(0, 1, (1, 4, 4, 313))).astype(np.float32)
    sub = ab[:, ::4, ::4]  # Zhang's stride-4 subsampling
    targets, _ = _numpy_soft_targets(sub)
    expected = -(targets * np.log(probs)).sum(-1).mean()
    np.testing.assert_allclose(float(RebalancedCrossEntropy()(ab, probs)), expected, rtol=1e-5)
    area = ab.reshape(1, 4, 4, 4, 4, 2).mean(axis=(2, 4))
    targets, _ = _numpy_soft_targets(area)
    expected = -(targets * np.log(probs)).sum(-1).mean()
    got = RebalancedCrossEntropy(target_interpolation="area")(ab, probs)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="313 bins"):
        RebalancedCrossEntropy()(ab, probs[..., :10])
    with pytest.raises(ValueError, match="class_weights"):
        RebalancedCrossEntropy(class_weights=np.ones(3))


def _numpy_coherence(y, y_hat):
    d = y.astype(np.float64) - y_hat
    dx = d[:, :-1, 1:] - d[:, :-1, :-1]
    dy = d[:, 1:, :-1] - d[:, :-1, :-1]
    return np.sqrt((dx**2).sum(-1) + (dy**2).sum(-1)).mean()


def test_gradient_coherence_matches_numpy_and_ignores_shifts(rng):
    y = rng.normal(0, 20, (2, 9, 7, 2)).astype(np.float32)
    y_hat = rng.normal(0, 20, (2, 9, 7, 2)).astype(np.float32)
    np.testing.assert_allclose(
        float(GradientCoherenceLoss()(y, y_hat)), _numpy_coherence(y, y_hat), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(gradient_coherence(y, y_hat)), _numpy_coherence(y, y_hat), rtol=1e-5
    )
    assert float(GradientCoherenceLoss()(y, y + np.float32(13.0))) == pytest.approx(0.0, abs=1e-4)


def test_gradient_coherence_worked_example():
    # Truth: a vertical edge of 10 a-units; prediction: flat. Only pixels of
    # column 1 (of 0..2 in a 3x3 grid of differences) see the edge: |(10, 0)| = 10.
    truth = np.zeros((1, 4, 4, 2), np.float32)
    truth[:, :, 2:, 0] = 10.0
    expected = 3 * 10.0 / 9
    np.testing.assert_allclose(
        float(GradientCoherenceLoss()(truth, np.zeros_like(truth))), expected, rtol=1e-6
    )


def test_color_regularizer_worked_examples(rng):
    z = np.array([[0.6, 0.3, 0.1, 0.0]], np.float32)
    # Refined mode on Z's mode -> 0; on a bin with Z = 0 -> 1; on 0.3 -> 1 - 0.3/0.6.
    assert float(
        color_regularizer(z, np.array([[0.9, 0.05, 0.03, 0.02]], np.float32))
    ) == pytest.approx(0, abs=1e-4)
    assert float(
        color_regularizer(z, np.array([[0.05, 0.05, 0.1, 0.8]], np.float32))
    ) == pytest.approx(1, abs=1e-4)
    assert float(
        color_regularizer(z, np.array([[0.1, 0.8, 0.05, 0.05]], np.float32))
    ) == pytest.approx(0.5, abs=1e-4)
    z = _softmax(rng.normal(0, 1, (3, 4, 313)))
    z_hat = _softmax(rng.normal(0, 1, (3, 4, 313)))
    f = _softmax(np.log(z_hat) / 0.01)
    expected = (1 - (z * f).sum(-1) / z.max(-1)).mean()
    np.testing.assert_allclose(
        float(ColorRegularizer()(z.astype(np.float32), z_hat.astype(np.float32))),
        expected,
        rtol=1e-4,
    )


def _grad_wrt(fn, x):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        value = fn(x)
        if not value.requires_grad:  # no path to x
            return np.zeros(x.shape)
        (grad,) = torch.autograd.grad(value, x, allow_unused=True)
        return np.zeros(x.shape) if grad is None else grad.numpy()
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = fn(x)
    grad = tape.gradient(value, x)
    return np.zeros(x.shape) if grad is None else grad.numpy()  # None: no path to x


def test_loss_gradients_are_finite_and_regularizer_stops_gradient_into_z(rng):
    y = rng.normal(0, 20, (1, 6, 6, 2)).astype(np.float32)
    assert np.isfinite(
        _grad_wrt(lambda p: GradientCoherenceLoss()(y, p), y.copy())
    ).all()  # zero difference
    probs = _softmax(rng.normal(0, 1, (1, 6, 6, 313))).astype(np.float32)
    probs[..., :5] = 0.0
    assert np.isfinite(_grad_wrt(lambda p: RebalancedCrossEntropy()(y, p), probs)).all()
    z = _softmax(rng.normal(0, 1, (2, 313))).astype(np.float32)
    assert np.abs(_grad_wrt(lambda zz: color_regularizer(zz, z[::-1]), z)).max() == 0.0
    assert np.isfinite(_grad_wrt(lambda zh: color_regularizer(z, zh), probs[0, 0:2, 0])).all()


def _tiny_classifier(num_bins=313):
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.AveragePooling2D(4)(x)
    return keras.Model(inputs, keras.layers.Conv2D(num_bins, 1, activation="softmax")(x))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_losses_train_in_model_fit_and_round_trip(rng, tmp_path, jit_compile):
    if jit_compile and keras.backend.backend() == "torch":
        pytest.skip(
            "jit_compile=True means torch.compile on torch: minutes of C++ compilation on a CPU; "
            "the losses' compilability is checked with XLA on TensorFlow and JAX"
        )
    L = rng.uniform(0, 100, (4, 16, 16, 1)).astype(np.float32)
    ab = rng.normal(0, 25, (4, 16, 16, 2)).astype(np.float32)
    model = _tiny_classifier()
    weights = rng.uniform(0.5, 2, 313)
    model.compile(
        optimizer="adam",
        loss=RebalancedCrossEntropy(class_weights=weights),
        jit_compile=jit_compile,
    )
    history = model.fit(L, ab, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "classifier.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(restored.loss.class_weights, weights.astype(np.float32))
    np.testing.assert_allclose(
        restored.predict(L, verbose=0), model.predict(L, verbose=0), atol=1e-6
    )

    inputs = keras.Input((16, 16, 1))
    regression = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs))
    regression.compile(optimizer="adam", loss=GradientCoherenceLoss(), jit_compile=jit_compile)
    assert np.isfinite(regression.fit(L, ab, epochs=1, verbose=0).history["loss"]).all()


@pytest.mark.parametrize(
    "loss",
    [
        RebalancedCrossEntropy(quantizer=ABQuantizer(neighbors=10)),
        GradientCoherenceLoss(target_interpolation="bilinear"),
        ColorRegularizer(temperature=0.05),
    ],
)
def test_losses_serialize(loss):
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss), safe_mode=True
    )
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
