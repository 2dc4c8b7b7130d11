"""pix2pix generator, PatchGAN and the Pix2Pix training model (report 004 section 5.2)."""

import keras
import numpy as np
import pytest

from colorization.losses.adversarial import AdversarialBCE
from colorization.losses.adversarial import ScaledL1
from colorization.losses.adversarial import discriminator_loss
from colorization.losses.adversarial import generator_adversarial_loss
from colorization.models import pix2pix_generator
from colorization.models.pix2pix import BatchStatisticsNormalization
from colorization.models.pix2pix import InferenceDropout
from colorization.models.pix2pix import Pix2Pix
from colorization.models.pix2pix import patchgan_discriminator

# Structure and parameter-count tests run on TensorFlow only (building the
# reference-size networks is slow under eager JAX); the numerical ones, the
# training step included, are marked `core` and also run under
# KERAS_BACKEND=jax and KERAS_BACKEND=torch.

TINY_G = {"input_shape": (32, 32, 1), "num_downsamples": 5, "width": 4}
TINY_D = {"input_shape": (32, 32, 1), "width": 4}


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def _unet_count(in_ch, out_ch, n, ngf=64):
    """Hand count of Isola et al.'s UnetGenerator (BatchNorm, bias only on the output layer)."""
    f = [ngf * min(2**i, 8) for i in range(n)]
    total = 16 * in_ch * f[0]  # outermost down conv
    total += 16 * 2 * f[0] * out_ch + out_ch  # outermost up conv, with bias
    for i in range(1, n):
        total += 16 * f[i - 1] * f[i]  # down conv
        if i < n - 1:
            total += 2 * f[i]  # down BatchNorm (not innermost)
        up_in = f[i] if i == n - 1 else 2 * f[i]
        total += 16 * up_in * f[i - 1] + 2 * f[i - 1]  # up conv + BatchNorm
    return total


def _bce(label, logits):
    logits = np.asarray(logits, np.float64)
    return np.mean(np.maximum(logits, 0) - logits * label + np.log1p(np.exp(-np.abs(logits))))


def _data(rng, size=32):
    L = rng.uniform(0, 100, (2, size, size, 1)).astype("float32")
    ab = rng.uniform(-60, 60, (2, size, size, 2)).astype("float32")
    return L, ab


def test_reference_256_generator_and_70x70_patchgan_counts():
    generator = pix2pix_generator((256, 256, 3), num_downsamples=8, head="rgb")
    assert _trainable(generator) == _unet_count(3, 3, 8) == 54_413_955  # authors' code: 54.414 M
    discriminator = patchgan_discriminator((256, 256, 3), head="rgb")
    # C64 (bias) - C128 - C256 - C512 (BN, no bias) - 1 (bias), 4x4 kernels, 6 input channels.
    expected = (
        16 * 6 * 64
        + 64
        + 16 * (64 * 128 + 128 * 256 + 256 * 512)
        + 2 * (128 + 256 + 512)
        + 16 * 512
        + 1
    )
    assert _trainable(discriminator) == expected == 2_768_705
    assert discriminator.output_shape == (None, 30, 30, 1)


def test_colorization_generator_128_has_seven_levels():
    generator = pix2pix_generator()
    assert generator.output_shape == (None, 128, 128, 2)
    assert _trainable(generator) == _unet_count(1, 2, 7) == 41_824_898
    downs = [
        layer
        for layer in generator.layers
        if layer.name.startswith("down") and layer.name.endswith("_conv")
    ]
    assert [tuple(layer.kernel_size) + tuple(layer.strides) for layer in downs] == [
        (4, 4, 2, 2)
    ] * 7
    assert patchgan_discriminator().output_shape == (None, 14, 14, 1)


def test_generator_structure_skips_and_dropout():
    generator = pix2pix_generator(**TINY_G)
    concats = [layer for layer in generator.layers if isinstance(layer, keras.layers.Concatenate)]
    dropouts = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(concats) == 4 and len(dropouts) == 3
    assert all(layer.rate == 0.5 for layer in dropouts)
    # Skip i <-> n - i: each concatenation joins tensors of the same resolution.
    for layer in concats:
        shapes = [tuple(t.shape[1:3]) for t in layer.input]
        assert shapes[0] == shapes[1]
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        and layer.name.startswith(("down1_", "down5_"))
        for layer in generator.layers
    )


