"""ResNet-18 autoencoder / VAE of report 004 (sections 4.4, 5.3) and the KL term."""

import keras
import numpy as np
import pytest
from kit import round_trip

from colorization import weights
from colorization.layers import GaussianSampling
from colorization.losses.kl import GaussianKL
from colorization.losses.kl import gaussian_kl_divergence
from colorization.models import resnet18_autoencoder
from colorization.models import resnet18_vae
from colorization.models.autoencoder import resnet18_encoder

# Structure and parameter-count tests run on TensorFlow only (building the
# reference-size networks is slow under eager JAX); the numerical ones are
# marked `core` and also run under KERAS_BACKEND=jax and KERAS_BACKEND=torch.

TINY = {"input_shape": (32, 32, 1), "width": 4, "decoder_filters": (8, 8, 4)}


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def _numpy_kl(mean, log_var):
    """Kingma & Welling appendix B, per example."""
    terms = 1.0 + log_var - mean**2 - np.exp(log_var)
    return -0.5 * terms.reshape(len(mean), -1).sum(axis=1)


def _data(rng):
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    ab = rng.uniform(-60, 60, (2, 32, 32, 2)).astype("float32")
    return L, ab


def test_encoder_is_resnet18_up_to_layer2():
    encoder = resnet18_encoder((128, 128, 1))
    assert encoder.output_shape == (None, 16, 16, 128)
    # torchvision ResNet-18 through layer2 (3-channel conv1): 683,072 parameters, by hand.
    conv1, layer1 = 7 * 7 * 3 * 64 + 2 * 64, 2 * (2 * 9 * 64 * 64 + 4 * 64)
    layer2 = (9 * 64 * 128 + 9 * 128 * 128 + 64 * 128 + 6 * 128) + (2 * 9 * 128 * 128 + 4 * 128)
    assert conv1 + layer1 + layer2 == 683_072
    assert _trainable(encoder) == 683_072 - 7 * 7 * 2 * 64  # one input channel


def test_autoencoder_shapes_and_mse_fit(rng):
    model = resnet18_autoencoder(**TINY)
    assert model.output_shape == (None, 32, 32, 2)
    assert not any(isinstance(layer, GaussianSampling) for layer in model.layers)
    model.compile(optimizer="adam", loss="mse")
    L, ab = _data(rng)
    before = keras.ops.convert_to_numpy(model.get_layer("to_color").kernel).copy()
    history = model.fit(L, ab, epochs=1, verbose=0).history
    assert sorted(history) == ["loss"]
    assert not np.allclose(before, keras.ops.convert_to_numpy(model.get_layer("to_color").kernel))
    rgb = resnet18_autoencoder(head="rgb", **TINY)(L)
    assert tuple(rgb.shape) == (2, 32, 32, 3)


@pytest.mark.core
def test_kl_divergence_matches_hand_computation(rng):
    mean = rng.normal(size=(3, 2, 2, 4)).astype("float32")
    log_var = rng.normal(scale=0.5, size=(3, 2, 2, 4)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gaussian_kl_divergence(mean, log_var)),
        _numpy_kl(mean, log_var),
        rtol=1e-5,
    )
    # A worked value: mean 1, variance e^1 in one unit: 0.5 * (e + 1 - 1 - 1) = (e - 1) / 2.
    value = gaussian_kl_divergence(np.ones((1, 1), "float32"), np.ones((1, 1), "float32"))
    np.testing.assert_allclose(float(value[0]), (np.e - 1) / 2, rtol=1e-6)
    np.testing.assert_allclose(
        float(GaussianKL(beta=0.5)(mean, log_var)), 0.5 * _numpy_kl(mean, log_var).mean(), rtol=1e-5
    )


@pytest.mark.core
def test_sampling_reparameterises_and_is_deterministic_at_inference():
    layer = GaussianSampling(seed=3)
    mean = np.full((1, 20_000), 2.0, "float32")
    log_var = np.full((1, 20_000), np.log(0.25), "float32")
    z = keras.ops.convert_to_numpy(layer([mean, log_var], training=True))
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 0.5) < 0.02
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer([mean, log_var], training=False)), mean
    )


@pytest.mark.core
def test_vae_kl_term_and_metric_match_numpy(rng):
    beta = 3.0
    vae = resnet18_vae(beta=beta, **TINY)
    posterior = keras.Model(
        vae.input, [vae.get_layer("z_mean").output, vae.get_layer("z_log_var").output]
    )
    L, ab = _data(rng)
    mean, log_var = (keras.ops.convert_to_numpy(t) for t in posterior(L, training=False))
    assert mean.shape == (2, 4, 4, 8)
    expected_kl = beta * _numpy_kl(mean, log_var).mean() / (32 * 32 * 2)

    vae(L, training=False)
    assert len(vae.losses) == 1
    np.testing.assert_allclose(float(vae.losses[0]), expected_kl, rtol=1e-4)

    vae.compile(optimizer="adam", loss="mse")
    logs = vae.evaluate(L, ab, batch_size=2, verbose=0, return_dict=True)
    mse = np.mean((keras.ops.convert_to_numpy(vae(L, training=False)) - ab) ** 2)
    np.testing.assert_allclose(logs["loss"], mse + expected_kl, rtol=1e-4)


