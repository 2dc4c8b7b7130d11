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
# This notebook reproduces the four experiments of report 000 ("Evaluation of
# Image Colourization Approaches"), sections 5.2-5.5, with the library:
#
# - **5.2** the regression U-Net trained with SGD and with Adam;
# - **5.3** the classification U-Net with four colour-bucket weightings
#   (uniform and three values of alpha), the weights drawn over the ab plane as
#   in the report's figure 1;
# - **5.4** the annealed-mean temperature swept from T -> 0 to T = 1;
# - **5.5** the best regression model against the best classification model.
#
# The report judges its experiments by eye. Next to each of its claims we put a
# number measured here: the AuC of the per-pixel ab-error curve (Zhang et al.'s
# Table 1 metric, raw and class-rebalanced), PSNR and SSIM on RGB, and the
# colourfulness of Hasler & Suesstrunk (2003).
#
# **Two modes.** `SMOKE=1` (what CI runs) uses random crops of the photographs
# bundled with scikit-image / scikit-learn / matplotlib, tiny models and a few
# training steps: it checks that every cell runs, in a few minutes on a CPU,
# and its numbers say nothing about the report's claims. The default is the
# report's setting, for a GPU: Tiny-ImageNet-like 64x64 images (TFDS
# `imagenet_resized/64x64`), 50,000 training images for regression and 30,000
# for classification, batch 64, 55 epochs, Table 1's U-Net at full width.

# %% [markdown]
# ## Setup

# %%
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
from colorization import metrics
from colorization import recipes
from colorization.color import lab_to_rgb_uint8
from colorization.color import merge_lab
from colorization.inference import predict_ab
from colorization.quantization import ABQuantizer
from colorization.quantization import default_ab_bins
from colorization.quantization import rebalancing_weights

SMOKE = os.environ.get("SMOKE", "0") == "1"
keras.utils.set_random_seed(0)

if SMOKE:
    CONFIG = dict(
        image_size=32, width=8, batch_size=16, epochs=3, steps_per_epoch=5,
        train_crops=8, test_crops=4, test_batches=None,
    )
    DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook01_"))
else:
    CONFIG = dict(
        image_size=64, width=32, batch_size=recipes.REPORT000_BATCH_SIZE, epochs=recipes.REPORT000_EPOCHS,
        steps_per_epoch=None, regression_images=50_000, classification_images=30_000, test_images=5_000,
        test_batches=None,
    )
    DATA = pathlib.Path(os.environ.get("NOTEBOOK01_DATA", "../outputs/notebook01/shards"))
print("SMOKE" if SMOKE else "full (report 000's settings)", CONFIG, "data in", DATA)

# %% [markdown]
# ## Data
#
# Report 000 (section 4.3) stores its data as TFRecord files of 128 examples;
# `data_pipeline.write_shards` writes CIELAB shards of 128 and
# `read_shards` yields `(L, ab)` batches. The report does not say which 50,000
# (or 30,000) images it took: we take the first ones of the TFDS training split,
# and the first 5,000 of the validation split as the unseen test set
# (section 5: "a test set of images never before seen by any of the models").

# %%
started = time.time()
if SMOKE:
    size = CONFIG["image_size"]
    data_pipeline.write_shards("samples:train", DATA, image_size=size, crops_per_image=CONFIG["train_crops"])
    data_pipeline.write_shards("samples:validation", DATA, image_size=size, crops_per_image=CONFIG["test_crops"])
    REGRESSION_SPLIT = CLASSIFICATION_SPLIT = "train"
    TEST_SPLIT = "validation"
else:
    from data_pipeline import sources

    name = "imagenet_resized/64x64"
    splits = {
        "train50k": sources.first_n(sources.tfds(name, split="train"), CONFIG["regression_images"], "train50k"),
        "train30k": sources.first_n(sources.tfds(name, split="train"), CONFIG["classification_images"], "train30k"),
        "test": sources.first_n(sources.tfds(name, split="validation"), CONFIG["test_images"], "test"),
    }
    for source in splits.values():
        data_pipeline.write_shards(source, DATA, image_size=64, progress=True)
    REGRESSION_SPLIT, CLASSIFICATION_SPLIT, TEST_SPLIT = "train50k", "train30k", "test"

