"""Training the report 000 models: fit steps, recipes, sample logging, checkpoint/resume."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from colorization.models import get_model
from colorization.quantization import ABQuantizer
from colorization.training import recipes
from colorization.training.callbacks import SampleColorizationLogger

pytestmark = pytest.mark.core

SIZE = 32


@pytest.fixture
def lab_batch(photo_rgb):
    """Four 32x32 crops of a real photo as (L, ab) float32, converted with scikit-image."""
    crops = np.stack(
        [photo_rgb[y : y + SIZE, x : x + SIZE] for y, x in [(0, 0), (40, 60), (80, 20), (90, 90)]]
    )
    lab = skcolor.rgb2lab(crops).astype("float32")
    return lab[..., :1], lab[..., 1:]


def weights_of(model):
    return [keras.ops.convert_to_numpy(w).copy() for w in model.weights]


@pytest.mark.parametrize("name", ["unet", "eccv16"])
@pytest.mark.parametrize("head", ["regression", "classification"])
def test_one_fit_step_changes_weights_and_gives_a_finite_loss(name, head, lab_batch):
    L, ab = lab_batch
    keras.utils.set_random_seed(0)
    model = get_model(name, input_shape=(SIZE, SIZE, 1), width=4, head=head)
    if head == "classification":
        quantizer = ABQuantizer()
        prior = recipes.prior_from_dataset([(L, ab)], quantizer=quantizer)
        recipe = recipes.report000_regression_vs_classification()["classification"]
        recipe.compile(model, prior=prior)
    else:
        recipes.report000_optimizers()["adam"].compile(model)
    before = weights_of(model)
    # The data contract: a tf.data pipeline of (L, ab) batches, on every backend.
    dataset = tf.data.Dataset.from_tensor_slices((L, ab)).batch(2)
    history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(a, b) for a, b in zip(before, weights_of(model))]
    assert sum(changed) >= len(
        model.trainable_weights
    )  # every trainable weight moved (plus BN statistics)


def test_recipes_state_the_report_settings():
    optimizers = recipes.report000_optimizers()
    assert set(optimizers) == {"sgd", "adam"}
    for recipe in optimizers.values():
        assert (recipe.model, recipe.loss, recipe.batch_size, recipe.epochs) == (
            "unet",
            "mse",
            64,
            55,
        )
    assert isinstance(optimizers["sgd"].build_optimizer(), keras.optimizers.SGD)
    assert isinstance(optimizers["adam"].build_optimizer(), keras.optimizers.Adam)
    buckets = recipes.report000_bucket_weights()
    assert list(buckets) == ["uniform", "alpha=0.5", "alpha=0.8", "alpha=1.1"]
    assert [r.alpha for r in buckets.values()] == [0.0, 0.5, 0.8, 1.1]
    recipe, temperatures = recipes.report000_temperature_sweep()
    assert recipe.alpha == 1.1 and recipe.epochs == 50
    assert temperatures[0] < 0.05 and temperatures[-1] == 1.0 and np.all(np.diff(temperatures) > 0)
    zhang = recipes.zhang_eccv16()
    assert (zhang.batch_size, zhang.alpha, zhang.gamma, zhang.temperature) == (40, 1.0, 0.5, 0.38)
    assert isinstance(zhang.build_optimizer(), keras.optimizers.Adam)
    report002 = recipes.report002()
    assert (report002.loss, report002.learning_rate, report002.model_kwargs["width"]) == (
        "mse",
        1e-4,
        16,
    )
    assert 5 <= report002.batch_size <= 10
    assert set(recipes.all_recipes()) >= {
        "report000/adam",
        "report000/sgd",
        "zhang_eccv16",
        "report002/width=16",
    }
    with pytest.raises(ValueError, match="Unknown recipe"):
        recipes.get_recipe("nope")


def test_recipe_class_weights_follow_the_report_formula(rng):
    prior = rng.dirichlet(np.ones(313))
    recipe = recipes.report000_bucket_weights()["alpha=1.1"]
    weights = recipe.class_weights(prior)
    expected = ((1 - 0.5) * prior + 0.5 / 313) ** -1.1
    expected /= np.sum(prior * expected)  # Zhang's normalisation: expected weight 1
    np.testing.assert_allclose(weights, expected, rtol=1e-5)
    assert recipes.report000_bucket_weights()["uniform"].class_weights(prior) is None
    with pytest.raises(ValueError, match="prior"):
        recipe.build_loss()


def test_zhang_schedule_drops_at_200k_and_375k():
    schedule = recipes.zhang_eccv16().build_learning_rate()
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 200_001, 375_001)]
    np.testing.assert_allclose(rates, [3e-5, 1e-5, 3e-6], rtol=1e-6)


def check_grid(path, L, ab, rows):
    from PIL import Image

    grid = np.asarray(Image.open(path))
    assert grid.shape == (rows * SIZE, 3 * SIZE, 3)
    grey, truth = grid[:, :SIZE].astype(int), grid[:, 2 * SIZE :].astype(int)
    lab = np.concatenate([L[:rows], ab[:rows]], axis=-1).astype("float64")
    expected_truth = np.round(np.clip(skcolor.lab2rgb(lab), 0, 1) * 255).reshape(-1, SIZE, 3)
    assert np.abs(truth - expected_truth).max() <= 2
    assert (
        np.abs(grey[..., 0] - grey[..., 1]).max() <= 2
        and np.abs(grey[..., 1] - grey[..., 2]).max() <= 2
    )
    return grid


def test_sample_logger_during_fit_decodes_classification_outputs(tmp_path, lab_batch):
    L, ab = lab_batch
    model = get_model("eccv16", input_shape=(SIZE, SIZE, 1), width=4, head="classification")
    model.compile(optimizer="adam", loss=recipes.RebalancedCrossEntropy())
    logger = SampleColorizationLogger(
        [(L[:2], ab[:2]), (L[2:], ab[2:])],
        output_dir=tmp_path / "png",
        tensorboard_dir=tmp_path / "tb",
        max_images=3,
    )
    model.fit(L, ab, batch_size=2, epochs=2, steps_per_epoch=1, verbose=0, callbacks=[logger])
    assert [p.name for p in sorted((tmp_path / "png").iterdir())] == [
        "epoch_0001.png",
        "epoch_0002.png",
    ]
    grid = check_grid(tmp_path / "png" / "epoch_0002.png", L, ab, rows=3)
    # The prediction column is the annealed mean (T = 0.38) of the 8x8 output, resized to 32x32.
    probs = keras.ops.convert_to_numpy(model(L[:3], training=False))
    annealed = np.exp(np.log(np.maximum(probs, 1e-30)) / 0.38)
    annealed /= annealed.sum(-1, keepdims=True)
    ab_small = annealed @ ABQuantizer().bins
    ab_pred = keras.ops.convert_to_numpy(
        keras.ops.image.resize(ab_small, (SIZE, SIZE), interpolation="bilinear")
    )
    expected = np.clip(
        skcolor.lab2rgb(np.concatenate([L[:3], ab_pred], -1).astype("float64")), 0, 1
    )
    assert (
        np.abs(
            grid[:, SIZE : 2 * SIZE].astype(int) - np.round(expected * 255).reshape(-1, SIZE, 3)
        ).max()
        <= 2
    )
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return
    if keras.backend.backend() == "tensorflow":
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_sample_logger_every_n_epochs_with_a_regression_model(tmp_path, lab_batch):
    L, ab = lab_batch
    model = get_model("unet", input_shape=(SIZE, SIZE, 1), width=4, head="regression")
    logger = SampleColorizationLogger((L, ab), output_dir=tmp_path, every_n_epochs=2, max_images=2)
    logger.set_model(model)
    logger.set_params({"epochs": 5})
    for epoch in range(5):
        logger.on_epoch_end(epoch)
    assert [p.rsplit("/", 1)[-1] for p in logger.written] == [
        "epoch_0002.png",
        "epoch_0004.png",
        "epoch_0005.png",
    ]
    grid = check_grid(tmp_path / "epoch_0002.png", L, ab, rows=2)
    ab_pred = keras.ops.convert_to_numpy(model(L[:2], training=False))
    expected = np.clip(
        skcolor.lab2rgb(np.concatenate([L[:2], ab_pred], -1).astype("float64")), 0, 1
    )
    assert (
        np.abs(
            grid[:, SIZE : 2 * SIZE].astype(int) - np.round(expected * 255).reshape(-1, SIZE, 3)
        ).max()
        <= 2
    )


def test_sample_logger_rejects_bad_samples(tmp_path):
    with pytest.raises(ValueError, match="L \\(N, H, W, 1\\)"):
        SampleColorizationLogger(
            (np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8, 2))), output_dir=tmp_path
        )
    with pytest.raises(ValueError, match="output_dir"):
        SampleColorizationLogger((np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 2))))


class InterruptAt(keras.callbacks.Callback):
    """Raises at the start of `epoch`, as a killed job would; records weights at each epoch end."""

    def __init__(self, epoch=None):
        super().__init__()
        self.epoch = epoch
        self.epoch_end_weights = {}
        self.epochs_begun = []
        self.weights_at_begin = {}

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"interrupted at epoch {epoch}")
        self.epochs_begun.append(epoch)
        self.weights_at_begin[epoch] = weights_of(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_end_weights[epoch] = weights_of(self.model)


def test_backup_and_restore_resumes_from_the_saved_epoch_with_the_same_weights(tmp_path, lab_batch):
    """Interrupt training at epoch 2, start it again with the same BackupAndRestore folder.

    The second run must skip the two finished epochs and start from the
    weights saved at the end of epoch 1 (the second), optimizer state included.
    """
    L, ab = lab_batch
    backup_dir = tmp_path / "backup"
    recipe = recipes.report000_optimizers()["adam"]

    def fresh_model():
        return recipe.compile(get_model("unet", input_shape=(SIZE, SIZE, 1), width=4))

    interrupted = InterruptAt(epoch=2)
    model = fresh_model()
    with pytest.raises(RuntimeError, match="interrupted at epoch 2"):
        model.fit(
            L,
            ab,
            batch_size=2,
            epochs=4,
            verbose=0,
            shuffle=False,
            callbacks=[keras.callbacks.BackupAndRestore(backup_dir), interrupted],
        )
    assert interrupted.epochs_begun == [0, 1]
    saved = json.loads((backup_dir / "training_metadata.json").read_text())
    assert saved["epoch"] == 2
    optimizer_iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    assert optimizer_iterations == 4  # 2 epochs of 2 steps

    resumed = InterruptAt()
    model = fresh_model()  # new process, new random initialisation
    assert not all(
        np.array_equal(a, b) for a, b in zip(weights_of(model), interrupted.epoch_end_weights[1])
    )
    history = model.fit(
        L,
        ab,
        batch_size=2,
        epochs=4,
        verbose=0,
        shuffle=False,
        callbacks=[keras.callbacks.BackupAndRestore(backup_dir), resumed],
    )
    assert resumed.epochs_begun == [2, 3]
    assert len(history.history["loss"]) == 2
    for restored, saved_weights in zip(
        resumed.weights_at_begin[2], interrupted.epoch_end_weights[1]
    ):
        np.testing.assert_array_equal(restored, saved_weights)
    # The optimizer state came back too: Adam continues at step 4 and ends at step 8.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8
    assert not backup_dir.exists() or not any(backup_dir.iterdir())  # removed after a completed run
