# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Report 000: the U-Net, regression vs classification
#
# Report 000 ("Evaluation of Image Colourization Approaches") colourises 64x64
# ImageNet images with the U-Net of its Table 1, as regression (MSE on ab) and
# as classification over Zhang et al.'s 313 ab buckets, and judges four
# experiments by eye (sections 5.2-5.5): SGD vs Adam, four bucket weightings,
# the annealed-mean temperature, and regression vs classification. Here each of
# its claims gets a number measured on **validation photos no model trained
# on**, from what a user gets (`predict_ab`, inference mode), with a 95%
# bootstrap interval over the photos and a verdict computed by one stated rule.
#
# **Three modes** (`notebook_support.evidence.notebook_mode()`):
#
# - `SMOKE=1` (CI): a handful of photos at 32x32, a tiny U-Net, a few steps.
#   Every cell runs and the results file is written; the numbers mean nothing.
# - `MODE=cpu`: the fixed split of `../shared/photos/imagenet-800` (about 660
#   training and 112 validation colour photos; the counts are printed below),
#   64x64 as in the report, the U-Net at a quarter of its width, 4 epochs per
#   model; six models in under 12 minutes on a quiet 2-core CPU. The settings
#   and the measured time are printed below.
# - default (full): the report's settings for a GPU: TFDS
#   `imagenet_resized/64x64` (the first 50,000 training images for
#   regression, the first 30,000 for classification; the data must already be
#   in the TFDS data folder, the GPU machine has no network), batch 64, 55
#   epochs, Table 1's U-Net at full width; the claims are measured on the same
#   112 validation photos.
#
# **Expected cost of the full mode on one H200-class GPU** (arithmetic; not run).
#
# - Parameters: 3,325,730 (regression) / 3,335,993 (classification head, Q =
#   313): 13 MB of float32 weights, 40 MB with Adam's two moments.
# - Compute: summing `H x W x k^2 x C_in x C_out` over the convolutions (the
#   transposed ones over their input grid) gives 0.86 GMAC (regression) /
#   0.90 GMAC (classification) per 64x64 image, i.e. ~1.8 GFLOP forward and
#   ~5.3 GFLOP per training image (backward ~2x forward). Regression: 2 models
#   x 50,000 x 55 epochs x 5.2 GFLOP = 29 PFLOP; classification: 4 models x
#   30,000 x 55 x 5.4 GFLOP = 36 PFLOP; together ~65 PFLOP. Such small
#   convolutions keep an H200 far below its peak; at a sustained 20-40 TFLOP/s
#   (float32/TF32) that is 27-54 minutes. Steps: 2 x 782 x 55 + 4 x 469 x 55 =
#   189,000; at a floor of ~5 ms per step (launch-bound) no less than ~16
#   minutes. Expect **about 30-60 minutes of training**, plus writing the
#   shards of 80,000 images (a few minutes on 16 cores) and the evaluation:
#   seconds of GPU, then ~10-15 minutes of single-threaded NumPy for the 1,000
#   bootstrap resamples of the pooled AuCs (~22,000 evaluations of about 30 ms
#   each; the time of one is printed at the end).
# - Memory: activations 2.7 M floats per image for regression, 5.2 M for
#   classification (of which 1.28 M is the 64 x 64 x 313 output), so 0.7 / 1.3
#   GB per batch of 64, plus the loss's copies of the (64, 64, 64, 313)
#   probabilities (328 MB each): **a few GB of the GPU's 141 GB**.
# - Big tensors: the probabilities of N photos are (N, 64, 64, 313) float32,
#   5.1 MB per photo: the old notebook held 5,000 test images' at once (25.6
#   GB, plus the annealed mean's temporaries). Here every prediction goes
#   through `predict_ab` in chunks of 32 photos (164 MB), and only ab (32 KB
#   per photo) is kept.

# %% [markdown]
# ## Setup

# %%
# %matplotlib inline
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

import data_pipeline
from colorization.color import lab_to_rgb_uint8
from colorization.inference import predict_ab
from colorization.quantization import default_ab_bins
from colorization.quantization import rebalancing_weights
from colorization.training import recipes
from data_pipeline import sources
from notebook_support import evidence
from notebook_support import photo_split
from notebook_support.visualization import to_rgb