@pytest.mark.core
def test_vae_fit_step_and_keras_round_trip(tmp_path, rng):
    vae = resnet18_vae(seed=0, **TINY)
    vae.compile(optimizer="adam", loss="mse")
    L, ab = _data(rng)
    before = keras.ops.convert_to_numpy(vae.get_layer("z_log_var").kernel).copy()
    history = vae.fit(L, ab, epochs=1, verbose=0).history
    assert sorted(history) == ["loss"]
    assert not np.allclose(before, keras.ops.convert_to_numpy(vae.get_layer("z_log_var").kernel))
    # In inference mode the sample is the posterior mean; the loss is that prediction's MSE plus KL.
    evaluated = vae.evaluate(L, ab, batch_size=2, verbose=0, return_dict=True)
    predicted = vae.predict(L, verbose=0)
    vae(L, training=False)
    kl = float(vae.losses[0])
    assert kl > 0
    np.testing.assert_allclose(evaluated["loss"], np.mean((ab - predicted) ** 2) + kl, rtol=1e-4)
    restored = round_trip(vae, tmp_path)
    assert any(isinstance(layer, GaussianSampling) for layer in restored.layers)
    np.testing.assert_allclose(restored.predict(L, verbose=0), predicted, atol=1e-5)


def _torchvision_layout(rng, base=64):
    """Random arrays under torchvision's ResNet-18 state-dict names (conv: out, in, kh, kw)."""
    state = {"conv1.weight": rng.normal(size=(base, 3, 7, 7))}
    bns = ["bn1"]
    channels = {"layer1": (base, base), "layer2": (base, 2 * base)}
    for stage, (c_in, c_out) in channels.items():
        for block in range(2):
            first_in = c_in if block == 0 else c_out
            state[f"{stage}.{block}.conv1.weight"] = rng.normal(size=(c_out, first_in, 3, 3))
            state[f"{stage}.{block}.conv2.weight"] = rng.normal(size=(c_out, c_out, 3, 3))
            bns += [f"{stage}.{block}.bn1", f"{stage}.{block}.bn2"]
        if c_in != c_out:
            state[f"{stage}.0.downsample.0.weight"] = rng.normal(size=(c_out, c_in, 1, 1))
            bns.append(f"{stage}.0.downsample.1")
    for bn in bns:
        size = state[
            f"{bn.replace('bn', 'conv').replace('downsample.1', 'downsample.0')}.weight"
        ].shape[0]
        for key in ("weight", "bias", "running_mean"):
            state[f"{bn}.{key}"] = rng.normal(size=size)
        state[f"{bn}.running_var"] = rng.uniform(0.5, 2.0, size=size)
    state["fc.weight"] = rng.normal(size=(1000, 512))  # later layers are ignored
    return {key: value.astype("float32") for key, value in state.items()}


def test_loads_torchvision_layout_npz(tmp_path, rng):
    state = _torchvision_layout(rng)
    path = tmp_path / "resnet18.npz"
    np.savez(path, **state)
    model = resnet18_autoencoder((32, 32, 1), encoder_weights=str(path), decoder_filters=(8, 8, 4))
    encoder = model.get_layer("resnet18_encoder")
    conv1 = keras.ops.convert_to_numpy(encoder.get_layer("conv1").kernel)
    np.testing.assert_allclose(
        conv1[..., 0, :], state["conv1.weight"].sum(axis=1).transpose(1, 2, 0), rtol=1e-6
    )
    kernel = keras.ops.convert_to_numpy(encoder.get_layer("layer2_0_conv2").kernel)
    np.testing.assert_array_equal(kernel, state["layer2.0.conv2.weight"].transpose(2, 3, 1, 0))
    shortcut = keras.ops.convert_to_numpy(encoder.get_layer("layer2_0_downsample").kernel)
    np.testing.assert_array_equal(
        shortcut, state["layer2.0.downsample.0.weight"].transpose(2, 3, 1, 0)
    )
    bn = encoder.get_layer("layer1_1_conv2_bn")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(bn.moving_variance), state["layer1.1.bn2.running_var"]
    )
    # A Keras .weights.h5 of the encoder loads back too.
    h5 = tmp_path / "encoder.weights.h5"
    encoder.save_weights(h5)
    other = resnet18_autoencoder((32, 32, 1), encoder_weights=str(h5), decoder_filters=(8, 8, 4))
    other = other.get_layer("resnet18_encoder")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(other.get_layer("conv1").kernel), conv1
    )


def test_weight_errors_are_clear(tmp_path, rng, monkeypatch):
    offline = weights.Preset("http://127.0.0.1:9/resnet18-f37072fd.pth", "f37072fd")
    monkeypatch.setitem(weights.PRESETS, "resnet18_imagenet", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    with pytest.raises(OSError, match=r"Could not download resnet18-f37072fd\.pth.*path="):
        resnet18_autoencoder((32, 32, 1), encoder_weights="imagenet")
    with pytest.raises(weights.WeightsError, match="missing.npz"):
        resnet18_autoencoder((32, 32, 1), encoder_weights=str(tmp_path / "missing.npz"))
    path = tmp_path / "resnet18.npz"
    np.savez(path, **_torchvision_layout(rng))
    with pytest.raises(ValueError, match="width=64"):
        resnet18_autoencoder((32, 32, 1), width=8, encoder_weights=str(path))
    state = _torchvision_layout(rng)
    del state["layer1.0.bn2.running_var"]
    np.savez(tmp_path / "partial.npz", **state)
    with pytest.raises(ValueError, match="layer1.0.bn2.running_var"):
        resnet18_autoencoder((32, 32, 1), encoder_weights=str(tmp_path / "partial.npz"))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="multiples of 8"):
        resnet18_autoencoder((36, 36, 1))
    with pytest.raises(ValueError, match="fixed"):
        resnet18_vae((None, None, 1))
    with pytest.raises(ValueError, match="decoder_filters"):
        resnet18_autoencoder(decoder_filters=(8, 8))