manifest = data_pipeline.load_manifest(DATA)
for split, entry in manifest["splits"].items():
    print(f"{split}: {entry['num_examples']} examples of {entry['image_size']}px from {entry['source']}")


def test_data(batch_size=64):
    return data_pipeline.read_shards(DATA, batch_size, shuffle=False, split=TEST_SPLIT)


# The smoothed empirical colour prior of the classification training images
# (Zhang et al.: Gaussian sigma = 5 over the 313 bins), for the bucket weights.
# The rebalanced AuC weights pixels by the evaluated pixels' own smoothed colour
# distribution instead (`metrics.auc`): a prior counted on a small training set
# has near-zero bins whose inverse lets a few pixels decide the metric.
PRIOR = data_pipeline.compute_prior(DATA, split=CLASSIFICATION_SPLIT)

# A fixed handful of test images for the figures.
L_show, ab_show = (np.asarray(t) for t in next(iter(test_data(6 if SMOKE else 8))))
print(f"data ready in {time.time() - started:.0f}s")

# %% [markdown]
# Helpers: train a recipe, score a model on the test set, draw rows of
# colourisations, and state a claim of the report next to the number that
# tests it.

# %%
def train(recipe, split, num_images):
    """Builds, compiles and fits a recipe; returns (model, history)."""
    if SMOKE:
        recipe = recipe.replace(batch_size=CONFIG["batch_size"], epochs=CONFIG["epochs"])
    size = CONFIG["image_size"]
    model = recipe.build_model(input_shape=(size, size, 1), width=CONFIG["width"])
    recipe.compile(model, prior=PRIOR if recipe.alpha else None)
    steps = CONFIG["steps_per_epoch"] or num_images // recipe.batch_size
    dataset = data_pipeline.read_shards(
        DATA, recipe.batch_size, shuffle=True, split=split, repeat=True, drop_remainder=True, seed=0
    )
    validation_steps = -(-manifest["splits"][TEST_SPLIT]["num_examples"] // recipe.batch_size)
    t0 = time.time()
    history = model.fit(
        dataset, epochs=recipe.epochs, steps_per_epoch=steps, shuffle=False, verbose=0 if SMOKE else 2,
        validation_data=test_data(recipe.batch_size).repeat(), validation_steps=validation_steps,
    )
    print(f"{recipe.name}: {recipe.epochs} epochs x {steps} steps x batch {recipe.batch_size} "
          f"in {time.time() - t0:.0f}s; final loss {history.history['loss'][-1]:.4g}, "
          f"val_loss {history.history['val_loss'][-1]:.4g}")
    return model, history.history


def score(model, temperature=0.38):
    return metrics.evaluate(model, test_data(), temperature=temperature)


def to_rgb(L, ab):
    return ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab)))