NOTEBOOK = "01_unet_regression_vs_classification"
MODE = evidence.notebook_mode()
started = time.time()
keras.utils.set_random_seed(0)

# train_epochs counts passes over the training examples (one crop per photo
# unless train_crops > 1); evaluation runs on every validation photo.
CONFIGS = {
    "smoke": dict(
        image_size=32,
        width=4,
        batch_size=8,
        train_epochs=2,
        train_limit=16,
        validation_limit=8,
        train_crops=1,
        pooled_resamples=20,
        resamples=100,
    ),
    "cpu": dict(
        image_size=64,
        width=8,
        batch_size=32,
        train_epochs=4,
        train_limit=None,
        validation_limit=None,
        train_crops=1,
        pooled_resamples=200,
        resamples=1000,
    ),
    "full": dict(
        image_size=64,
        width=32,
        batch_size=recipes.REPORT000_BATCH_SIZE,
        train_epochs=recipes.REPORT000_EPOCHS,
        regression_images=50_000,
        classification_images=30_000,
        validation_limit=None,
        train_crops=1,
        pooled_resamples=1000,
        resamples=1000,
    ),
}
CONFIG = CONFIGS[MODE]
PREDICT_CHUNK = 32  # photos per predict_ab call: a classification output is 5.1 MB per 64x64 photo
DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook01_"))
print(f"MODE={MODE}", CONFIG)

# %% [markdown]
# ## Data
#
# `photo_split` splits `imagenet-800` (800 ImageNet photos, one per class) by
# sorted file name: every 7th photo is a validation photo, so its class is
# never trained on; greyscale photos are skipped. Both splits go through the
# library's shard builder: one centre crop of the short side, resized to 64x64
# (the report's size). Training reads the shards with random horizontal flips
# (Zhang et al.'s augmentation; the report states none). The colour prior for
# the bucket weights is counted on the training photos
# (`data_pipeline.compute_prior`, Zhang's Gaussian smoothing, sigma 5).

# %%
size = CONFIG["image_size"]
PHOTOS = photo_split.find_photo_folder()
if MODE == "full":
    name = "imagenet_resized/64x64"
    train_sources = {
        "regression": sources.first_n(
            sources.tfds(name, split="train"), CONFIG["regression_images"], "train50k"
        ),
        "classification": sources.first_n(
            sources.tfds(name, split="train"), CONFIG["classification_images"], "train30k"
        ),
    }
elif PHOTOS is not None:
    train_source = photo_split.photo_source("train", limit=CONFIG["train_limit"])
    train_sources = {"regression": train_source, "classification": train_source}
else:
    print(
        f"no photos in {photo_split.default_photo_folder()}: SMOKE falls back to the photos "
        "bundled with packages"
    )
    train_sources = {
        "regression": sources.sample_photos("train"),
        "classification": sources.sample_photos("train"),
    }

TRAIN_SPLITS = {}
for head, source in train_sources.items():
    split = source.split
    if split not in TRAIN_SPLITS.values():
        crops = CONFIG["train_crops"]
        data_pipeline.write_shards(
            source,
            DATA,
            image_size=size,
            split=split,
            crops_per_image=crops,
            crop="random" if crops > 1 else None,
            crop_scale=(0.5, 1.0),
        )
    TRAIN_SPLITS[head] = split
manifest = data_pipeline.load_manifest(DATA)
TRAIN_EXAMPLES = {
    head: manifest["splits"][split]["num_examples"] for head, split in TRAIN_SPLITS.items()
}

if PHOTOS is not None:
    L_val, ab_val, val_ids = photo_split.load_split(
        "validation", size, limit=CONFIG["validation_limit"], shard_dir=DATA / "validation"
    )
else:
    data_pipeline.write_shards(
        sources.sample_photos("validation"), DATA / "validation", image_size=size
    )
    batches = list(data_pipeline.read_shards(DATA / "validation", 256, shuffle=False))
    L_val, ab_val = (np.concatenate([np.asarray(batch[i]) for batch in batches]) for i in (0, 1))
    val_ids = [f"sample {i}" for i in range(len(L_val))]