def _numpy_conv_transpose_same(x, kernel, bias, stride=2):
    """Keras' Conv2DTranspose(padding="same") in NumPy: a strided cross-correlation's transpose.

    Each input pixel (i, j) adds `x[i, j] @ kernel[a, b].T` at output
    (stride * i + a - pad, stride * j + b - pad), with pad = (k - stride) / 2;
    the kernel is (k, k, out_channels, in_channels) as Keras stores it.
    """
    batch, height, width, _ = x.shape
    size = kernel.shape[0]
    pad = (size - stride) // 2
    full = np.zeros((batch, stride * height + size, stride * width + size, kernel.shape[2]))
    for a in range(size):
        for b in range(size):
            contribution = np.einsum("nhwc,oc->nhwo", x, kernel[a, b])
            full[:, a : a + stride * height : stride, b : b + stride * width : stride] += (
                contribution
            )
    return full[:, pad : pad + stride * height, pad : pad + stride * width] + bias


@pytest.mark.core
def test_generator_output_is_the_last_layer_on_the_outermost_skip(rng):
    """The output is 110 * tanh(convT(concat(up4, down1)) + b), hand-computed from the last skip."""
    generator = pix2pix_generator(**TINY_G)
    kinds = (("skip", ""), ("up", "_relu"), ("down", "_lrelu"))
    names = [f"{prefix}{j}{suffix}" for prefix, suffix in kinds for j in range(1, 5)]
    probe = keras.Model(
        generator.input, [generator.get_layer(name).output for name in names] + [generator.output]
    )
    L, _ = _data(rng)
    values = dict(
        zip(names + ["ab"], (keras.ops.convert_to_numpy(v).astype(np.float64) for v in probe(L)))
    )
    # Skip j joins decoder block j with encoder block n - j (n = 5): same resolution, decoder first.
    for j in range(1, 5):
        expected = np.concatenate([values[f"up{j}_relu"], values[f"down{5 - j}_lrelu"]], axis=-1)
        np.testing.assert_allclose(values[f"skip{j}"], expected, atol=1e-6)
    last = generator.get_layer("to_color")
    kernel, bias = (keras.ops.convert_to_numpy(w).astype(np.float64) for w in last.weights)
    expected = 110.0 * np.tanh(_numpy_conv_transpose_same(values["skip4"], kernel, bias))
    assert values["ab"].shape == expected.shape == (2, 32, 32, 2)
    np.testing.assert_allclose(values["ab"], expected, atol=1e-3)


def test_discriminator_is_conditioned_on_l(rng):
    discriminator = patchgan_discriminator(**TINY_D)
    L, ab = _data(rng)
    logits = keras.ops.convert_to_numpy(discriminator([L, ab]))
    other = keras.ops.convert_to_numpy(discriminator([100.0 - L, ab]))
    assert logits.shape == (2, 2, 2, 1)
    assert not np.allclose(logits, other)


@pytest.mark.core
def test_gan_loss_terms_match_numpy(rng):
    real, fake = rng.normal(size=(2, 3, 3, 1)), rng.normal(size=(2, 3, 3, 1))
    total, real_term, fake_term = discriminator_loss(real.astype("float32"), fake.astype("float32"))
    np.testing.assert_allclose(float(real_term), _bce(1, real), rtol=1e-5)
    np.testing.assert_allclose(float(fake_term), _bce(0, fake), rtol=1e-5)
    np.testing.assert_allclose(float(total), 0.5 * (_bce(1, real) + _bce(0, fake)), rtol=1e-5)
    np.testing.assert_allclose(
        float(generator_adversarial_loss(fake.astype("float32"))), _bce(1, fake), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(AdversarialBCE(label=0.0)(fake, fake.astype("float32"))), _bce(0, fake), rtol=1e-5
    )
    a, b = rng.normal(size=(2, 4, 4, 2)), rng.normal(size=(2, 4, 4, 2))
    np.testing.assert_allclose(
        float(ScaledL1(scale=110.0)(a, b.astype("float32"))),
        np.mean(np.abs(a - b)) / 110.0,
        rtol=1e-5,
    )
    for loss in (AdversarialBCE(label=0.9), ScaledL1(scale=128.0)):
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


