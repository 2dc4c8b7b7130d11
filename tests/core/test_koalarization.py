"""Deep Koalarization (report 001): counts by hand, preprocessing against keras.applications, frozen
extractor, offline weights, local weight files and safe-mode round trips."""

import dataclasses
import hashlib
import importlib

import keras
import numpy as np
import pytest
from kit import run
from skimage import color as skcolor
from skimage import transform

from colorization.models import koalarization

pytestmark = pytest.mark.core

koala = importlib.import_module("colorization.models.koalarization")


def vector_extractor(size=16, dim=1000, seed=0):
    """An image -> vector model of any embedding size (stands in for a classifier)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, name="c")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(dim, name="d")(x), name="vector_extractor")


def koalarization_param_count(embedding=1000, batch_norm=True):
    """Trainable parameters of Deep Koalarization (Baldassarre et al. Table 1), by hand."""
    conv = lambda c_in, c_out, k=3: c_in * c_out * k * k + c_out  # noqa: E731
    encoder = [
        (1, 64),
        (64, 128),
        (128, 128),
        (128, 256),
        (256, 256),
        (256, 512),
        (512, 512),
        (512, 256),
    ]
    decoder = [(256, 128), (128, 64), (64, 64), (64, 32)]
    total = sum(conv(a, b) for a, b in encoder + decoder)
    total += conv(256 + embedding, 256, 1) + conv(32, 2)
    if batch_norm:  # gamma and beta after every ReLU convolution (encoder, fusion, decoder)
        total += 2 * sum(b for _, b in encoder + decoder + [(0, 256)])
    return total


@pytest.mark.parametrize("batch_norm", [True, False])
def test_parameter_count_matches_the_paper_layout(batch_norm):
    model = koalarization((32, 32, 1), feature_extractor=vector_extractor(), batch_norm=batch_norm)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == koalarization_param_count(1000, batch_norm)
    assert trainable == (6_579_106 if batch_norm else 6_573_794)
    assert model.get_layer("encoder8").output.shape[1:] == (4, 4, 256)
    assert model.get_layer("fusion_concat").output.shape[-1] == 256 + 1000
    assert model.output_shape == (None, 32, 32, 2)
    strides = [model.get_layer(f"encoder{i}").strides[0] for i in range(1, 9)]
    assert strides == [2, 1, 2, 1, 2, 1, 1, 1]
    assert model.get_layer("decoder_ab").activation.__name__ == "tanh"


@pytest.mark.parametrize(
    "mode,module", [("tf", "inception_resnet_v2"), ("caffe", "vgg16"), ("torch", "densenet")]
)
def test_grey_preprocessing_matches_keras_applications(mode, module):
    L = np.linspace(0, 100, 11, dtype="float32").reshape(1, 1, 11, 1)
    lab = np.concatenate([L, np.zeros_like(L), np.zeros_like(L)], axis=-1)[0].astype("float64")
    grey_rgb = skcolor.lab2rgb(lab) * 255.0  # the sRGB grey of each lightness, by scikit-image
    expected = getattr(keras.applications, module).preprocess_input(
        grey_rgb[None].astype("float32")
    )
    got = run(koala.GreyToExtractorInput(mode), L)
    np.testing.assert_allclose(got, expected, atol=2e-3 * (255 if mode == "caffe" else 1))


def test_fusion_repeats_the_embedding_everywhere(rng):
    grid = rng.normal(size=(2, 3, 5, 7)).astype("float32")
    vector = rng.normal(size=(2, 4)).astype("float32")
    out = run(koala.RepeatOverGrid(), [grid, vector])
    np.testing.assert_allclose(out, np.broadcast_to(vector[:, None, None, :], (2, 3, 5, 4)))


def expected_extractor_input(L, size):
    """L resized bilinearly (scikit-image, pixel centres aligned, no antialiasing), as the sRGB
    grey of that lightness (scikit-image's Lab -> RGB), in 3 channels scaled to [-1, 1] ("tf").
    """
    out = []
    for image in L:
        resized = transform.resize(
            image[..., 0].astype("float64"), (size, size), order=1, mode="edge", anti_aliasing=False
        )
        lab = np.stack([resized, np.zeros_like(resized), np.zeros_like(resized)], axis=-1)
        out.append(skcolor.lab2rgb(lab) * 255.0 / 127.5 - 1.0)
    return np.stack(out).astype("float32")


def test_extractor_sees_the_resized_grey_image_and_stays_frozen(rng, tmp_path):
    for side in (48, 16):  # the tiny extractor takes 32x32: down- and upsampling
        model = koalarization((side, side, 1), feature_extractor="tiny", width=4)
        extractor = model.get_layer("tiny_extractor")
        assert not extractor.trainable and extractor.inputs[0].shape[1:] == (32, 32, 3)
        L = rng.uniform(0, 100, (2, side, side, 1)).astype("float32")
        expected = expected_extractor_input(L, 32)
        seen = keras.Model(model.inputs[0], model.get_layer("extractor_preprocess").output)
        np.testing.assert_allclose(run(seen, L), expected, atol=2e-3)
        # The embedding the fusion layer repeats is the extractor's output on exactly that image.
        embedding = keras.Model(model.inputs[0], model.get_layer("fusion_repeat").input[1])
        np.testing.assert_allclose(run(embedding, L), run(extractor, expected), atol=1e-4)
        assert np.abs(run(extractor, expected) - run(extractor, expected[:, ::-1])).max() > 1e-4

    frozen = [np.array(w) for w in extractor.weights]
    encoder = np.array(model.get_layer("encoder1").kernel)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(L, rng.normal(0, 20, (2, 16, 16, 2)).astype("float32"), epochs=1, verbose=0)
    for before, after in zip(frozen, extractor.weights):
        np.testing.assert_array_equal(before, np.array(after))
    assert not np.allclose(encoder, np.array(model.get_layer("encoder1").kernel))

    path = tmp_path / "koala.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(run(restored, L), run(model, L), atol=1e-5)
    assert not restored.get_layer("tiny_extractor").trainable


def test_custom_extractor_from_local_weights_and_round_trip(rng, tmp_path):
    trained = vector_extractor(size=16, dim=8, seed=1)
    weights_path = tmp_path / "extractor.weights.h5"
    trained.save_weights(weights_path)
    fresh = vector_extractor(size=16, dim=8, seed=2)
    model = koalarization(
        (16, 16, 1), feature_extractor=fresh, extractor_weights=str(weights_path), width=4
    )
    np.testing.assert_array_equal(
        np.array(fresh.get_layer("d").kernel), np.array(trained.get_layer("d").kernel)
    )

    L = rng.uniform(0, 100, (2, 16, 16, 1)).astype("float32")
    path = tmp_path / "custom.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(run(restored, L), run(model, L), atol=1e-5)

    model_file = tmp_path / "extractor.keras"
    trained.save(model_file)
    from_file = koalarization((16, 16, 1), feature_extractor=str(model_file), width=4)
    loaded = from_file.get_layer("vector_extractor")
    np.testing.assert_array_equal(
        np.array(loaded.get_layer("d").kernel), np.array(trained.get_layer("d").kernel)
    )


def test_imagenet_weights_fail_clearly_offline(monkeypatch, tmp_path):
    from colorization import weights

    assert {f"{name}_imagenet" for name in koala.APPLICATIONS} <= set(weights.PRESETS)
    release = weights.PRESETS["inception_resnet_v2_imagenet"]
    offline = dataclasses.replace(release, url="http://127.0.0.1:9/" + release.filename)
    monkeypatch.setitem(weights.PRESETS, "inception_resnet_v2_imagenet", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(OSError) as error:
        koalarization((32, 32, 1), extractor_weights="imagenet")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"Could not download {release.filename} from http://127.0.0.1:9/")
    assert message.endswith(f"koalarization(..., extractor_weights='.../{release.filename}'.")


def test_imagenet_weights_come_from_the_preset(monkeypatch, tmp_path):
    from colorization import weights

    trained = keras.applications.DenseNet121(weights=None, input_shape=(224, 224, 3))
    published = tmp_path / "published" / "densenet121.weights.h5"
    published.parent.mkdir()
    trained.save_weights(published)
    release = weights.Preset(
        published.as_uri(),
        md5=hashlib.md5(published.read_bytes()).hexdigest(),
        pass_with="extractor_weights",
    )
    monkeypatch.setitem(weights.PRESETS, "densenet121_imagenet", release)
    # Keras reads $KERAS_HOME once, at import: point its cache at tmp_path directly.
    (tmp_path / "keras_home").mkdir()
    monkeypatch.setattr("keras.src.backend.config.keras_home", lambda: str(tmp_path / "keras_home"))
    model = koalarization(
        (16, 16, 1), feature_extractor="densenet121", extractor_weights="imagenet", width=4
    )
    loaded = model.get_layer(trained.name).get_layer("predictions").kernel
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded),
        keras.ops.convert_to_numpy(trained.get_layer("predictions").kernel),
    )
    assert (tmp_path / "keras_home" / "models" / published.name).is_file()


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="feature_extractor must be one of"):
        koalarization((32, 32, 1), feature_extractor="alexnet")
    with pytest.raises(FileNotFoundError, match="no file at"):
        koalarization(
            (32, 32, 1), feature_extractor="tiny", extractor_weights=str(tmp_path / "missing.h5")
        )
    with pytest.raises(ValueError, match="multiples of 8"):
        koalarization((30, 32, 1), feature_extractor="tiny")
    inputs = keras.Input((16, 16, 3))
    grid_out = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="map an image to a vector"):
        koalarization((32, 32, 1), feature_extractor=grid_out)


def test_report001_recipe_states_table_2():
    from colorization.training import recipes

    recipe = recipes.get_recipe("report001")
    assert (recipe.learning_rate, recipe.batch_size, recipe.epochs, recipe.train_images) == (
        0.0012,
        40,
        70,
        1000,
    )
    assert recipe.optimizer_kwargs == {"weight_decay": 1e-6} and recipe.loss == "mse"
    assert recipe.model_kwargs["feature_extractor"] == "inception_resnet_v2"
    model = recipe.build_model(
        input_shape=(16, 16, 1), feature_extractor="tiny", extractor_weights=None, width=4
    )
    recipe.compile(model)
    assert model.output_shape == (None, 16, 16, 2)
    assert float(model.optimizer.weight_decay) == pytest.approx(1e-6)