PRIOR = data_pipeline.compute_prior(DATA, split=TRAIN_SPLITS["classification"])
for head, split in TRAIN_SPLITS.items():
    print(f"{head} training: {TRAIN_EXAMPLES[head]} {size}x{size} examples ({split})")
print(
    f"validation: {len(L_val)} photos, first {val_ids[0]}; data ready after "
    f"{time.time() - started:.0f}s"
)

# A fixed handful of validation photos for the figures.
SHOWN = np.linspace(0, len(L_val) - 1, 6).round().astype(int)

# %% [markdown]
# ### Deviations from the report in `MODE=cpu`, and why
#
# All of them make six models fit in about 12 minutes of a 2-core CPU.
#
# - **Data**: the ~660 training photos (one centre crop each, random flips) for
#   every model, instead of 50,000 (regression) and 30,000 (classification)
#   Tiny-ImageNet-like images; the claims are judged on 112 validation photos
#   of held-out classes instead of the report's unnamed test set.
# - **Network**: Table 1's U-Net at a quarter of its channels (`width=8`:
#   8-16-32-64 instead of 32-64-128-256; ~0.21 M parameters instead of 3.3 M).
# - **Schedule**: 4 epochs (80 steps) of batch 32 per model instead of 55
#   epochs of batch 64; the smaller batch gives more updates from few photos.
# - **5.4** decodes the alpha = 1.1 model of 5.3 instead of retraining it for
#   50 epochs, and adds Zhang's T = 0.38 to the report's linear sweep.
# - **Left open by the report, chosen by the recipes**: the learning rates
#   (Adam 1e-3, SGD 1e-5), alphas 0.5 and 0.8, gamma 0.5.
# - **Judgement**: numbers (AuC, rebalanced AuC, PSNR, colourfulness) with a
#   bootstrap rule instead of the authors' eyes.
#
# In full mode the first four are the report's; the validation photos stay the
# 112 of imagenet-800, whose classes `imagenet_resized` does contain (its
# training split covers all 1,000 classes), so there they are unseen photos
# but not unseen classes.

# %% [markdown]
# ### How the verdicts are computed
#
# Every model colours the validation photos through `predict_ab` (inference
# mode; classification decoded with the annealed mean, Zhang's T = 0.38 unless
# a temperature is swept). `evidence.PhotoScores` keeps per photo: PSNR and
# SSIM on RGB, the colourfulness of Hasler & Suesstrunk (2003), and the ab
# error histograms from which the pooled AuC (Zhang et al.'s Table 1 metric,
# thresholds 0-150) and the rebalanced AuC (each colour class weighted by the
# inverse of the evaluated pixels' own smoothed frequency) of any resample of
# the photos are exact.
#
# **The rule.** A claim that A beats B becomes the difference A - B over the
# 112 validation photos with its 95% bootstrap interval (the photos resampled
# with replacement, the same resample for both models): **supported** when the
# interval lies entirely on the claimed side of zero, **not supported** when it
# lies entirely on the other side, **inconclusive at this scale** when it
# contains zero (`evidence.verdict_for_difference`). A claim that one setting
# is the *best* of several becomes a difference too: its metric minus the best
# of the others, in each resample; we also print the fraction of resamples in
# which it is best. Per-photo metrics use 1,000 resamples; the pooled AuCs use
# fewer in cpu mode (printed above), because each resample recomputes them
# from all the histograms (the time of one is printed at the end). The bootstrap measures how much a
# result depends on which photos were judged, not how much it would move with
# another training seed; there is one seed per model.

# %%
RNG_WEIGHTS = {}


def resample_weights(count):
    """The bootstrap's photo weights, one row per resample, drawn as `evidence.compare` draws them
    (seed 0)."""
    key = (len(L_val), count)
    if key not in RNG_WEIGHTS:
        draws = np.random.default_rng(0).integers(0, len(L_val), size=(count, len(L_val)))
        RNG_WEIGHTS[key] = [np.bincount(row, minlength=len(L_val)) for row in draws]
    return RNG_WEIGHTS[key]


def resamples_for(metric):
    return CONFIG["pooled_resamples"] if metric in evidence.POOLED_METRICS else CONFIG["resamples"]


