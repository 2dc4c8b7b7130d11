"""pix2pix generator, PatchGAN and the Pix2Pix training model (report 004 section 5.2)."""

import keras
import numpy as np
import pytest

from colorization.losses.adversarial import AdversarialBCE
from colorization.losses.adversarial import ScaledL1
from colorization.losses.adversarial import discriminator_loss
from colorization.losses.adversarial import generator_adversarial_loss
from colorization.models import pix2pix_generator
from colorization.models.pix2pix import Pix2Pix
from colorization.models.pix2pix import patchgan_discriminator

# Structure and parameter-count tests run on TensorFlow only (building the
# reference-size networks is slow under eager JAX); the numerical ones are
# marked `core` and also run under KERAS_BACKEND=jax.

TINY_G = {"input_shape": (32, 32, 1), "num_downsamples": 5, "base_filters": 4}
TINY_D = {"condition_shape": (32, 32, 1), "base_filters": 4}
needs_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="Pix2Pix.fit/evaluate use tf.GradientTape (TensorFlow only)"
)


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
    generator = pix2pix_generator((256, 256, 3), num_downsamples=8, output_channels=3)
    assert _trainable(generator) == _unet_count(3, 3, 8) == 54_413_955  # authors' code: 54.414 M
    discriminator = patchgan_discriminator((256, 256, 3), target_channels=3)
    # C64 (bias) - C128 - C256 - C512 (BN, no bias) - 1 (bias), 4x4 kernels, 6 input channels.
    expected = 16 * 6 * 64 + 64 + 16 * (64 * 128 + 128 * 256 + 256 * 512) + 2 * (128 + 256 + 512) + 16 * 512 + 1
    assert _trainable(discriminator) == expected == 2_768_705
    assert discriminator.output_shape == (None, 30, 30, 1)


def test_colorization_generator_128_has_seven_levels():
    generator = pix2pix_generator()
    assert generator.output_shape == (None, 128, 128, 2)
    assert _trainable(generator) == _unet_count(1, 2, 7) == 41_824_898
    downs = [layer for layer in generator.layers if layer.name.startswith("down") and layer.name.endswith("_conv")]
    assert [tuple(layer.kernel_size) + tuple(layer.strides) for layer in downs] == [(4, 4, 2, 2)] * 7
    assert patchgan_discriminator().output_shape == (None, 14, 14, 1)


def test_generator_structure_skips_dropout_and_range(rng):
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
        isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith(("down1_", "down5_"))
        for layer in generator.layers
    )
    L, _ = _data(rng)
    ab = keras.ops.convert_to_numpy(generator(L))
    assert ab.shape == (2, 32, 32, 2) and np.abs(ab).max() <= 110.0


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
    np.testing.assert_allclose(float(generator_adversarial_loss(fake.astype("float32"))), _bce(1, fake), rtol=1e-5)
    np.testing.assert_allclose(
        float(AdversarialBCE(label=0.0)(fake, fake.astype("float32"))), _bce(0, fake), rtol=1e-5
    )
    a, b = rng.normal(size=(2, 4, 4, 2)), rng.normal(size=(2, 4, 4, 2))
    np.testing.assert_allclose(
        float(ScaledL1(scale=110.0)(a, b.astype("float32"))), np.mean(np.abs(a - b)) / 110.0, rtol=1e-5
    )
    for loss in (AdversarialBCE(label=0.9), ScaledL1(scale=128.0)):
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


@needs_tensorflow
def test_fit_step_updates_both_networks_and_logs_losses(rng):
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D))
    gan.compile()
    g_before = [keras.ops.convert_to_numpy(w).copy() for w in gan.generator.trainable_weights]
    d_before = [keras.ops.convert_to_numpy(w).copy() for w in gan.discriminator.trainable_weights]
    L, ab = _data(rng)
    history = gan.fit(L, ab, batch_size=2, epochs=1, verbose=0).history
    assert sorted(history) == ["d_fake_loss", "d_loss", "d_real_loss", "g_gan_loss", "g_l1_loss", "g_loss"]
    for name, before, network in (("G", g_before, gan.generator), ("D", d_before, gan.discriminator)):
        after = [keras.ops.convert_to_numpy(w) for w in network.trainable_weights]
        changed = sum(not np.allclose(a, b) for a, b in zip(before, after))
        assert changed == len(after), f"{name}: only {changed} of {len(after)} weights changed"
    logs = {k: v[0] for k, v in history.items()}
    np.testing.assert_allclose(logs["g_loss"], logs["g_gan_loss"] + 100.0 * logs["g_l1_loss"], rtol=1e-5)
    np.testing.assert_allclose(logs["d_loss"], 0.5 * (logs["d_real_loss"] + logs["d_fake_loss"]), rtol=1e-5)


@needs_tensorflow
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
    np.testing.assert_allclose(logs["d_loss"], 0.5 * (_bce(1, real_logits) + _bce(0, fake_logits)), rtol=1e-4)


@needs_tensorflow
def test_keras_round_trip_keeps_networks_and_optimizers(tmp_path, rng):
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D), l1_weight=50.0)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.SGD(0.1))
    L, ab = _data(rng)
    gan.fit(L, ab, batch_size=2, verbose=0)
    path = tmp_path / "pix2pix.keras"
    gan.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored, Pix2Pix) and restored.l1_weight == 50.0
    assert isinstance(restored.d_optimizer, keras.optimizers.SGD)
    np.testing.assert_allclose(restored.predict(L, verbose=0), gan.predict(L, verbose=0), atol=1e-5)
    np.testing.assert_allclose(
        restored.discriminator.predict([L, ab], verbose=0), gan.discriminator.predict([L, ab], verbose=0), atol=1e-5
    )
    restored.fit(L, ab, batch_size=2, verbose=0)


@pytest.mark.core
@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the error on other backends")
def test_fit_on_other_backends_fails_clearly(rng):
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D))
    gan.compile()
    L, ab = _data(rng)
    assert gan.predict(L, verbose=0).shape == (2, 32, 32, 2)
    with pytest.raises(NotImplementedError, match="TensorFlow backend"):
        gan.fit(L, ab, verbose=0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="divisible"):
        pix2pix_generator((48, 48, 1), num_downsamples=5)
    with pytest.raises(ValueError, match="output_channels"):
        pix2pix_generator(output_channels=1)
    with pytest.raises(ValueError, match="at least"):
        patchgan_discriminator((16, 16, 1))
    with pytest.raises(ValueError, match="two inputs"):
        Pix2Pix(pix2pix_generator(**TINY_G), pix2pix_generator(**TINY_G))
    gan = Pix2Pix(pix2pix_generator(**TINY_G), patchgan_discriminator(**TINY_D))
    with pytest.raises(ValueError, match="loss"):
        gan.compile(loss="mse")