# The reference step below uses Keras's ordinary single-optimizer `fit` machinery (train_on_batch
# with SGD on plain functional models) and losses written here from their formulas, so it shares
# neither the training step nor the loss functions with Pix2Pix.
REFERENCE_LR = 0.5
TINY_G_NO_DROPOUT = {
    **TINY_G,
    "dropout": 0.0,
}  # the reference step cannot replay Pix2Pix's dropout masks


def _reference_bce(labels, logits):
    """BCE from logits, max(x, 0) - x z + log(1 + exp(-|x|)), averaged over every patch."""
    logits = keras.ops.cast(logits, "float32")
    labels = keras.ops.cast(labels, "float32")
    return keras.ops.mean(
        keras.ops.maximum(logits, 0.0)
        - logits * labels
        + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(logits)))
    )


def _reference_l1(ab, fake):
    return keras.ops.mean(keras.ops.abs(ab - fake)) / 110.0


def _copy(network, builder, kwargs):
    clone = builder(**kwargs)
    clone.set_weights(network.get_weights())
    return clone


def _reference_d_step(generator, discriminator, L, ab):
    """SGD on (BCE(1, D(L, ab)) + BCE(0, D(L, fake))) / 2 with fake = G(L) as a constant input."""
    fake = keras.ops.convert_to_numpy(
        _copy(generator, pix2pix_generator, TINY_G_NO_DROPOUT)(L, training=True)
    )
    d = _copy(discriminator, patchgan_discriminator, TINY_D)
    l_in, ab_in, fake_in = (
        keras.Input((32, 32, 1)),
        keras.Input((32, 32, 2)),
        keras.Input((32, 32, 2)),
    )
    step = keras.Model([l_in, ab_in, fake_in], [d([l_in, ab_in]), d([l_in, fake_in])])
    step.compile(
        keras.optimizers.SGD(REFERENCE_LR), loss=[_reference_bce] * 2, loss_weights=[0.5, 0.5]
    )
    patches = (2,) + tuple(d.output_shape[1:])
    loss = step.train_on_batch(
        [L, ab, fake], [np.ones(patches, "float32"), np.zeros(patches, "float32")]
    )
    return float(np.ravel(loss)[0]), d, fake


def _reference_g_step(generator, discriminator, L, ab):
    """SGD of G on BCE(1, D(L, G(L))) + 100 * |ab - G(L)| / 110 against a fixed D."""
    g = _copy(generator, pix2pix_generator, TINY_G_NO_DROPOUT)
    d = _copy(discriminator, patchgan_discriminator, TINY_D)
    l_in = keras.Input((32, 32, 1))
    fake = g(l_in)
    step = keras.Model(l_in, [fake, d([l_in, fake])])
    step.compile(
        keras.optimizers.SGD(REFERENCE_LR),
        loss=[_reference_l1, _reference_bce],
        loss_weights=[100.0, 1.0],
    )
    patches = (2,) + tuple(d.output_shape[1:])
    loss = step.train_on_batch(L, [ab, np.ones(patches, "float32")])
    return float(np.ravel(loss)[0]), g


def _numpy_weights(network):
    return [keras.ops.convert_to_numpy(w).astype(np.float64) for w in network.trainable_weights]


def _largest_relative_difference(updates, reference_updates):
    return max(np.abs(u - r).max() / np.abs(r).max() for u, r in zip(updates, reference_updates))


