"""The demo: photos -> shards -> two trained U-Nets -> scores and a comparison grid.

    colorization demo [--out outputs/demo] [--epochs N] [--fast]

Report 000 in miniature, on the CPU, with no download:

1. Shards: random 64x64 crops of the photographs bundled with scikit-image,
   scikit-learn and matplotlib (`data_pipeline` source `samples`), written as
   CIELAB TFRecord shards of 128 (report 000, section 4.3). Train and
   validation are different photographs.
2. Prior: the training ab over the 313 bins, turned into the rebalancing
   weights `((1 - gamma) p + gamma / Q) ** -alpha` with report 000's
   alpha = 1.1 and Zhang's gamma = 0.5.
3. Training: report 000's U-Net (Table 1) with the recipes of section 5.5,
   once with the regression head (MSE) and once with the classification head
   (`RebalancedCrossEntropy`), Adam. The classification head's output bias
   starts at the log of the training prior (not a step of the report: with so
   few steps a uniform start decodes to a blue cast). Shrunk to CPU minutes:
   half of Table 1's width, few steps, and a learning rate of 2e-3 instead of
   the recipe's 1e-3.
4. Evaluation on the held-out crops: both models and the grey baseline
   (ab = 0): AuC of the ab-error CMF (raw and rebalanced), PSNR, SSIM and
   colourfulness (`colorization.metrics`).
5. Zhang et al.'s released ECCV16 network, when `--weights FILE.pth` names it
   or it is in the Keras cache (`$KERAS_HOME/models/`, else `~/.keras/models/`)
   or can be downloaded, and PyTorch is installed to read it: it adds a row
   and a column. Otherwise one line says why it is left out.
6. Outputs in `--out`: `comparison.png` (grey | regression | classification |
   [ECCV16 release |] truth on the full held-out photographs, colourised with
   `colorize`), `metrics.json`, the two models as `.keras` files.

Re-running resumes: finished shards are kept, the prior is read back from the
shard manifest, a model trained with the same settings is loaded, and an
interrupted training continues from its last epoch
(`keras.callbacks.BackupAndRestore`).

What it shows: nine training photographs and a minute or two of CPU teach
colour statistics, not semantics. Regression gives muted, sepia-like colour
(report 000, section 3.4), usually just above the grey baseline; the
rebalanced classification gives bolder colour with a cast that changes from
run to run (CPU training is not bit-reproducible), above or below grey as the
cast suits the held-out photos (section 5.5: rebalancing trades accuracy for
colourfulness). The demo prints, for each model, the metrics on which it
beats grey. `--fast` is a smoke test of the path, not a trained model.
"""

import argparse
import json
import os
import pathlib
import sys
import time

from colorization.constants import ZHANG_TEMPERATURE
from colorization_apps import console
from colorization_apps import reporting

DEFAULTS = {
    "image_size": 64,
    "train_crops": 32,
    "val_crops": 16,
    "batch_size": 16,
    "epochs": 5,
    "steps_per_epoch": 12,
    "width": 16,
    "learning_rate": 2e-3,
    "temperature": ZHANG_TEMPERATURE,
    "alpha": 1.1,
    "grid_side": 256,
}
FAST = {
    "train_crops": 16,
    "val_crops": 4,
    "epochs": 2,
    "steps_per_epoch": 4,
    "width": 8,
    "batch_size": 16,
    "grid_side": 128,
}
SETTING_HELP = {
    "epochs": "training epochs per model",
    "steps_per_epoch": "batches per epoch",
    "batch_size": "batch size",
    "width": "U-Net width; Table 1 is 32",
    "train_crops": "crops per training photo",
    "val_crops": "crops per held-out photo",
    "learning_rate": "Adam learning rate",
    "temperature": "annealed-mean T",
}
HEADS = ("regression", "classification")
RELEASE_NAME = "eccv16"
RELEASE_ROW = "eccv16_release (Zhang et al.)"
GREY_ROW = "grey baseline (ab = 0)"


