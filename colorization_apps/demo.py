"""The main job: photos -> shards -> two trained U-Nets -> scores and a comparison grid.

    python -m colorization demo [--out outputs/demo] [--epochs N] [--fast]

Steps (report 000 in miniature, on the CPU, with no download):

1. Shards: random 64x64 crops of the photographs bundled with scikit-image,
   scikit-learn and matplotlib (`data_pipeline` source `samples`), written as
   CIELAB TFRecord shards of 128 examples (report 000, section 4.3). Train and
   validation are different photographs, so the scores are on held-out
   pictures.
2. Prior: the smoothed empirical distribution of the training ab over the
   313 bins (`data_pipeline.compute_prior`), turned into the rebalancing
   weights `((1 - gamma) p + gamma / Q) ** -alpha` with report 000's best
   alpha = 1.1 and Zhang's gamma = 0.5 (`quantization.rebalancing_weights`).
3. Training: report 000's U-Net (Table 1) twice, with the recipes of report
   000 section 5.5 (`recipes.report000_regression_vs_classification`): the
   regression head with MSE and the classification head with
   `RebalancedCrossEntropy`, Adam; the classification head's output bias
   starts at the log of the training prior
   (`colorization.training.initializers.initialize_bias_from_prior`, not a step of
   the report: with so few steps, a uniform start decodes to a blue cast).
   Shrunk to CPU minutes: 64x64 random crops,
   batch 32, 6 epochs of 15 steps, and a learning rate of 2e-3 instead of the
   recipe's 1e-3 (few steps; the report states none).
4. Evaluation on the held-out crops: both models and the grey baseline
   (ab = 0): AuC of the ab-error CMF (raw and rebalanced), PSNR, SSIM and
   colourfulness (`colorization.metrics`).
5. Zhang et al.'s released ECCV16 network, when its weights are already in
   the Keras cache (`$KERAS_HOME/models/` or `~/.keras/models/`) or can be
   downloaded, and PyTorch is installed to read them: converted
   (`colorization.weights`, checksum verified), it adds a row to the table
   and a column to the grid -- what 1.3M ImageNet photos teach, beside the
   nine photos here. Otherwise the demo says in one line why it skipped it
   (`--no-pretrained` skips it on purpose).
6. Outputs in `--out`: `comparison.png` (grey | regression | classification |
   [ECCV16 release |] truth, full held-out photographs colourised with
   `colorize`), `metrics.json`, the two models as `.keras` files; a table on
   stdout.

Re-running resumes: existing shards are reused (the writer skips finished
shards), the prior is read back from the shard manifest, a model whose
training finished with the same settings is loaded instead of retrained, and
an interrupted training continues from its last finished epoch
(`keras.callbacks.BackupAndRestore`).

What to expect: nine training photographs and a few minutes of CPU teach the
models colour statistics, not semantics. The regression model gives the
muted, sepia-like colour the report describes (section 3.4); the rebalanced
classification model gives bolder colour, often with a cast from the
training photos (much blue sky, uniform and space): more colourful, lower
AuC -- report 000's section 5.5 finding in miniature. A real model needs
the notebooks' full settings on a GPU.

The demo is sized to finish in about 5-8 minutes on 2 CPU cores; `--fast`
shrinks it to about a minute (a smoke test of the whole path, not a trained
model).
"""

import argparse
import json
import os
import pathlib
import sys
import time

from colorization_apps import console
from colorization_apps import reporting

DEFAULTS = {
    "image_size": 64,
    "train_crops": 64,
    "val_crops": 16,
    "batch_size": 32,
    "epochs": 6,
    "steps_per_epoch": 15,
    "width": 32,
    "learning_rate": 2e-3,
    "temperature": 0.38,
    "alpha": 1.1,
    "grid_side": 256,
}
FAST = {"train_crops": 16, "val_crops": 4, "epochs": 2, "steps_per_epoch": 4, "width": 16, "batch_size": 16,
        "grid_side": 128}