@pytest.mark.core
def test_fit_step_is_d_on_the_detached_fake_then_g_against_the_updated_d(rng):
    """One `fit` step equals a hand-built one: D on the detached fake, then G judged by the new D.

    G's update matches the reference whose G loss uses the updated D (and is
    far from the one using the old D), and it matches a G step that sees no
    gradient of D's loss: D's update did not reach G. Losses are checked
    against the reference losses and NumPy.
    """
    keras.utils.set_random_seed(1)
    generator, discriminator = (
        pix2pix_generator(**TINY_G_NO_DROPOUT),
        patchgan_discriminator(**TINY_D),
    )
    L, ab = _data(rng)
    g_before, d_before = _numpy_weights(generator), _numpy_weights(discriminator)
    d_loss, d_updated, fake = _reference_d_step(generator, discriminator, L, ab)
    d_before_step = _copy(discriminator, patchgan_discriminator, TINY_D)
    real_logits = keras.ops.convert_to_numpy(d_before_step([L, ab], training=True))
    g_loss, g_updated = _reference_g_step(generator, d_updated, L, ab)
    _, g_updated_by_old_d = _reference_g_step(generator, discriminator, L, ab)

    gan = Pix2Pix(generator, discriminator)
    gan.compile(
        g_optimizer=keras.optimizers.SGD(REFERENCE_LR),
        d_optimizer=keras.optimizers.SGD(REFERENCE_LR),
    )
    logs = {
        k: v[0]
        for k, v in gan.fit(L, ab, batch_size=2, epochs=1, shuffle=False, verbose=0).history.items()
    }

    d_update = [a - b for a, b in zip(_numpy_weights(gan.discriminator), d_before)]
    d_reference = [a - b for a, b in zip(_numpy_weights(d_updated), d_before)]
    assert _largest_relative_difference(d_update, d_reference) < 1e-3
    g_update = [a - b for a, b in zip(_numpy_weights(gan.generator), g_before)]
    g_reference = [a - b for a, b in zip(_numpy_weights(g_updated), g_before)]
    g_reference_old_d = [a - b for a, b in zip(_numpy_weights(g_updated_by_old_d), g_before)]
    assert _largest_relative_difference(g_update, g_reference) < 1e-3
    assert _largest_relative_difference(g_update, g_reference_old_d) > 0.05

    np.testing.assert_allclose(logs["d_loss"], d_loss, rtol=1e-5)
    np.testing.assert_allclose(logs["d_real_loss"], _bce(1, real_logits), rtol=1e-5)
    np.testing.assert_allclose(logs["d_fake_loss"], 2 * d_loss - _bce(1, real_logits), rtol=1e-4)
    np.testing.assert_allclose(logs["g_loss"], g_loss, rtol=1e-5)
    np.testing.assert_allclose(logs["g_l1_loss"], np.mean(np.abs(ab - fake)) / 110.0, rtol=1e-5)
    np.testing.assert_allclose(
        logs["g_gan_loss"], g_loss - 100.0 * logs["g_l1_loss"], rtol=1e-4, atol=1e-4
    )


@pytest.mark.core
def test_evaluate_matches_numpy_objective(rng):
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D), l1_weight=10.0)
    gan.compile()
    L, ab = _data(rng)
    logs = gan.evaluate(L, ab, batch_size=2, verbose=0, return_dict=True)
    fake = keras.ops.convert_to_numpy(gan.generator(L, training=False))
    real_logits = keras.ops.convert_to_numpy(gan.discriminator([L, ab], training=False))
    fake_logits = keras.ops.convert_to_numpy(gan.discriminator([L, fake], training=False))
    l1 = np.mean(np.abs(ab - fake)) / 110.0
    np.testing.assert_allclose(logs["g_l1_loss"], l1, rtol=1e-4)
    np.testing.assert_allclose(logs["g_loss"], _bce(1, fake_logits) + 10.0 * l1, rtol=1e-4)
    np.testing.assert_allclose(
        logs["d_loss"], 0.5 * (_bce(1, real_logits) + _bce(0, fake_logits)), rtol=1e-4
    )


