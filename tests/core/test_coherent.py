"""Report 003's coherent colorizer: decoding against NumPy, the stop-gradient into the base
checked on gradients, fit on (L, ab) with each term logged, section-5 rebalancing, round trips."""

import importlib

import keras
import numpy as np
import pytest

from colorization import colorize
from colorization.models import coherent
from colorization.models import eccv16
from colorization.quantization import default_ab_bins

pytestmark = pytest.mark.core

coherent_module = importlib.import_module("colorization.models.coherent")
TINY = {"width": 4, "branch_filters": 4, "refine_filters": 8}


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def data(rng, n=2, size=32):
    L = rng.uniform(0, 100, (n, size, size, 1)).astype("float32")
    ab = np.zeros((n, size, size, 2), "float32")
    ab[:, :, size // 2 :, 0] = 40.0  # two flat regions with one edge
    ab[:, : size // 2, :, 1] = -30.0
    return L, ab + rng.normal(0, 2, ab.shape).astype("float32")


def test_structure_and_decoding_through_the_bin_matrix(rng):
    keras.utils.set_random_seed(0)
    model = coherent((32, 32, 1), decode_temperature=0.1, **TINY)
    L, _ = data(rng)
    heads = {k: numpy(v) for k, v in model.heads(L).items()}
    assert heads["z"].shape == (2, 8, 8, 313) and heads["z_hat"].shape == (2, 32, 32, 313)
    np.testing.assert_allclose(heads["z_hat"].sum(-1), 1.0, atol=1e-4)
    np.testing.assert_allclose(
        heads["z_up"].sum(-1), 1.0, atol=1e-4
    )  # bilinear upsampling keeps distributions
    z_hat = heads["z_hat"].astype("float64")
    sharpened = np.exp(np.log(np.maximum(z_hat, 1e-30)) / 0.1)
    sharpened /= sharpened.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        heads["ab"], sharpened @ default_ab_bins().astype("float64"), atol=1e-3
    )
    np.testing.assert_allclose(numpy(model(L)), heads["ab"], atol=1e-4)
    assert model.output_shape == (None, 32, 32, 2)
    assert model.base.output_shape == (None, 8, 8, 313)
    conv = lambda c_in, c_out, k=3: c_in * c_out * k * k + c_out  # noqa: E731
    refinement = (
        conv(1, 4) + conv(4, 4) + conv(313 + 4, 8) + conv(8, 313, 1)
    )  # branch, refine, logits
    assert model.count_params() - model.base.count_params() == refinement == 25_837


def _base_gradients(model, L, ab, with_terms):
    """Gradients of the training objective w.r.t. the base's weights, by the backend's autodiff."""

    def objective(outputs):
        terms = model.loss_terms(ab, outputs)
        if not with_terms:
            return terms["cross_entropy"]
        return terms["cross_entropy"] + 10.0 * terms["coherence"] + 10.0 * terms["regularizer"]

    backend = keras.backend.backend()
    base_ids = {id(v) for v in model.base.trainable_variables}
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = objective(model(L, training=True))
        return [g.numpy() for g in tape.gradient(loss, model.base.trainable_variables)]
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]

        def f(values):
            outputs, _ = model.stateless_call(values, non_trainable, L, training=True)
            return objective(outputs)

        grads = jax.grad(f)(trainable)
        return [
            np.asarray(g) for g, v in zip(grads, model.trainable_variables) if id(v) in base_ids
        ]
    if backend == "torch":
        import torch

        loss = objective(model(L, training=True))
        grads = torch.autograd.grad(
            loss, [v.value for v in model.base.trainable_variables], allow_unused=True
        )
        return [
            np.zeros(v.shape) if g is None else g.numpy()
            for g, v in zip(grads, model.base.trainable_variables)
        ]
    pytest.skip(f"no gradient helper for backend {backend}")


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_coherence_and_regulariser_gradients_do_not_reach_the_base(rng, stop_gradient):
    keras.utils.set_random_seed(1)
    model = coherent((32, 32, 1), stop_gradient=stop_gradient, decode_temperature=0.38, **TINY)
    L, ab = data(rng)
    plain = _base_gradients(model, L, ab, with_terms=False)
    full = _base_gradients(model, L, ab, with_terms=True)
    assert len(plain) == len(model.base.trainable_variables) > 0
    assert any(np.abs(g).max() > 0 for g in plain)
    same = all(np.allclose(a, b, rtol=1e-5, atol=1e-8) for a, b in zip(plain, full))
    # The ablation without the stop-gradient shows the check can fail.
    assert same is stop_gradient