HEADS = ("regression", "classification")
RELEASE_NAME = "eccv16"
RELEASE_ROW = "eccv16_release (Zhang et al.)"
# The demo verifies the released file's checksum; only the tests turn this off, to run the
# conversion on a PyTorch twin with random weights saved under the release's file name.
VERIFY_RELEASE_CHECKSUM = True


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m colorization demo",
        description="Train report 000's regression and classification U-Nets on the bundled photos and compare them.",
    )
    parser.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    parser.add_argument("--epochs", type=int, help=f"training epochs per model (default {DEFAULTS['epochs']})")
    parser.add_argument("--steps-per-epoch", type=int, help=f"batches per epoch (default {DEFAULTS['steps_per_epoch']})")
    parser.add_argument("--batch-size", type=int, help=f"default {DEFAULTS['batch_size']}")
    parser.add_argument("--width", type=int, help=f"U-Net width; Table 1 is 32 (default {DEFAULTS['width']})")
    parser.add_argument("--train-crops", type=int, help=f"crops per training photo (default {DEFAULTS['train_crops']})")
    parser.add_argument("--val-crops", type=int, help=f"crops per held-out photo (default {DEFAULTS['val_crops']})")
    parser.add_argument("--learning-rate", type=float, help=f"Adam learning rate (default {DEFAULTS['learning_rate']})")
    parser.add_argument("--temperature", type=float, help=f"annealed-mean T (default {DEFAULTS['temperature']})")
    parser.add_argument("--fast", action="store_true", help="a one-minute smoke run: " + ", ".join(f"{k}={v}" for k, v in FAST.items()))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-pretrained", action="store_true",
                        help="leave out Zhang et al.'s released ECCV16 network (used when cached or downloadable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the frameworks' own logs")
    return parser