def show_columns(columns, title):
    """columns: {name: uint8 (N, H, W, 3)}; one image per row, one method per column."""
    names = list(columns)
    n = len(next(iter(columns.values())))
    fig, axes = plt.subplots(n, len(names), figsize=(1.6 * len(names), 1.6 * n), squeeze=False)
    for c, name in enumerate(names):
        for r in range(n):
            axes[r, c].imshow(columns[name][r])
            axes[r, c].axis("off")
        axes[0, c].set_title(name, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.show()


def table(rows, columns=("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "colorfulness_true")):
    print(f"{'':<16}" + "".join(f"{c:>18}" for c in columns))
    for name, row in rows.items():
        print(f"{name:<16}" + "".join(f"{row[c]:>18.4f}" for c in columns))


CLAIMS = []


def claim(section, text, supported, evidence):
    verdict = "supported" if supported else "NOT supported"
    CLAIMS.append((section, text, verdict, evidence))
    print(f"[{section}] report: {text}\n        here: {evidence} -> {verdict}")


grey_row = metrics.evaluate_grey_baseline(test_data())
print("grey baseline (ab = 0):", {k: round(v, 4) for k, v in grey_row.items()})

# %% [markdown]
# ## 5.2 Regression: SGD vs Adam
#
# Both regression U-Nets share Table 1's design; the loss is the MSE of ab in
# Lab units, batch 64, 55 epochs on 50,000 images. The report names only the
# optimizers; the learning rates are the recipes' choices
# (`recipes.report000_optimizers`: Adam 1e-3, plain SGD 1e-5 because the MSE in
# Lab units has gradients ~110^2 larger than on normalised ab).

# %%
optimizers = recipes.report000_optimizers()
regression_models, regression_histories = {}, {}
for key, recipe in optimizers.items():
    regression_models[key], regression_histories[key] = train(recipe, REGRESSION_SPLIT, CONFIG.get("regression_images", 0))

fig, ax = plt.subplots(figsize=(5, 3))
for key, history in regression_histories.items():
    ax.plot(history["loss"], label=f"{key} train")
    ax.plot(history["val_loss"], "--", label=f"{key} test")
ax.set_xlabel("epoch"), ax.set_ylabel("MSE (Lab units)"), ax.set_yscale("log"), ax.legend()
ax.set_title("Figure 3: SGD vs Adam, regression")
plt.show()

rows_52 = {key: score(model) for key, model in regression_models.items()}
table(rows_52)
show_columns(
    {"grey": to_rgb(L_show, 0 * ab_show),
     **{key: to_rgb(L_show, predict_ab(m, L_show)) for key, m in regression_models.items()},
     "truth": to_rgb(L_show, ab_show)},
    "5.2: regression with SGD and Adam (test images)",
)
claim(
    "5.2", "Adam outperforms SGD (same network, data and epochs)",
    regression_histories["adam"]["val_loss"][-1] < regression_histories["sgd"]["val_loss"][-1]
    and rows_52["adam"]["auc"] > rows_52["sgd"]["auc"],
    f"test MSE Adam {regression_histories['adam']['val_loss'][-1]:.1f} vs SGD "
    f"{regression_histories['sgd']['val_loss'][-1]:.1f}; AuC {rows_52['adam']['auc']:.3f} vs {rows_52['sgd']['auc']:.3f}",
)

# %% [markdown]
# ## 5.3 Bucketed colour weights
#
# The classification U-Net predicts a distribution over Q = 313 ab buckets and
# is trained with the cross-entropy weighted per bucket by
# `w = ((1 - gamma) p + gamma / Q) ** -alpha` (report 000 section 4.2, Zhang et
# al. eq. 4), p the smoothed empirical prior of the training colours. The report
# trains four models: uniform weights and three alphas "with an increasing
# discrepancy between common and uncommon buckets"; it gives only the best,
# alpha = 1.1. The other two (0.5, 0.8) and gamma = 0.5 are the recipes'
# choices (`recipes.report000_bucket_weights`). First the weights over the ab
# plane, as in figure 1:

# %%
bucket_recipes = recipes.report000_bucket_weights()
bins = default_ab_bins()
fig, axes = plt.subplots(1, len(bucket_recipes) + 1, figsize=(3.0 * (len(bucket_recipes) + 1), 3.0))
bin_colours = ops.convert_to_numpy(lab_to_rgb_uint8(np.concatenate([np.full((len(bins), 1), 60.0), bins], -1)))
axes[0].scatter(bins[:, 1], bins[:, 0], c=bin_colours / 255.0, s=2 + 40 * PRIOR / PRIOR.max(), marker="s")
axes[0].set_title("prior p (area)", fontsize=9)
for ax, (key, recipe) in zip(axes[1:], bucket_recipes.items()):
    weights = np.ones(len(bins)) if recipe.alpha == 0 else rebalancing_weights(PRIOR, alpha=recipe.alpha, gamma=recipe.gamma)
    im = ax.scatter(bins[:, 1], bins[:, 0], c=np.log10(weights), cmap="viridis", marker="s", s=12, vmin=-1.5, vmax=1.5)
    ax.set_title(f"{key}: log10 w\n(max/min {weights.max() / weights.min():.0f})", fontsize=9)
for ax in axes:
    ax.set_xlabel("b"), ax.invert_yaxis(), ax.set_aspect("equal")
axes[0].set_ylabel("a")
fig.colorbar(im, ax=axes[-1], fraction=0.05)
fig.suptitle("Figure 1: colour buckets and their weights", fontsize=10)
plt.show()

# %%
bucket_models = {}
for key, recipe in bucket_recipes.items():
    bucket_models[key], _ = train(recipe, CLASSIFICATION_SPLIT, CONFIG.get("classification_images", 0))
rows_53 = {key: score(model) for key, model in bucket_models.items()}
table(rows_53)
show_columns(
    {"grey": to_rgb(L_show, 0 * ab_show),
     **{key: to_rgb(L_show, predict_ab(m, L_show)) for key, m in bucket_models.items()},
     "truth": to_rgb(L_show, ab_show)},
    "Figure 4: bucket weightings (T = 0.38)",
)
alphas = [recipe.alpha for recipe in bucket_recipes.values()]
colourfulness_53 = [rows_53[key]["colorfulness"] for key in bucket_recipes]
rank = np.corrcoef(np.argsort(np.argsort(alphas)), np.argsort(np.argsort(colourfulness_53)))[0, 1]
claim(
    "5.3", "colouring becomes less defensive (bolder) as the weights become more extreme",
    rank > 0,
    "colourfulness by alpha " + ", ".join(f"{a}: {c:.1f}" for a, c in zip(alphas, colourfulness_53))
    + f" (rank correlation {rank:+.2f})",
)
best_alpha = max(rows_53, key=lambda k: rows_53[k]["auc_rebalanced"])
claim(
    "5.3", "alpha = 1.1 gives the best results (judged by eye)",
    best_alpha == "alpha=1.1",
    f"best rebalanced AuC here: {best_alpha} ({rows_53[best_alpha]['auc_rebalanced']:.3f})",
)

# %% [markdown]
# ## 5.4 Temperature
#
# The annealed mean `f_T(z) = exp(log z / T) / sum_q exp(log z_q / T)`, then the
# mean bucket colour (section 4.2.1; Zhang et al. eq. 5). The report sweeps T
# linearly from near 0 to 1 on its figure-4d model (alpha = 1.1) retrained for 50
# epochs; we decode the alpha = 1.1 model of 5.3 (55 epochs) instead of training
# a fifth classification model. As a measure of coherence we add the mean
# absolute spatial gradient of the predicted ab ("ab roughness"): colour that
# jumps between neighbouring pixels scores high.

# %%
recipe_54, temperatures = recipes.report000_temperature_sweep()
model_54 = bucket_models["alpha=1.1"]
L_test, ab_test = (np.concatenate(parts) for parts in zip(*[(np.asarray(L), np.asarray(ab)) for L, ab in test_data()]))
probabilities = np.concatenate([ops.convert_to_numpy(model_54(L_test[i:i + 64], training=False))
                                for i in range(0, len(L_test), 64)])
quantizer = ABQuantizer()


def roughness(ab):
    return float(np.mean(np.abs(np.diff(ab, axis=1))) + np.mean(np.abs(np.diff(ab, axis=2))))


rows_54 = {}
for T in temperatures:
    ab_T = ops.convert_to_numpy(quantizer.annealed_mean(probabilities, float(T)))
    rgb_T, rgb_true = to_rgb(L_test, ab_T), to_rgb(L_test, ab_test)
    rows_54[f"T={T:.2f}"] = {
        "T": float(T), "auc": metrics.auc(ab_test, ab_T), "auc_rebalanced": metrics.auc(ab_test, ab_T, rebalanced=True),
        "psnr": float(np.mean(metrics.psnr(rgb_true, rgb_T))), "ssim": float(np.mean(metrics.ssim(rgb_true, rgb_T))),
        "colorfulness": float(np.mean(metrics.colorfulness(rgb_T))),
        "colorfulness_true": float(np.mean(metrics.colorfulness(rgb_true))), "roughness": roughness(ab_T),
    }
table(rows_54, columns=("auc", "auc_rebalanced", "psnr", "colorfulness", "roughness"))
print(f"truth: roughness {roughness(ab_test):.2f}")

fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
for ax, key in zip(axes, ("colorfulness", "roughness", "auc")):
    ax.plot(temperatures, [row[key] for row in rows_54.values()], "o-")
    ax.axvspan(0.23, 0.40, color="orange", alpha=0.2, label="report: 0.23 < T < 0.40")
    ax.set_xlabel("T"), ax.set_title(key, fontsize=9)
axes[0].legend(fontsize=7)
plt.show()

shown = [0, 2, 4, 6, 8, 10]
strip = {f"T={temperatures[i]:.2f}": to_rgb(L_show, predict_ab(model_54, L_show, temperature=float(temperatures[i])))
         for i in shown}
show_columns({"grey": to_rgb(L_show, 0 * ab_show), **strip, "truth": to_rgb(L_show, ab_show)},
             "Figure 5: effect of the temperature")

colourfulness_54 = [row["colorfulness"] for row in rows_54.values()]
roughness_54 = [row["roughness"] for row in rows_54.values()]
claim("5.4", "at low T colours are more distinct (saturated); at high T washed out",
      colourfulness_54[0] > colourfulness_54[-1],
      f"colourfulness {colourfulness_54[0]:.1f} at T={temperatures[0]:.2f} vs {colourfulness_54[-1]:.1f} at T=1")
claim("5.4", "lower T gives less coherent colour",
      roughness_54[0] > roughness_54[-1],
      f"ab roughness {roughness_54[0]:.2f} at T={temperatures[0]:.2f} vs {roughness_54[-1]:.2f} at T=1")
best_T = max(rows_54.values(), key=lambda row: row["auc_rebalanced"])["T"]
claim("5.4", "a good temperature lies in 0.23 < T < 0.40 (as Zhang et al. found)",
      0.23 <= best_T <= 0.40, f"best rebalanced AuC at T={best_T:.2f}")

# %% [markdown]
# ## 5.5 Regression vs classification
#
# The best regression model (Adam, 5.2) against the best classification model
# (alpha = 1.1, 5.3), decoded at Zhang's T = 0.38; figure 6's column order.

# %%
finalists = {"classification": bucket_models["alpha=1.1"], "regression": regression_models["adam"]}
rows_55 = {"grey baseline": grey_row,
           "classification": rows_53["alpha=1.1"], "regression": rows_52["adam"]}
table(rows_55)
show_columns(
    {"grey": to_rgb(L_show, 0 * ab_show),
     **{key: to_rgb(L_show, predict_ab(m, L_show)) for key, m in finalists.items()},
     "truth": to_rgb(L_show, ab_show)},
    "Figure 6: classification vs regression",
)
claim("5.5", "classification produces more vibrant colour than regression",
      rows_55["classification"]["colorfulness"] > rows_55["regression"]["colorfulness"],
      f"colourfulness {rows_55['classification']['colorfulness']:.1f} vs {rows_55['regression']['colorfulness']:.1f} "
      f"(truth {rows_55['regression']['colorfulness_true']:.1f})")
claim("5.5", "regression gives the more plausible colours, classification more miscolouring",
      rows_55["regression"]["auc"] > rows_55["classification"]["auc"],
      f"AuC regression {rows_55['regression']['auc']:.3f} vs classification {rows_55['classification']['auc']:.3f}; "
      f"PSNR {rows_55['regression']['psnr']:.2f} vs {rows_55['classification']['psnr']:.2f}")
claim("5.5", "(Zhang et al.) rebalanced classification recovers rare colours better",
      rows_55["classification"]["auc_rebalanced"] > rows_55["regression"]["auc_rebalanced"],
      f"rebalanced AuC classification {rows_55['classification']['auc_rebalanced']:.3f} vs regression "
      f"{rows_55['regression']['auc_rebalanced']:.3f}")

# %% [markdown]
# ## Summary: the report's claims against our numbers

# %%
for section, text, verdict, evidence in CLAIMS:
    print(f"{section}  {verdict:<14} {text}\n      {evidence}")
print(f"\nmode: {'SMOKE (bundled photos, a few steps: the verdicts mean nothing)' if SMOKE else 'full'}; "
      f"total time {time.time() - started:.0f}s")
