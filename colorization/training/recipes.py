"""Training recipes: the reproduced experiments' settings as data, building their Keras objects.

    recipe = recipes.report000_regression_vs_classification()["classification"]
    model = recipe.compile(recipe.build_model(), prior=prior)
    model.fit(dataset.batch(recipe.batch_size), epochs=recipe.epochs)

What a paper leaves open is chosen here and said in `notes`; `recipe.replace(...)` changes a field.
"""

import dataclasses

import keras
import numpy as np

from colorization.constants import ZHANG_GAMMA
from colorization.constants import ZHANG_TEMPERATURE
from colorization.losses import RebalancedCrossEntropy
from colorization.models.registry import get_model
from colorization.quantization import ABQuantizer
from colorization.quantization import empirical_prior
from colorization.quantization import rebalancing_weights

# "model": the model computes its own objective in `compute_loss` (report 003's coherent model);
# `compile` gets no loss, and alpha/gamma describe the weights passed to the model itself.
# "gan": `model` is a generator trained in `Pix2Pix` against a PatchGAN (report 004).
LOSSES = ("mse", "rebalanced_cross_entropy", "model", "gan")
OPTIMIZERS = ("adam", "sgd")

# Report 000 trained 64x64 Tiny-ImageNet with batch 64 for 55 epochs (section 5.2).
REPORT000_BATCH_SIZE = 64
REPORT000_EPOCHS = 55
# Report 000 section 5.3 gives only the best non-uniform alpha (1.1); 0.5 and 0.8 are our choice.
REPORT000_ALPHAS = (0.5, 0.8, 1.1)
REPORT000_BEST_ALPHA = 1.1


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training configuration of a reproduced experiment.

    Args:
        name, source: an identifier (e.g. `"report000/adam"`) and the paper section of the settings.
        model, model_kwargs: a registered model name (`list_models()`) and its builder's arguments.
        loss: `"mse"` (regression, Lab units), `"rebalanced_cross_entropy"` (classification),
            `"model"` (the model's own `compute_loss`) or `"gan"` (`model` is a pix2pix generator).
        optimizer: `"adam"` or `"sgd"`, with `optimizer_kwargs` (`beta_2`, `momentum`, ...).
        learning_rate: a float, or `{"boundaries": [...], "values": [...]}` over training steps.
        batch_size, epochs: images per step; passes over `train_images` images.
        discriminator_kwargs: `loss="gan"` only: `patchgan_discriminator` arguments.
        alpha, gamma: the rebalancing exponent (0: uniform) and uniform mix (Zhang's lambda).
        temperature: the annealed-mean temperature for decoding predictions.
        train_images: how many training images the paper used, if stated.
        notes: what the paper leaves open and this recipe chooses.

    Example:
    >>> from colorization.training import recipes
    >>> recipe = recipes.report000_optimizers()["adam"]
    >>> recipe.batch_size, recipe.epochs, recipe.loss
    (64, 55, 'mse')
    """

    name: str
    source: str
    model: str
    model_kwargs: dict
    loss: str
    optimizer: str
    learning_rate: object
    batch_size: int
    epochs: int
    optimizer_kwargs: dict = dataclasses.field(default_factory=dict)
    discriminator_kwargs: dict = dataclasses.field(default_factory=dict)
    alpha: float = 0.0
    gamma: float = ZHANG_GAMMA
    temperature: float = ZHANG_TEMPERATURE
    train_images: int = None
    notes: str = ""

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}. Received: loss={self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {OPTIMIZERS}. Received: optimizer={self.optimizer!r}"
            )
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError(
                "batch_size and epochs must be positive. Received: "
                f"batch_size={self.batch_size}, epochs={self.epochs}"
            )

    @property
    def head(self):
        return "classification" if self.loss == "rebalanced_cross_entropy" else "regression"

    def replace(self, **changes):
        """A copy with some fields changed, e.g. `recipe.replace(epochs=2)`."""
        return dataclasses.replace(self, **changes)

    def build_model(self, **overrides):
        """The registered model from `model_kwargs` updated by `overrides` (GANs: a `Pix2Pix`)."""
        head = {} if self.loss == "model" else {"head": self.head}
        kwargs = {**head, **self.model_kwargs, **overrides}
        model = get_model(self.model, **kwargs)
        if self.loss != "gan":
            return model
        from colorization.models.pix2pix import Pix2Pix
        from colorization.models.pix2pix import patchgan_discriminator

        discriminator = patchgan_discriminator(
            **{
                "input_shape": kwargs.get("input_shape"),
                "head": kwargs["head"],
                **self.discriminator_kwargs,
            }
        )
        return Pix2Pix(model, discriminator)

    def build_learning_rate(self):
        """The learning rate: a float or a `PiecewiseConstantDecay` schedule over steps."""
        if isinstance(self.learning_rate, dict):
            return keras.optimizers.schedules.PiecewiseConstantDecay(
                list(self.learning_rate["boundaries"]), list(self.learning_rate["values"])
            )
        return float(self.learning_rate)

    def build_optimizer(self):
        """A fresh optimizer (never share one between models)."""
        learning_rate = self.build_learning_rate()
        if self.optimizer == "adam":
            return keras.optimizers.Adam(learning_rate=learning_rate, **self.optimizer_kwargs)
        return keras.optimizers.SGD(learning_rate=learning_rate, **self.optimizer_kwargs)

    def class_weights(self, prior=None, quantizer=None):
        """Rebalancing weights for the bins, or `None` when `alpha == 0` (uniform)."""
        if self.alpha == 0:
            return None
        if prior is None:
            raise ValueError(
                f"Recipe {self.name!r} rebalances with alpha={self.alpha}: pass the empirical "
                "colour prior of the "
                "training set, e.g. `prior=recipes.prior_from_dataset(dataset)`."
            )
        quantizer = quantizer or ABQuantizer()
        prior = np.asarray(prior, dtype="float64")
        if prior.shape != (quantizer.num_bins,):
            raise ValueError(
                f"prior must have shape ({quantizer.num_bins},). Received: shape={prior.shape}"
            )
        return rebalancing_weights(prior, alpha=self.alpha, gamma=self.gamma).astype("float32")

    def build_loss(self, prior=None, quantizer=None):
        """The loss: `MeanSquaredError`, or `RebalancedCrossEntropy` with the recipe's weights."""
        if self.loss == "mse":
            return keras.losses.MeanSquaredError(name="mse")
        if self.loss == "model":
            return None
        return RebalancedCrossEntropy(
            class_weights=self.class_weights(prior, quantizer), quantizer=quantizer
        )

    def build_metrics(self):
        """Metrics that fit the head: the mean absolute ab error for regression."""
        if self.loss == "mse":
            return [keras.metrics.MeanAbsoluteError(name="ab_mae")]
        return []

    def compile(self, model, prior=None, quantizer=None, **compile_kwargs):
        """`model.compile` with this recipe's optimizer, loss and metrics; returns the model."""
        if self.loss == "gan":
            model.compile(
                g_optimizer=self.build_optimizer(),
                d_optimizer=self.build_optimizer(),
                **compile_kwargs,
            )
            return model
        compile_kwargs.setdefault("metrics", self.build_metrics())
        model.compile(
            optimizer=self.build_optimizer(),
            loss=self.build_loss(prior, quantizer),
            **compile_kwargs,
        )
        return model


def prior_from_dataset(dataset, quantizer=None, max_batches=None, smoothing_sigma=5.0):
    """The smoothed empirical distribution of ab bins over `(L, ab)` batches.

    Args:
        dataset: an iterable of `(L, ab)` batches (a `tf.data.Dataset`, a list); none: `ValueError`.
        quantizer: an `ABQuantizer`; `None` for Zhang's 313 bins.
        max_batches: stop after this many batches.
        smoothing_sigma: Gaussian smoothing in ab units (Zhang et al.: 5).

    Returns:
        a `(Q,)` NumPy array summing to 1.
    """
    quantizer = quantizer or ABQuantizer()
    counts = np.zeros(quantizer.num_bins, dtype="float64")
    seen = 0
    for index, batch in enumerate(dataset):
        if max_batches is not None and index >= max_batches:
            break
        _, ab = batch
        counts += np.asarray(keras.ops.convert_to_numpy(quantizer.bin_counts(ab)), dtype="float64")
        seen += 1
    if seen == 0 or counts.sum() == 0:
        raise ValueError("prior_from_dataset received no (L, ab) batches.")
    return empirical_prior(counts, bins=quantizer.bins, smoothing_sigma=smoothing_sigma)


def _report000(name, loss, optimizer="adam", learning_rate=1e-3, alpha=0.0, **fields):
    classification = loss == "rebalanced_cross_entropy"
    return Recipe(
        name=f"report000/{name}",
        source=fields.pop("source"),
        model="unet",
        model_kwargs={"input_shape": (64, 64, 1)},
        loss=loss,
        optimizer=optimizer,
        learning_rate=learning_rate,
        batch_size=REPORT000_BATCH_SIZE,
        epochs=fields.pop("epochs", REPORT000_EPOCHS),
        alpha=alpha,
        gamma=ZHANG_GAMMA,
        train_images=30_000 if classification else 50_000,
        notes=fields.pop("notes", "")
        + " Learning rates are not stated in the report: Adam uses Keras's default 1e-3."
        + (" Gamma is not stated: Zhang's 0.5." if classification else ""),
        **fields,
    )


def report000_optimizers(sgd_learning_rate=1e-5):
    """Report 000, section 5.2: the regression U-Net, SGD and Adam (MSE, batch 64, 55 epochs).

    The report names the optimizers only. SGD is plain; its rate 1e-5 is ours: MSE in Lab units has
    gradients ~110^2 times those on ab / 110, so Keras's default 0.01 diverges.
    """
    notes = f" SGD is plain, learning rate {sgd_learning_rate} (our choice, see the docstring)."
    return {
        "sgd": _report000(
            "sgd",
            "mse",
            optimizer="sgd",
            learning_rate=sgd_learning_rate,
            source="report 000, section 5.2",
            notes=notes,
        ),
        "adam": _report000("adam", "mse", source="report 000, section 5.2"),
    }


def report000_bucket_weights(alphas=REPORT000_ALPHAS, gamma=ZHANG_GAMMA):
    """Report 000, section 5.3: the classification U-Net with four bucket weightings.

    Uniform (`alpha=0`), and `rebalancing_weights` at alpha 0.5, 0.8 (ours) and 1.1 (the report's
    best); batch 64, 55 epochs (5.2's; 5.3 states none), 30,000 images, Adam.

    Returns:
        a dict `{"uniform": ..., "alpha=0.5": ..., "alpha=0.8": ..., "alpha=1.1": ...}`.
    """
    recipes = {
        "uniform": _report000(
            "uniform", "rebalanced_cross_entropy", source="report 000, section 5.3"
        )
    }
    for alpha in alphas:
        recipes[f"alpha={alpha}"] = _report000(
            f"alpha={alpha}",
            "rebalanced_cross_entropy",
            alpha=float(alpha),
            source="report 000, section 5.3",
        ).replace(gamma=gamma)
    return recipes


def report000_temperature_sweep(num_temperatures=11, smallest=0.01):
    """Report 000, section 5.4: one classification model decoded at increasing temperatures.

    Section 5.3's alpha = 1.1 model ("figure 4d"), 50 epochs; T linear from `smallest` (T = 0 is the
    mode) to 1. The report finds 0.23 < T < 0.40 best, as Zhang et al. did.

    Returns:
        `(recipe, temperatures)`, temperatures a NumPy array.
    """
    recipe = _report000(
        "temperature",
        "rebalanced_cross_entropy",
        alpha=REPORT000_BEST_ALPHA,
        epochs=50,
        source="report 000, section 5.4",
    )
    return recipe, np.linspace(smallest, 1.0, num_temperatures)


def report000_regression_vs_classification():
    """Report 000, section 5.5: best regression (Adam) against best classification (alpha 1.1)."""
    return {
        "regression": _report000("regression", "mse", source="report 000, sections 5.2 and 5.5"),
        "classification": _report000(
            "classification",
            "rebalanced_cross_entropy",
            alpha=REPORT000_BEST_ALPHA,
            source="report 000, sections 5.3 and 5.5",
        ),
    }


def zhang_eccv16():
    """Zhang et al. (ECCV 2016, section 3): the full network and rebalanced loss; see `notes`."""
    return Recipe(
        name="zhang_eccv16",
        source="Zhang, Isola & Efros, ECCV 2016, section 3",
        model="eccv16",
        model_kwargs={"input_shape": (256, 256, 1), "width": 64},
        loss="rebalanced_cross_entropy",
        optimizer="adam",
        learning_rate={"boundaries": [200_000, 375_000], "values": [3e-5, 1e-5, 3e-6]},
        optimizer_kwargs={"beta_1": 0.9, "beta_2": 0.99, "weight_decay": 1e-3},
        batch_size=40,
        epochs=14,
        alpha=1.0,
        gamma=ZHANG_GAMMA,
        temperature=ZHANG_TEMPERATURE,
        train_images=1_300_000,
        notes=(
            "Weight decay is decoupled here (Keras), an L2 term in Caffe. "
            "Epochs: 450k iterations x 40 / 1.3M."
        ),
    )


def report002(width=16, batch_size=5, epochs=400):
    """Report 002: Zhang's network at kernel multiplier 16 (or 32), MSE, rate 1e-4, batch 5-10.

    224x224 inputs; Adam assumed (not named). 400 epochs: the single-image overfitting run (small
    sets: 200-400 epochs on 10-20 images).
    """
    if width not in (16, 32, 64):
        raise ValueError(
            f"report 002 used kernel multipliers 16, 32 (and Zhang's 64). Received: width={width}"
        )
    return Recipe(
        name=f"report002/width={width}",
        source="report 002, Model & Methods and Results",
        model="eccv16",
        model_kwargs={"input_shape": (224, 224, 1), "width": width},
        loss="mse",
        optimizer="adam",
        learning_rate=1e-4,
        batch_size=batch_size,
        epochs=epochs,
        notes="The optimizer is not named in the report: Adam assumed.",
    )


def report001(epochs=70, input_shape=(224, 224, 1), extractor_weights="imagenet"):
    """Report 001 (Table 2, section 4.2): Deep Koalarization + BatchNorm, MSE, 1,000 Places365.

    Keras's `weight_decay` is decoupled, the report's PyTorch Adam adds L2. The report tracked no
    validation loss (4.4.1): pass `validation_data` to `fit`.
    """
    return Recipe(
        name="report001",
        source="report 001, Table 2 and section 4.2",
        model="koalarization",
        model_kwargs={
            "input_shape": tuple(input_shape),
            "feature_extractor": "inception_resnet_v2",
            "extractor_weights": extractor_weights,
            "batch_norm": True,
        },
        loss="mse",
        optimizer="adam",
        learning_rate=0.0012,
        optimizer_kwargs={"weight_decay": 1e-6},
        batch_size=40,
        epochs=epochs,
        train_images=1000,
        notes=(
            "Weight decay decoupled in Keras, L2 in PyTorch. "
            "Track validation loss (report 001, 4.4.1)."
        ),
    )


def report003(width=64, input_shape=(256, 256, 1)):
    """Report 003 (sections 2.2, 3-5): the coherent model on COCO, 15 epochs, 86,301 images.

    The model computes its own objective (`loss="model"`); pass it the rebalancing weights with
    `recipe.build_model(class_weights=recipe.class_weights(prior))`. Optimizer, rate and batch size
    are not stated: Zhang's Adam (beta_2 0.99) and batch 40, rate 1e-4 (ours).
    """
    return Recipe(
        name="report003",
        source="report 003, sections 2.2, 3, 4 and 5",
        model="coherent",
        model_kwargs={"input_shape": tuple(input_shape), "width": width},
        loss="model",
        optimizer="adam",
        learning_rate=1e-4,
        optimizer_kwargs={"beta_2": 0.99},
        batch_size=40,
        epochs=15,
        alpha=1.0,
        gamma=ZHANG_GAMMA,
        train_images=86_301,
        notes="Optimizer, learning rate and batch size are not stated in the report: "
        "Zhang's Adam and batch 40, "
        "learning rate 1e-4 chosen here.",
    )


REPORT004_EPOCHS = 20
REPORT004_IMAGE_SIZE = 128
# Not stated in report 004: a batch that fits the full-size models twice over on one GPU.
REPORT004_BATCH_SIZE = 16


def _report004(name, model, model_kwargs, loss="mse", learning_rate=1e-3, **fields):
    return Recipe(
        name=f"report004/{name}",
        source=fields.pop("source"),
        model=model,
        model_kwargs=model_kwargs,
        loss=loss,
        optimizer="adam",
        learning_rate=learning_rate,
        batch_size=REPORT004_BATCH_SIZE,
        epochs=REPORT004_EPOCHS,
        notes=fields.pop("notes", "")
        + " Batch size and (for the MSE models) the optimizer are not stated: "
        "batch 16 and Adam 1e-3 chosen here.",
        **fields,
    )


def report004(image_size=REPORT004_IMAGE_SIZE, encoder_weights=None):
    """Report 004 (section 5): ResNet colorizer, pix2pix GAN, ResNet-18 AE and VAE, 20 epochs each.

    128x128 crops; MSE and Adam 1e-3, except the GAN (Isola et al.'s BCE + 100 x L1, Adam 2e-4,
    beta_1 0.5). The ResNet's quarter width is ours; `encoder_weights="imagenet"` is the report's.

    Returns:
        `{"resnet": ..., "gan": ..., "ae": ..., "vae": ...}`.

    Example:
    >>> from colorization.training import recipes
    >>> recipe = recipes.report004()["gan"]
    >>> recipe.epochs, recipe.learning_rate, recipe.optimizer_kwargs
    (20, 0.0002, {'beta_1': 0.5})
    """
    shape = (image_size, image_size, 1)
    autoencoder = {"input_shape": shape, "width": 64, "decoder_filters": (128, 64, 32)}
    autoencoder["encoder_weights"] = encoder_weights
    return {
        "resnet": _report004(
            "resnet",
            "resnet_colorizer",
            {"input_shape": (None, None, 1), "width": 16, "stage_blocks": (3, 4, 6, 3)},
            source="report 004, section 5.1",
        ),
        "gan": _report004(
            "gan",
            "pix2pix_generator",
            {"input_shape": shape, "width": 64, "num_downsamples": 7},
            loss="gan",
            learning_rate=2e-4,
            optimizer_kwargs={"beta_1": 0.5},
            discriminator_kwargs={"width": 64, "num_layers": 3},
            source="report 004, section 5.2; Isola et al. 2017, section 3.3 and appendix 6",
        ),
        "ae": _report004(
            "ae", "resnet18_autoencoder", autoencoder, source="report 004, section 5.3"
        ),
        "vae": _report004(
            "vae",
            "resnet18_vae",
            {**autoencoder, "seed": 0},
            source="report 004, section 5.3",
            notes=(
                "The report's 'VAE' has no latent distribution; this is a real VAE "
                "(KL weight 1 per output value)."
            ),
        ),
    }


def all_recipes():
    """Every recipe of this module by name."""
    recipes = {}
    for group in (
        report000_optimizers(),
        report000_bucket_weights(),
        report000_regression_vs_classification(),
        report004(),
    ):
        recipes.update({recipe.name: recipe for recipe in group.values()})
    temperature, _ = report000_temperature_sweep()
    for recipe in (
        temperature,
        zhang_eccv16(),
        report001(),
        report002(16),
        report002(32),
        report003(),
    ):
        recipes[recipe.name] = recipe
    return recipes


def get_recipe(name):
    """The recipe called `name` (see `all_recipes()`)."""
    recipes = all_recipes()
    if name not in recipes:
        raise ValueError(f"Unknown recipe {name!r}. Available: {', '.join(sorted(recipes))}.")
    return recipes[name]