def _parser():
    parser = argparse.ArgumentParser(
        prog="colorization demo",
        description="Train report 000's regression and classification U-Nets on the bundled "
        "photos and compare them.",
    )
    option = parser.add_argument
    option("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    for key, text in SETTING_HELP.items():
        default = DEFAULTS[key]
        option(f"--{key.replace('_', '-')}", type=type(default), help=f"{text} (default {default})")
    option(
        "--fast",
        action="store_true",
        help="a smoke run: " + ", ".join(f"{k}={v}" for k, v in FAST.items()),
    )
    option("--seed", type=int, default=0)
    option(
        "--no-pretrained",
        action="store_true",
        help="leave out Zhang et al.'s released ECCV16 network",
    )
    option(
        "--weights",
        metavar="FILE.pth",
        help="the released ECCV16 weights file to use instead of the Keras cache",
    )
    option(
        "--no-verify",
        action="store_true",
        help="skip the SHA-256 check of the ECCV16 weights file (for a state dict of your own)",
    )
    option("-v", "--verbose", action="store_true", help="show the frameworks' own logs")
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
            raise ValueError(
                f"--{key.replace('_', '-')} must be >= 1. Received: {key}={settings[key]}"
            )
    if args.weights and not pathlib.Path(args.weights).is_file():
        raise ValueError(f"weights file not found: {args.weights}")
    return settings


class _Clock:
    """Prints each message with the seconds since the demo started."""

    def __init__(self):
        self.start = time.time()

    def __call__(self, message):
        print(f"[{time.time() - self.start:6.1f}s] {message}", flush=True)


def _epoch_log(clock, name, epochs):
    """A Keras callback printing one line per epoch: the loss and the time left for this model."""
    import keras

    started = {}

    def on_epoch_end(epoch, logs):
        loss = (logs or {}).get("loss")
        loss_text = "" if loss is None else f" loss {loss:.4f}"
        left = (epochs - epoch - 1) * (time.time() - started["epoch"])
        eta = (
            f", about {console.format_duration(left)} left for this model"
            if epoch + 1 < epochs
            else ""
        )
        clock(f"  {name}: epoch {epoch + 1}/{epochs}{loss_text}{eta}")

    return keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: started.update(epoch=time.time()),
        on_epoch_end=on_epoch_end,
    )


# Steps