def _settings(args):
    settings = dict(DEFAULTS)
    if args.fast:
        settings.update(FAST)
    for key in settings:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    settings["seed"] = args.seed
    for key in ("epochs", "steps_per_epoch", "batch_size", "width", "train_crops", "val_crops"):
        if settings[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1; received {settings[key]}.")
    return settings


class _Clock:
    def __init__(self):
        self.start = time.time()

    def __call__(self, message):
        print(f"[{time.time() - self.start:6.1f}s] {message}", flush=True)


class _EpochLog:
    """A one-line-per-epoch progress report with the elapsed time (as a keras callback)."""

    def __new__(cls, clock, name, epochs):
        import keras

        class EpochLog(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_start = time.time()

            def on_epoch_end(self, epoch, logs=None):
                loss = (logs or {}).get("loss")
                loss_text = "" if loss is None else f" loss {loss:.4f}"
                left = (epochs - epoch - 1) * (time.time() - self.epoch_start)
                eta = f", about {left:.0f}s left for this model" if epoch + 1 < epochs else ""
                clock(f"  {name}: epoch {epoch + 1}/{epochs}{loss_text}{eta}")

        return EpochLog()


# Steps


def build_shards(out, settings, clock):
    import data_pipeline

    shards = out / "shards"
    for split, crops in (("train", settings["train_crops"]), ("validation", settings["val_crops"])):
        entry = data_pipeline.write_shards(
            f"samples:{split}", shards, image_size=settings["image_size"], crops_per_image=crops,
            seed=settings["seed"], overwrite=True, progress=True,
        )
        clock(f"shards: {split}: {entry['num_examples']} crops of {settings['image_size']}px in {shards}")
    return shards


def training_prior(shards, clock):
    import data_pipeline
    from data_pipeline.prior import stored_prior

    prior = stored_prior(shards, split="train")
    if prior is None:
        prior = data_pipeline.compute_prior(shards, split="train")
        clock("prior: counted the training ab over the 313 bins")
    else:
        clock("prior: reused from the shard manifest")
    return prior


def train(head, shards, prior, out, settings, clock):
    """Trains (or resumes, or reloads) one U-Net; returns the model."""
    import keras

    import data_pipeline
    from colorization.training import recipes

    name = f"unet_{head}"
    model_path = out / "models" / f"{name}.keras"
    done_path = out / "models" / f"{name}.json"
    recipe = recipes.report000_regression_vs_classification()[head].replace(
        batch_size=settings["batch_size"], epochs=settings["epochs"], learning_rate=settings["learning_rate"],
        alpha=settings["alpha"] if head == "classification" else 0.0,
    )
    record = {k: settings[k] for k in ("image_size", "batch_size", "epochs", "steps_per_epoch", "width",
                                       "learning_rate", "alpha", "seed", "train_crops")}
    record["recipe"] = recipe.name
    record["bias_from_prior"] = head == "classification"
    if model_path.exists() and done_path.exists() and json.loads(done_path.read_text()) == record:
        clock(f"{name}: already trained with these settings; loading {model_path}")
        return keras.saving.load_model(model_path, safe_mode=True)

    keras.utils.set_random_seed(settings["seed"] + (0 if head == "regression" else 1))
    size = settings["image_size"]
    model = recipe.build_model(input_shape=(size, size, 1), width=settings["width"])
    if head == "classification":
        from colorization.training.initializers import initialize_bias_from_prior

        initialize_bias_from_prior(model, prior)
    recipe.compile(model, prior=prior)
    dataset = data_pipeline.read_shards(
        shards, settings["batch_size"], shuffle=True, split="train", flip=True, repeat=True,
        drop_remainder=True, seed=settings["seed"],
    )
    backup = out / "checkpoints" / name
    clock(f"{name}: training {model.count_params():,} parameters, {settings['epochs']} epochs x "
          f"{settings['steps_per_epoch']} steps x batch {settings['batch_size']} (resumable from {backup})")
    model.fit(
        dataset,
        epochs=settings["epochs"],
        steps_per_epoch=settings["steps_per_epoch"],
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
            _EpochLog(clock, name, settings["epochs"]),
        ],
        shuffle=False,  # read_shards shuffles
        verbose=0,
    )
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    done_path.write_text(json.dumps(record, indent=2) + "\n")
    clock(f"{name}: saved {model_path}")
    return model


def evaluate_all(models, shards, settings, clock):
    import data_pipeline
    from colorization import metrics

    def data():
        return data_pipeline.read_shards(shards, 64, shuffle=False, split="validation")

    # `auc_rebalanced` weights pixels by the held-out crops' own colour distribution, which does
    # not depend on how many photos the (small) training prior was counted on.
    rows = {"grey baseline (ab = 0)": metrics.evaluate_grey_baseline(data())}
    for name, model in models.items():
        rows[name] = metrics.evaluate(model, data(), temperature=settings["temperature"])
    clock(f"evaluated {len(rows)} rows on {rows['grey baseline (ab = 0)']['num_images']} held-out crops")
    return rows


def release_cache_path():
    """Where Keras keeps the released ECCV16 file: `$KERAS_HOME/models/` or `~/.keras/models/`."""
    from colorization import weights as pretrained

    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return pathlib.Path(home) / pretrained.CACHE_SUBDIR / pretrained.RELEASES[RELEASE_NAME].filename


def _first_sentence(error):
    """The cause in an error message: its first line (the library's weight-file errors), or first sentence."""
    text = str(error).strip()
    if "\n" in text:
        return console.one_line(text.partition("\n")[0], limit=400)
    head, separator, _ = console.one_line(text, limit=400).partition(". ")
    return head + "." if separator else head


def load_release(clock):
    """Zhang et al.'s released ECCV16 network, or None after one line saying why it is left out.

    A file in the Keras cache is used after its checksum is verified; without
    one the release is downloaded into the cache. The model runs as the
    authors run it, at 256x256 (`colorize` and `metrics.evaluate` resize
    each photo or crop to it and upsample the predicted ab).
    """
    from colorization import weights as pretrained

    cached = release_cache_path()
    try:
        if cached.is_file():
            options = {} if VERIFY_RELEASE_CHECKSUM else {"verify": False}
            model = pretrained.load(RELEASE_NAME, path=cached, **options)
            origin = f"read from the Keras cache ({cached})"
        else:
            model = pretrained.load(RELEASE_NAME, cache_dir=str(cached.parents[1]))
            origin = f"downloaded into {cached.parent}"
    except ImportError as error:
        clock(f"skipped Zhang et al.'s released ECCV16 weights: {_first_sentence(error)}")
        return None
    except OSError as error:
        cause = error.__context__ or error  # the network's own words, without the library's advice
        clock(f"skipped Zhang et al.'s released ECCV16 weights: not in the Keras cache ({cached}) "
              f"and not downloadable ({_first_sentence(cause)})")
        return None
    except ValueError as error:
        clock(f"skipped Zhang et al.'s released ECCV16 weights: {_first_sentence(error)}")
        return None
    clock(f"{RELEASE_ROW}: {model.count_params():,} parameters, {origin}")
    return model


def held_out_photos(max_side=256):
    """The validation sample photographs as uint8 RGB, longer side <= max_side."""
    import numpy as np
    from PIL import Image

    from data_pipeline.sources import SamplePhotos

    photos = []
    source = SamplePhotos("validation")
    for photo_id, path in source.iter_range(0, len(source)):
        if not isinstance(path, (str, pathlib.Path)):
            continue  # a photo this installation does not ship
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            photos.append((photo_id, np.asarray(image)))
    return photos


def comparison_grid(models, path, settings, rows):
    """grey | one column per model | truth for each held-out photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from colorization.inference import colorize

    photos = held_out_photos(settings["grid_side"])
    if not photos:
        raise RuntimeError("none of the held-out sample photos is installed; cannot draw the comparison grid")
    images = [image for _, image in photos]
    greys = [colorize_grey(image) for image in images]
    columns = [("grey input", greys)]
    for name, model in models.items():
        columns.append((f"{name}\nAuC {rows[name]['auc']:.3f}, colourfulness {rows[name]['colorfulness']:.1f}",
                        colorize(model, images, temperature=settings["temperature"])))
    columns.append(("ground truth", images))
    fig, axes = plt.subplots(len(images), len(columns), figsize=(3.2 * len(columns), 3.0 * len(images)), squeeze=False)
    for c, (title, column) in enumerate(columns):
        for r, image in enumerate(column):
            axes[r, c].imshow(image)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(title, fontsize=9)
    for r, (photo_id, _) in enumerate(photos):
        axes[r, 0].set_ylabel(photo_id, fontsize=8)
    title = "Held-out photos: report 000's U-Net, regression vs classification (trained on the CPU)"
    if RELEASE_ROW in models:
        title += ", and Zhang et al.'s released ECCV16"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def colorize_grey(image):
    """The input as the models see it: CIELAB L only, shown as grey sRGB."""
    import numpy as np
    from keras import ops

    from colorization.color import lab_to_rgb_uint8
    from colorization.color import rgb_to_lab

    lab = ops.convert_to_numpy(rgb_to_lab(image))
    lab[..., 1:] = 0.0
    return np.asarray(ops.convert_to_numpy(lab_to_rgb_uint8(lab)))


def main(argv=None):
    """Runs the demo; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as error:
        console.error(str(error))
        return 2
    with console.framework_logs_hidden(args.verbose):
        return _run(args, settings)


def _run(args, settings):
    try:
        import data_pipeline  # noqa: F401
    except ImportError as error:
        console.error(f"the demo builds its data with the `data_pipeline` package, which cannot be imported: {error}")
        return 2

    clock = _Clock()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clock(f"demo: settings {json.dumps(settings)}")
    shards = build_shards(out, settings, clock)
    prior = training_prior(shards, clock)
    models = {f"unet_{head}": train(head, shards, prior, out, settings, clock) for head in HEADS}
    if args.no_pretrained:
        clock("skipped Zhang et al.'s released ECCV16 weights: --no-pretrained")
    else:
        release = load_release(clock)
        if release is not None:
            models[RELEASE_ROW] = release
    rows = evaluate_all(models, shards, settings, clock)
    grid = out / "comparison.png"
    comparison_grid(models, grid, settings, rows)
    clock(f"wrote {grid}")
    payload = {
        "settings": settings,
        "evaluated_on": "held-out sample photos (validation split), random crops",
        "results": reporting.json_safe_rows(rows),
        "wall_time_s": round(time.time() - clock.start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n")
    print()
    print(reporting.format_table(rows))
    print()
    print(f"Outputs in {out.resolve()}:")
    release_column = " | ECCV16 release" if RELEASE_ROW in models else ""
    print(f"  {grid.name}      grey | regression | classification{release_column} | truth on the held-out photos")
    print("  metrics.json        the table above, with the settings")
    print("  models/*.keras      the trained models; try:")
    print(f"    python -m colorization colorize IMAGE.jpg -o {out / 'colorized'} --model {out / 'models' / 'unet_classification.keras'}")
    clock("demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