RESAMPLED = {}


def resampled(scores, metric):
    """The metric in each bootstrap resample (cached per scores object)."""
    key = (id(scores), metric)
    if key not in RESAMPLED:
        RESAMPLED[key] = np.array(
            [scores.metric(metric, w) for w in resample_weights(resamples_for(metric))]
        )
    return RESAMPLED[key]


def compare(a, b, metric):
    return evidence.compare(a, b, metric, resamples=resamples_for(metric), seed=0)


def margin_over_rest(candidates, chosen, metric):
    """How much `chosen` beats the best of the other candidates on `metric`, on all photos and per
    resample."""
    others = [name for name in candidates if name not in chosen]
    full = max(candidates[n].metric(metric) for n in chosen) - max(
        candidates[n].metric(metric) for n in others
    )
    per_resample = np.max([resampled(candidates[n], metric) for n in chosen], axis=0) - np.max(
        [resampled(candidates[n], metric) for n in others], axis=0
    )
    low, high = np.percentile(per_resample, [2.5, 97.5])
    return {
        "margin": full,
        "low": float(low),
        "high": float(high),
        "fraction_best": float(np.mean(per_resample > 0)),
    }


def predict(model, L, temperature=recipes.ZHANG_TEMPERATURE):
    """`predict_ab` in chunks of photos, so no (N, H, W, 313) array of all the photos is ever
    built."""
    return np.concatenate(
        [
            predict_ab(model, L[i : i + PREDICT_CHUNK], temperature=temperature)
            for i in range(0, len(L), PREDICT_CHUNK)
        ]
    )