@pytest.mark.core
def test_keras_round_trip_keeps_networks_and_optimizers(tmp_path, rng):
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D), l1_weight=50.0)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.SGD(0.1, momentum=0.9)
    )
    L, ab = _data(rng)
    gan.fit(L, ab, batch_size=2, verbose=0)
    path = tmp_path / "pix2pix.keras"
    gan.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored, Pix2Pix) and restored.l1_weight == 50.0
    assert isinstance(restored.g_optimizer, keras.optimizers.Adam)
    assert (
        isinstance(restored.d_optimizer, keras.optimizers.SGD)
        and restored.d_optimizer.momentum == 0.9
    )
    for network in ("generator", "discriminator"):
        for a, b in zip(
            getattr(restored, network).get_weights(), getattr(gan, network).get_weights()
        ):
            np.testing.assert_array_equal(a, b)
    for optimizer in ("g_optimizer", "d_optimizer"):
        saved = [keras.ops.convert_to_numpy(v) for v in getattr(gan, optimizer).variables]
        loaded = [keras.ops.convert_to_numpy(v) for v in getattr(restored, optimizer).variables]
        assert int(saved[0]) == 1 and len(saved) == len(
            loaded
        )  # one step taken: iterations, then the slots
        for a, b in zip(loaded, saved):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(L)), keras.ops.convert_to_numpy(gan(L)), atol=1e-5
    )


# Inference with the batch's own statistics (Isola et al. section 3.3)


def _moving_statistics(network):
    return [keras.ops.convert_to_numpy(w).copy() for w in network.non_trainable_weights]


def _with_moved_statistics(network, rng):
    """Moving statistics far from any batch's, so using them by mistake changes every output."""
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(3.0, 1.0, channels).astype("float32"))
            layer.moving_variance.assign(rng.uniform(5.0, 9.0, channels).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, channels).astype("float32"))
            layer.beta.assign(rng.normal(0.0, 0.3, channels).astype("float32"))
    return network


@pytest.mark.core
def test_batch_statistics_layer_normalises_over_the_test_batch_as_numpy(rng):
    layer = BatchStatisticsNormalization(epsilon=1e-5)
    x = rng.normal(2.0, 3.0, (3, 4, 5, 6)).astype("float32")
    layer.build(x.shape)
    layer.moving_mean.assign(np.full(6, 7.0, "float32"))
    layer.moving_variance.assign(np.full(6, 0.5, "float32"))
    gamma, beta = rng.uniform(0.5, 2.0, 6).astype("float32"), rng.normal(size=6).astype("float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    x64 = x.astype(np.float64)
    mean, variance = x64.mean(axis=(0, 1, 2)), x64.var(axis=(0, 1, 2))
    expected = (x64 - mean) / np.sqrt(variance + 1e-5) * gamma + beta
    for training in (False, None):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(layer(x, training=training)), expected, atol=1e-4
        )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.moving_mean), np.full(6, 7.0, "float32")
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.moving_variance), np.full(6, 0.5, "float32")
    )
    # One image: instance normalisation, over its own pixels only.
    single = x64[:1]
    expected_single = (single - single.mean(axis=(1, 2))) / np.sqrt(
        single.var(axis=(1, 2)) + 1e-5
    ) * gamma + beta
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x[:1])), expected_single, atol=1e-4)
    # Training mode is Keras's BatchNormalization: same output, moving statistics updated.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x, training=True)), expected, atol=1e-4
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_mean), 0.99 * 7.0 + 0.01 * mean, rtol=1e-5
    )