def test_fit_logs_each_term_and_the_loss_is_their_sum(rng):
    keras.utils.set_random_seed(2)
    model = coherent((32, 32, 1), coherence_weight=0.5, regularizer_weight=2.0, **TINY)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    L, ab = data(rng)
    before = numpy(model.get_layer("refine_logits").kernel)
    logs = model.fit(L, ab, batch_size=2, epochs=1, verbose=0).history
    assert {"cross_entropy", "coherence", "regularizer", "loss"} <= set(logs)
    expected = logs["cross_entropy"][0] + 0.5 * logs["coherence"][0] + 2.0 * logs["regularizer"][0]
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-4)
    assert not np.allclose(before, numpy(model.get_layer("refine_logits").kernel))
    evaluated = model.evaluate(L, ab, verbose=0, return_dict=True)
    assert np.isfinite(
        [evaluated[k] for k in ("loss", "cross_entropy", "coherence", "regularizer")]
    ).all()


def test_gradient_magnitude_rebalancing_against_numpy(rng):
    _, ab = data(rng, n=3, size=16)
    diffs_w = ab[:, :-1, 1:] - ab[:, :-1, :-1]
    diffs_h = ab[:, 1:, :-1] - ab[:, :-1, :-1]
    magnitude = np.sqrt((diffs_w**2).sum(-1) + (diffs_h**2).sum(-1))
    edges = (1.0, 10.0)
    counts = coherent_module.gradient_magnitude_counts([ab[:2], ab[2:]], edges=edges)
    np.testing.assert_array_equal(
        counts,
        [
            (magnitude < 1).sum(),
            ((magnitude >= 1) & (magnitude < 10)).sum(),
            (magnitude >= 10).sum(),
        ],
    )
    rebalancing = coherent_module.coherence_rebalancing(
        [6, 3, 1], edges=edges, alpha=1.0, gamma=0.5
    )
    raw = 1.0 / (0.5 * np.array([0.6, 0.3, 0.1]) + 0.5 / 3)  # hand-worked eq. 1 with K = 3 bins
    np.testing.assert_allclose(
        rebalancing["weights"], raw / (np.array([0.6, 0.3, 0.1]) @ raw), rtol=1e-6
    )
    assert rebalancing["weights"][2] > rebalancing["weights"][0]

    model = coherent((16, 16, 1), coherence_rebalancing=rebalancing, **TINY)
    prediction = rng.normal(0, 10, ab.shape).astype("float32")
    delta = ab - prediction
    along_width = delta[:, :-1, 1:] - delta[:, :-1, :-1]
    along_height = delta[:, 1:, :-1] - delta[:, :-1, :-1]
    per_pixel = np.sqrt((along_width**2).sum(-1) + (along_height**2).sum(-1))
    weights = np.array(rebalancing["weights"])[np.searchsorted(edges, magnitude, side="right")]
    np.testing.assert_allclose(
        float(numpy(model.coherence(ab, prediction))), (weights * per_pixel).mean(), rtol=1e-4
    )


def test_round_trip_with_custom_base_and_rebalancing_and_colorize(rng, tmp_path):
    keras.utils.set_random_seed(3)
    base = eccv16((32, 32, 1), width=4, name="my_base")
    rebalancing = coherent_module.coherence_rebalancing([5, 1, 1, 1, 1, 1, 1, 1, 1])
    model = coherent(
        (32, 32, 1),
        backbone=base,
        coherence_rebalancing=rebalancing,
        branch_filters=4,
        refine_filters=8,
    )
    model.compile(optimizer="adam")
    L, ab = data(rng)
    model.fit(L, ab, epochs=1, verbose=0)
    path = tmp_path / "coherent.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert (
        restored.base.name == "my_base"
        and restored.coherence_rebalancing == model.coherence_rebalancing
    )
    np.testing.assert_allclose(numpy(restored(L)), numpy(model(L)), atol=1e-4)
    np.testing.assert_allclose(
        restored.predict(L, verbose=0), model.predict(L, verbose=0), atol=1e-4
    )
    rgb = colorize(model, (np.linspace(0, 1, 40 * 50).reshape(40, 50) * 255).astype(np.uint8))
    assert rgb.shape == (40, 50, 3) and rgb.dtype == np.uint8


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="fixed height and width"):
        coherent((None, None, 1), **TINY)
    with pytest.raises(ValueError, match="one more weight than inner edges"):
        coherent((32, 32, 1), coherence_rebalancing={"edges": [1.0], "weights": [1.0]}, **TINY)


def test_report003_recipe_builds_and_compiles_the_model_with_its_own_loss(rng):
    from colorization.training import recipes

    recipe = recipes.get_recipe("report003")
    settings = (recipe.loss, recipe.epochs, recipe.train_images, recipe.gamma, recipe.alpha)
    assert settings == ("model", 15, 86_301, 0.5, 1.0)
    prior = np.full(313, 1 / 313)
    model = recipe.build_model(
        input_shape=(16, 16, 1), class_weights=recipe.class_weights(prior), **TINY
    )
    recipe.compile(model)
    assert model.loss is None and isinstance(model, coherent_module.CoherentColorizer)
    np.testing.assert_allclose(
        model.cross_entropy.class_weights, 1.0, rtol=1e-6
    )  # uniform prior -> unit weights
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