def train(recipe):
    """Builds, compiles and fits a recipe at this mode's width and epochs; returns (model, history,
    seconds)."""
    recipe = recipe.replace(batch_size=CONFIG["batch_size"], epochs=CONFIG["train_epochs"])
    model = recipe.build_model(input_shape=(size, size, 1), width=CONFIG["width"])
    recipe.compile(model, prior=PRIOR if recipe.alpha else None)
    split = TRAIN_SPLITS[recipe.head]
    steps = max(1, TRAIN_EXAMPLES[recipe.head] // recipe.batch_size)
    dataset = data_pipeline.read_shards(
        DATA,
        recipe.batch_size,
        shuffle=True,
        split=split,
        flip=True,
        repeat=True,
        drop_remainder=True,
        seed=0,
    )
    # The regression loss on the validation photos per epoch is cheap (112 forward passes); the
    # classification loss would be too, but the claims use predictions, not the loss.
    validation = (L_val, ab_val) if recipe.head == "regression" else None
    t0 = time.time()
    history = model.fit(
        dataset,
        epochs=recipe.epochs,
        steps_per_epoch=steps,
        validation_data=validation,
        verbose=0,
    ).history
    seconds = time.time() - t0
    print(
        f"{recipe.name}: {recipe.epochs} epochs x {steps} steps x batch {recipe.batch_size} in "
        f"{seconds:.0f}s; training loss {history['loss'][0]:.4g} -> {history['loss'][-1]:.4g}"
    )
    return model, history, seconds


def show_grid(predictions, title):
    """Validation photos in rows; columns grey | each model | truth."""
    columns = {"grey": to_rgb(L_val[SHOWN], 0 * ab_val[SHOWN])}
    columns.update({name: to_rgb(L_val[SHOWN], ab[SHOWN]) for name, ab in predictions.items()})
    columns["truth"] = to_rgb(L_val[SHOWN], ab_val[SHOWN])
    fig, axes = plt.subplots(
        len(SHOWN), len(columns), figsize=(1.5 * len(columns), 1.5 * len(SHOWN)), squeeze=False
    )
    for c, (name, images) in enumerate(columns.items()):
        for r in range(len(SHOWN)):
            axes[r, c].imshow(images[r])
            axes[r, c].axis("off")
        axes[0, c].set_title(name, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


def table(rows, names=evidence.METRICS):
    print(f"{'':<18}" + "".join(f"{name:>18}" for name in names))
    for label, scores in rows.items():
        print(f"{label:<18}" + "".join(f"{scores.metric(name):>18.4f}" for name in names))


TRAIN_SECONDS = {}
claims = evidence.Claims(
    NOTEBOOK,
    MODE,
    train_photos=TRAIN_EXAMPLES["regression"],
    validation_photos=len(L_val),
    image_size=size,
    width=CONFIG["width"],
    train_epochs=CONFIG["train_epochs"],
    batch_size=CONFIG["batch_size"],
)
grey_scores = evidence.PhotoScores(L_val, ab_val, np.zeros_like(ab_val))
print("grey (ab = 0):", {k: round(v, 4) for k, v in grey_scores.summary().items()})

# %% [markdown]
# ## 5.2 Regression: SGD vs Adam
#
# The report trains the regression U-Net twice, SGD and Adam, same data and
# epochs (50,000 images, batch 64, 55 epochs), and concludes from its figure 3
# that "Adam outperforms SGD". The learning rates are not stated:
# `recipes.report000_optimizers` uses Adam 1e-3 and plain SGD 1e-5 (the MSE is
# in Lab units, so its gradients are ~110^2 those of an MSE on normalised ab).
# Here both train for the same number of steps; we compare AuC and PSNR of
# their validation predictions. The loss curves show the training loss and the
# validation-photo MSE after each epoch.

# %%
regression_models, regression_histories, predictions, scores = {}, {}, {}, {}
for key, recipe in recipes.report000_optimizers().items():
    regression_models[key], regression_histories[key], TRAIN_SECONDS[key] = train(recipe)
    predictions[key] = predict(regression_models[key], L_val)
    scores[key] = evidence.PhotoScores(L_val, ab_val, predictions[key])

fig, ax = plt.subplots(figsize=(5, 3))
for key, history in regression_histories.items():
    epochs = np.arange(1, len(history["loss"]) + 1)
    (line,) = ax.plot(epochs, history["loss"], "o-", label=f"{key}: training loss")
    ax.plot(
        epochs,
        history["val_loss"],
        "s--",
        color=line.get_color(),
        label=f"{key}: validation photos",
    )
(
    ax.set_xlabel("epoch"),
    ax.set_ylabel("MSE (Lab units)"),
    ax.set_yscale("log"),
    ax.legend(fontsize=7),
)
ax.set_title("SGD vs Adam, regression (report 000, figure 3)", fontsize=9)
plt.show()

table({key: scores[key] for key in ("sgd", "adam")} | {"grey": grey_scores})
show_grid(
    {key: predictions[key] for key in ("sgd", "adam")},
    "5.2: regression with SGD and Adam (validation photos)",
)

for metric in ("auc", "psnr"):
    claims.add_comparison(
        "000",
        f"Adam outperforms SGD (same network, data and steps): {metric}",
        "Adam better, judged by eye (figure 3)",
        compare(scores["adam"], scores["sgd"], metric),
        names=(f"adam_{metric}", f"sgd_{metric}"),
        expected_sign=+1,
        why=f"{metric} of Adam minus SGD on the validation photos",
    )

# %% [markdown]
# ## 5.3 Bucketed colour weights
#
# The classification U-Net predicts a distribution over Q = 313 ab buckets and
# is trained with the cross-entropy weighted per bucket by
# `w = ((1 - gamma) p + gamma / Q) ** -alpha` (report section 4.2, Zhang et al.
# eq. 4), p the smoothed prior of the training colours. Four settings: uniform
# weights and three alphas "with an increasing discrepancy between common and
# uncommon buckets"; the report names only the best, alpha = 1.1; 0.5, 0.8
# and gamma = 0.5 are `recipes.report000_bucket_weights`'s choices. The report
# sees "less defensive colouring as we let the weights go towards more extreme
# values" and finds alpha = 1.1 best.
#
# What we measure: colourfulness (boldness) and rebalanced AuC (rare colours
# recovered) against alpha. The trend's verdict: alpha = 1.1 minus uniform,
# colourfulness (expected +). "alpha = 1.1 best": its rebalanced AuC minus the
# best of the other three, per resample (the rule above). First the weights
# over the ab plane (the report's figure 1), from the training photos' prior:

# %%
bucket_recipes = recipes.report000_bucket_weights()
bins = default_ab_bins()
fig, axes = plt.subplots(1, len(bucket_recipes) + 1, figsize=(2.8 * (len(bucket_recipes) + 1), 2.8))
bin_colours = ops.convert_to_numpy(
    lab_to_rgb_uint8(np.concatenate([np.full((len(bins), 1), 60.0), bins], -1))
)
axes[0].scatter(
    bins[:, 1], bins[:, 0], c=bin_colours / 255.0, s=2 + 40 * PRIOR / PRIOR.max(), marker="s"
)
axes[0].set_title("prior p (area)", fontsize=9)
for ax, (key, recipe) in zip(axes[1:], bucket_recipes.items()):
    weights = (
        np.ones(len(bins))
        if recipe.alpha == 0
        else rebalancing_weights(PRIOR, alpha=recipe.alpha, gamma=recipe.gamma)
    )
    image = ax.scatter(
        bins[:, 1],
        bins[:, 0],
        c=np.log10(weights),
        cmap="viridis",
        marker="s",
        s=10,
        vmin=-1.5,
        vmax=1.5,
    )
    ax.set_title(f"{key}: log10 w\n(max/min {weights.max() / weights.min():.0f})", fontsize=9)
for ax in axes:
    ax.set_xlabel("b"), ax.invert_yaxis(), ax.set_aspect("equal")
axes[0].set_ylabel("a")
fig.colorbar(image, ax=axes[-1], fraction=0.05)
fig.suptitle("Colour buckets and their weights (report 000, figure 1)", fontsize=10)
plt.show()

# %%
bucket_models, bucket_histories = {}, {}
for key, recipe in bucket_recipes.items():
    bucket_models[key], bucket_histories[key], TRAIN_SECONDS[key] = train(recipe)
    predictions[key] = predict(bucket_models[key], L_val)
    scores[key] = evidence.PhotoScores(L_val, ab_val, predictions[key])
table({key: scores[key] for key in bucket_recipes})
show_grid(
    {key: predictions[key] for key in bucket_recipes},
    "5.3: bucket weightings, T = 0.38 (report figure 4)",
)

alphas = [recipe.alpha for recipe in bucket_recipes.values()]
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
for key, history in bucket_histories.items():
    axes[0].plot(np.arange(1, len(history["loss"]) + 1), history["loss"], "o-", label=key)
(
    axes[0].set_xlabel("epoch"),
    axes[0].set_ylabel("weighted cross-entropy"),
    axes[0].legend(fontsize=7),
)
axes[0].set_title("training loss", fontsize=9)
for ax, metric in zip(axes[1:], ("colorfulness", "auc_rebalanced")):
    values = [scores[key].metric(metric) for key in bucket_recipes]
    low, high = np.percentile(
        [resampled(scores[key], metric) for key in bucket_recipes], [2.5, 97.5], axis=1
    )
    ax.errorbar(
        alphas,
        values,
        yerr=[np.subtract(values, low), np.subtract(high, values)],
        fmt="o-",
        capsize=3,
    )
    (
        ax.set_xlabel("alpha (0 = uniform)"),
        ax.set_title(f"{metric} (95% bootstrap interval)", fontsize=9),
    )
axes[1].axhline(scores["uniform"].metric("colorfulness_true"), color="grey", ls=":", label="truth")
axes[1].legend(fontsize=7)
plt.show()

claims.add_comparison(
    "000",
    "colouring becomes less defensive (bolder) as the bucket weights become more extreme",
    "bolder colour with more extreme weights, judged by eye (figure 4)",
    compare(scores["alpha=1.1"], scores["uniform"], "colorfulness"),
    names=("alpha1.1_colorfulness", "uniform_colorfulness"),
    expected_sign=+1,
    why="colourfulness of alpha = 1.1 minus uniform weights",
)
best_alpha = margin_over_rest(
    {key: scores[key] for key in bucket_recipes}, ["alpha=1.1"], "auc_rebalanced"
)
claims.add_verdict(
    "000",
    "alpha = 1.1 gives the best results of the four weightings",
    "alpha = 1.1 best, judged by eye",
    {f"{key}_auc_rebalanced": scores[key].metric("auc_rebalanced") for key in bucket_recipes}
    | {
        "margin_over_best_other": best_alpha["margin"],
        "margin_low": best_alpha["low"],
        "margin_high": best_alpha["high"],
        "fraction_of_resamples_best": best_alpha["fraction_best"],
    },
    evidence.verdict_for_difference(best_alpha["low"], best_alpha["high"], +1),
    why=(
        "rebalanced AuC of alpha = 1.1 minus the best of the other three weightings (alpha = 1.1 "
        f"best in {100 * best_alpha['fraction_best']:.0f}% of the resamples)"
    ),
)

# %% [markdown]
# ## 5.4 Temperature
#
# The annealed mean `f_T(z) = exp(log z / T) / sum_q exp(log z_q / T)`, then the
# mean bucket colour (section 4.2.1; Zhang et al. eq. 5): T -> 0 is the mode
# (distinct colours), T = 1 the mean ("washed-out"). The report sweeps T
# linearly from ~0 to 1 on its alpha = 1.1 model retrained for 50 epochs and
# finds a good value in 0.23 < T < 0.40, as Zhang et al. did. Here: the
# alpha = 1.1 model of 5.3 (no fifth classification model), decoded at
# `recipes.report000_temperature_sweep()`'s 11 temperatures plus Zhang's 0.38.
#
# Two claims: colourfulness falls as T rises (lowest T minus T = 1, expected +);
# the best T lies in (0.23, 0.40): by the rebalanced AuC, the best temperature
# inside the range minus the best outside it, per resample. We also give the
# argmax and its 95% bootstrap range. The report's range is a visual
# judgement; an error-based metric such as the AuC rewards the distribution's
# mean (T = 1) whenever the model is unsure, so this measures where the metric
# peaks, not where the colours look best.

# %%
_, sweep = recipes.report000_temperature_sweep()
temperatures = np.unique(np.round(np.append(sweep, recipes.ZHANG_TEMPERATURE), 4))
model_54 = bucket_models["alpha=1.1"]
temperature_scores, temperature_predictions = {}, {}
for T in temperatures:
    if np.isclose(T, recipes.ZHANG_TEMPERATURE):
        temperature_predictions[T], temperature_scores[T] = (
            predictions["alpha=1.1"],
            scores["alpha=1.1"],
        )
    else:
        temperature_predictions[T] = predict(model_54, L_val, temperature=float(T))
        temperature_scores[T] = evidence.PhotoScores(L_val, ab_val, temperature_predictions[T])
table(
    {f"T={T:.3f}": s for T, s in temperature_scores.items()},
    ("auc", "auc_rebalanced", "psnr", "colorfulness"),
)

fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
for ax, metric in zip(axes, ("colorfulness", "auc_rebalanced", "auc", "psnr")):
    ax.plot(temperatures, [s.metric(metric) for s in temperature_scores.values()], "o-")
    ax.axvspan(0.23, 0.40, color="orange", alpha=0.2, label="report: 0.23 < T < 0.40")
    ax.set_xlabel("T"), ax.set_title(metric, fontsize=9)
axes[0].axhline(
    scores["alpha=1.1"].metric("colorfulness_true"), color="grey", ls=":", label="truth"
)
axes[0].legend(fontsize=7)
plt.show()

strip = [temperatures[i] for i in np.linspace(0, len(temperatures) - 1, 6).round().astype(int)]
show_grid(
    {f"T={T:.2f}": temperature_predictions[T] for T in strip},
    "5.4: the temperature (report figure 5)",
)

lowest, highest = temperatures[0], temperatures[-1]
claims.add_comparison(
    "000",
    "at low T the colours are more distinct, at high T washed out",
    "colour fades from T -> 0 to T = 1 (figure 5)",
    compare(temperature_scores[lowest], temperature_scores[highest], "colorfulness"),
    names=(f"T{lowest:g}_colorfulness", f"T{highest:g}_colorfulness"),
    expected_sign=+1,
    why=f"colourfulness at T = {lowest:g} minus T = {highest:g}",
)
inside = [T for T in temperatures if 0.23 < T < 0.40]
best_range = margin_over_rest(
    {T: temperature_scores[T] for T in temperatures}, inside, "auc_rebalanced"
)
argmax_per_resample = np.array(temperatures)[
    np.argmax([resampled(temperature_scores[T], "auc_rebalanced") for T in temperatures], axis=0)
]
best_T = float(
    temperatures[np.argmax([s.metric("auc_rebalanced") for s in temperature_scores.values()])]
)
claims.add_verdict(
    "000",
    "a good temperature lies in 0.23 < T < 0.40, as Zhang et al. found",
    "0.23 < T < 0.40",
    {
        "best_T": best_T,
        "best_T_low": float(np.percentile(argmax_per_resample, 2.5)),
        "best_T_high": float(np.percentile(argmax_per_resample, 97.5)),
        "margin_inside_over_outside": best_range["margin"],
        "margin_low": best_range["low"],
        "margin_high": best_range["high"],
        "fraction_of_resamples_best_inside": best_range["fraction_best"],
    },
    evidence.verdict_for_difference(best_range["low"], best_range["high"], +1),
    why=(
        f"best rebalanced AuC at T in {[round(float(T), 3) for T in inside]} minus the best at the "
        f"other temperatures (best inside in {100 * best_range['fraction_best']:.0f}% of the "
        "resamples)"
    ),
)

# %% [markdown]
# The first verdict compares only the two ends of the sweep; whether the
# colourfulness falls steadily in between is read off the first panel above,
# not tested. The AuC and PSNR (plain closeness to the truth) and the
# rebalanced AuC need not peak at the same temperature; the range claim is
# judged by the rebalanced AuC only.

# %% [markdown]
# ## 5.5 Regression vs classification
#
# The best regression model (Adam, 5.2) against the best classification model
# (alpha = 1.1, 5.3, T = 0.38), in figure 6's order. The report: regression
# "produces the most plausible colours" but "washed-out"; classification "more
# vibrant results but with a greater deal of miscolouring". We read
# "plausible" as closeness to the true colours (AuC, PSNR) and "vibrant" as
# colourfulness. Zhang et al.'s reason for the rebalanced classification is
# that it recovers rare colours, which the rebalanced AuC measures.

# %%
table({"regression": scores["adam"], "classification": scores["alpha=1.1"], "grey": grey_scores})
show_grid(
    {"classification": predictions["alpha=1.1"], "regression": predictions["adam"]},
    "5.5: classification vs regression (report figure 6)",
)

claims.add_comparison(
    "000",
    "classification produces more vibrant colour than regression",
    "classification more vibrant (figure 6)",
    compare(scores["alpha=1.1"], scores["adam"], "colorfulness"),
    names=("classification_colorfulness", "regression_colorfulness"),
    expected_sign=+1,
    why="colourfulness of classification minus regression",
)
for metric in ("auc", "psnr"):
    claims.add_comparison(
        "000",
        "regression produces the more plausible colours, classification more miscolouring: "
        f"{metric}",
        "regression more plausible (figure 6)",
        compare(scores["adam"], scores["alpha=1.1"], metric),
        names=(f"regression_{metric}", f"classification_{metric}"),
        expected_sign=+1,
        why=f"{metric} of regression minus classification",
    )
claims.add_comparison(
    "000",
    "(Zhang et al.) rebalanced classification recovers rare colours better than regression",
    "classification better on rare colours",
    compare(scores["alpha=1.1"], scores["adam"], "auc_rebalanced"),
    names=("classification_auc_rebalanced", "regression_auc_rebalanced"),
    expected_sign=+1,
    why="rebalanced AuC of classification minus regression",
)

# %% [markdown]
# ## Summary
#
# The table below is computed from the run above (one line per claim); the
# results file holds every number. In `MODE=cpu` the models are small and
# trained for 4 epochs on ~660 photos, so a verdict here says what this
# scale shows, not what the report's scale would.

# %%
print(claims.table())
claims.write()
t0 = time.time()
scores["adam"].metric("auc_rebalanced")
print(f"one pooled-metric evaluation: {1000 * (time.time() - t0):.0f} ms")
print(
    f"MODE={MODE}: training {sum(TRAIN_SECONDS.values()):.0f}s of the total "
    f"{time.time() - started:.0f}s"
)