@pytest.mark.core
def test_generator_predict_uses_the_test_batch_statistics_and_keeps_the_moving_ones(rng):
    """`predict` on one batch is the training-mode pass (dropout off) and moves no statistics."""
    generator = _with_moved_statistics(pix2pix_generator(**TINY_G_NO_DROPOUT), rng)
    normalizations = [
        layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(normalizations) == 7 and all(
        isinstance(n, BatchStatisticsNormalization) for n in normalizations
    )
    L = rng.uniform(0, 100, (4, 32, 32, 1)).astype("float32")
    before = _moving_statistics(generator)
    predicted = generator.predict(L, batch_size=4, verbose=0)
    called = keras.ops.convert_to_numpy(generator(L, training=False))
    for a, b in zip(_moving_statistics(generator), before):
        np.testing.assert_array_equal(a, b)
    training_pass = keras.ops.convert_to_numpy(
        generator(L, training=True)
    )  # updates the moving statistics
    np.testing.assert_allclose(predicted, training_pass, atol=1e-3)
    np.testing.assert_allclose(called, training_pass, atol=1e-3)
    assert not all(np.array_equal(a, b) for a, b in zip(_moving_statistics(generator), before))
    # Predicting photo by photo is instance normalisation: each output is a one-photo training pass.
    one_by_one = generator.predict(L, batch_size=1, verbose=0)
    np.testing.assert_allclose(
        one_by_one[2:3], keras.ops.convert_to_numpy(generator(L[2:3], training=True)), atol=1e-3
    )
    assert np.abs(one_by_one - predicted).max() > 1e-2


@pytest.mark.core
def test_moving_statistics_option_keeps_keras_inference(rng):
    generator = _with_moved_statistics(
        pix2pix_generator(**TINY_G_NO_DROPOUT, batch_statistics_at_inference=False), rng
    )
    assert not any(isinstance(layer, BatchStatisticsNormalization) for layer in generator.layers)
    L = rng.uniform(0, 100, (4, 32, 32, 1)).astype("float32")
    inference = generator.predict(L, batch_size=4, verbose=0)
    assert np.abs(inference - keras.ops.convert_to_numpy(generator(L, training=True))).max() > 1e-2
    # The same weights in a batch-statistics generator give the training pass (statistics move).
    batch_statistics = pix2pix_generator(**TINY_G_NO_DROPOUT)
    batch_statistics.set_weights(generator.get_weights())
    np.testing.assert_allclose(
        batch_statistics.predict(L, batch_size=4, verbose=0),
        keras.ops.convert_to_numpy(batch_statistics(L, training=True)),
        atol=1e-3,
    )


@pytest.mark.core
def test_dropout_at_inference_is_a_separate_option(rng):
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    deterministic = pix2pix_generator(**TINY_G)
    np.testing.assert_array_equal(
        deterministic.predict(L, verbose=0), deterministic.predict(L, verbose=0)
    )
    noisy = pix2pix_generator(**TINY_G, dropout_at_inference=True)
    dropouts = [layer for layer in noisy.layers if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 3 and all(isinstance(layer, InferenceDropout) for layer in dropouts)
    assert np.abs(noisy.predict(L, verbose=0) - noisy.predict(L, verbose=0)).max() > 1e-3


@pytest.mark.core
def test_inference_options_round_trip_through_keras_files(tmp_path, rng):
    L = rng.uniform(0, 100, (3, 32, 32, 1)).astype("float32")
    for options in ({}, {"batch_statistics_at_inference": False}, {"dropout_at_inference": True}):
        generator = _with_moved_statistics(pix2pix_generator(**TINY_G, **options), rng)
        path = tmp_path / f"generator_{len(list(tmp_path.iterdir()))}.keras"
        generator.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        assert [type(layer) for layer in restored.layers] == [
            type(layer) for layer in generator.layers
        ]
        for a, b in zip(restored.get_weights(), generator.get_weights()):
            np.testing.assert_array_equal(a, b)
        if not options.get("dropout_at_inference"):
            np.testing.assert_allclose(
                restored.predict(L, verbose=0), generator.predict(L, verbose=0), atol=1e-5
            )
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D))
    gan.compile()
    gan.save(tmp_path / "gan.keras")
    restored = keras.saving.load_model(tmp_path / "gan.keras", safe_mode=True)
    assert (
        sum(isinstance(layer, BatchStatisticsNormalization) for layer in restored.generator.layers)
        == 7
    )
    np.testing.assert_allclose(restored.predict(L, verbose=0), gan.predict(L, verbose=0), atol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="multiples of 32"):
        pix2pix_generator((48, 48, 1), num_downsamples=5)
    with pytest.raises(ValueError, match="head"):
        pix2pix_generator(head="classification")
    with pytest.raises(ValueError, match="at least"):
        patchgan_discriminator((16, 16, 1))
    with pytest.raises(ValueError, match="two inputs"):
        Pix2Pix(pix2pix_generator(**TINY_G), pix2pix_generator(**TINY_G))
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D))
    with pytest.raises(ValueError, match="loss"):
        gan.compile(loss="mse")