def build_shards(out, settings, clock):
    import data_pipeline

    shards = out / "shards"
    for split, crops in (("train", settings["train_crops"]), ("validation", settings["val_crops"])):
        entry = data_pipeline.write_shards(
            f"samples:{split}",
            shards,
            image_size=settings["image_size"],
            crops_per_image=crops,
            seed=settings["seed"],
            overwrite=True,
            progress=True,
        )
        clock(f"shards: {split}: {entry['num_examples']} crops of {settings['image_size']}px")
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
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        learning_rate=settings["learning_rate"],
        alpha=settings["alpha"] if head == "classification" else 0.0,
    )
    record = {
        k: settings[k]
        for k in (
            "image_size",
            "batch_size",
            "epochs",
            "steps_per_epoch",
            "width",
            "learning_rate",
            "alpha",
            "seed",
            "train_crops",
        )
    }
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
        shards,
        settings["batch_size"],
        shuffle=True,
        split="train",
        flip=True,
        repeat=True,
        drop_remainder=True,
        seed=settings["seed"],
    )
    backup = out / "checkpoints" / name
    clock(
        f"{name}: training {model.count_params():,} parameters, {settings['epochs']} epochs x "
        f"{settings['steps_per_epoch']} steps x batch {settings['batch_size']} "
        f"(resumable from {backup})"
    )
    model.fit(
        dataset,
        epochs=settings["epochs"],
        steps_per_epoch=settings["steps_per_epoch"],
        callbacks=[
            keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
            _epoch_log(clock, name, settings["epochs"]),
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
    rows = {GREY_ROW: metrics.evaluate_grey_baseline(data())}
    for name, model in models.items():
        rows[name] = metrics.evaluate(model, data(), temperature=settings["temperature"])
    clock(f"evaluated {len(rows)} rows on {rows[GREY_ROW]['num_images']} held-out crops")
    return rows


def release_cache_path():
    """Where Keras keeps the released ECCV16 file: `$KERAS_HOME/models/` or `~/.keras/models/`."""
    from colorization import weights

    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return pathlib.Path(home) / weights.CACHE_SUBDIR / weights.PRESETS[RELEASE_NAME].filename


def _first_sentence(error):
    """The cause in an error message: its first line, or its first sentence."""
    text = str(error).strip()
    if "\n" in text:
        return console.one_line(text.partition("\n")[0], limit=400)
    head, separator, _ = console.one_line(text, limit=400).partition(". ")
    return head + "." if separator else head


def load_release(clock, path=None, verify=True):
    """Zhang et al.'s released ECCV16 network, or None after one line saying why it is left out.

    Args:
        clock: prints a progress line.
        path: the weights file; default the Keras cache's copy, downloaded
            into the cache when absent.
        verify: check the file's SHA-256 against the release's.

    Returns:
        the Keras model, which runs at 256x256 as the authors run it
        (`colorize` and `metrics.evaluate` resize to it), or None.
    """
    from colorization import weights

    skipped = "skipped Zhang et al.'s released ECCV16 weights: "
    cached = release_cache_path()
    try:
        if path is not None or cached.is_file():
            path = cached if path is None else pathlib.Path(path)
            model = weights.load(RELEASE_NAME, path=path, verify=verify)
            origin = (
                f"read from the Keras cache ({cached})" if path == cached else f"read from {path}"
            )
        else:
            model = weights.load(RELEASE_NAME, cache_dir=str(cached.parents[1]))
            origin = f"downloaded into {cached.parent}"
    except (ImportError, ValueError) as error:
        clock(skipped + _first_sentence(error))
        return None
    except OSError as error:
        cause = error.__context__ or error  # the network's own words, without the library's advice
        clock(
            f"{skipped}not in the Keras cache ({cached}) and not downloadable "
            f"({_first_sentence(cause)})"
        )
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
        raise RuntimeError(
            "none of the held-out sample photos is installed; cannot draw the comparison grid"
        )
    images = [image for _, image in photos]
    greys = [colorize_grey(image) for image in images]
    columns = [("grey input", greys)]
    for name, model in models.items():
        columns.append(
            (
                f"{name}\nAuC {rows[name]['auc']:.3f}, "
                f"colourfulness {rows[name]['colorfulness']:.1f}",
                colorize(model, images, temperature=settings["temperature"]),
            )
        )
    columns.append(("ground truth", images))
    fig, axes = plt.subplots(
        len(images), len(columns), figsize=(3.2 * len(columns), 3.0 * len(images)), squeeze=False
    )
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
    from keras import ops

    from colorization.color import l_ab_to_rgb_uint8
    from colorization.color import rgb_to_lab

    L = rgb_to_lab(image)[..., :1]
    return l_ab_to_rgb_uint8(L, ops.zeros(L.shape[:-1] + (2,)))


def _against_grey(name, rows, metrics=("auc", "auc_rebalanced", "psnr", "ssim")):
    """One line: the metrics on which model `name` beats the grey baseline (higher is better)."""
    grey = rows[GREY_ROW]
    better = [m for m in metrics if rows[name].get(m) is not None and rows[name][m] > grey[m]]
    worse = [m for m in metrics if m not in better]
    verdict = f"beats the grey baseline on {', '.join(better) or 'no metric'}"
    return f"{name}: {verdict}" + (f"; not on {', '.join(worse)}" if worse and better else "")


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
        console.error(
            f"the demo builds its data with `data_pipeline`, which cannot be imported: {error}"
        )
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
        release = load_release(clock, args.weights, verify=not args.no_verify)
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
    for name in models:
        print(_against_grey(name, rows))
    print(
        "Trained for a minute or two on nine photographs, the U-Nets learn colour statistics,\n"
        "not semantics. Regression gives muted colour close to grey; the rebalanced\n"
        "classification gives bolder colour with a cast that changes from run to run, and scores\n"
        "above or below grey as the cast suits the held-out photos or not (report 000, section\n"
        "5.5: rebalancing trades accuracy for colourfulness). A real model needs the notebooks'\n"
        "settings on a GPU."
    )
    print()
    print(f"Outputs in {out.resolve()}:")
    release_column = " | ECCV16 release" if RELEASE_ROW in models else ""
    print(
        f"  {grid.name}      held-out photos: grey | regression | classification"
        f"{release_column} | truth"
    )
    print("  metrics.json        the table above, with the settings")
    print("  models/*.keras      the trained models; try:")
    print(
        f"    colorize IMAGE.jpg -o {out / 'colorized'} "
        f"--model {out / 'models' / 'unet_classification.keras'}"
    )
    clock("demo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())
