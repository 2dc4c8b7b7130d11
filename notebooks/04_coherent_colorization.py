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
# # Report 003: coherent colorization, its collapse, and the proposed fix
#
# Report 003 ("Coherent and Colorful Image Colorization") puts a refinement
# network after Zhang et al.'s classifier (figure 4): the base predicts a
# distribution Z over 313 ab bins, a grey-input branch and the upsampled Z
# predict a refined distribution Zhat, decoded to ab through the 313x2 bin
# matrix after a low-temperature softmax (eq. 2). The losses: Zhang's
# rebalanced cross-entropy on Z, a gradient-coherence loss (eq. 3) on the
# decoded ab and a colour regulariser (eq. 5, T = 0.01) between Z and Zhat,
# the last two stopped before the base. In the library:
# `colorization.models.coherent(...)`, trained by plain `compile` + `fit`.
#
# The report's result is negative: "it always chooses a mostly constant
# value for all pixels" (section 5). It proposes, untested, to rebalance the
# coherence loss by the empirical distribution of gradient sizes. We
# reproduce the model, measure the collapse (spatial spread of ab and
# colourfulness of the refined output against the base's), and try the fix
# (`coherence_rebalancing=...`).
#
# **Two modes.** `SMOKE=1` (CI, a CPU): random 64x64 crops of the bundled
# photographs, a base at 1/4 width and a few epochs; its numbers check that
# the measurements run and say little about the report. The default is the
# report's setting for a GPU: COCO 2017 via TFDS `coco/2017`, 86,301 training
# and 36,986 validation images (the report's split of the 123,287 COCO 2017
# train + val images: we take the first 86,301 of train for training and the
# rest of train plus val for validation), 256x256, the full-width base, 15
# epochs. The report names no optimizer, learning rate or batch size: we use
# Zhang's (Adam, beta_2 0.99, batch 40) with learning rate 1e-4.

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

import data_pipeline
from colorization import metrics
from colorization import recipes
from colorization import visualization
from colorization.color import lab_to_rgb_uint8
from colorization.color import merge_lab
from colorization.models.coherent import coherence_rebalancing
from colorization.models.coherent import gradient_magnitude_counts
from colorization.quantization import ABQuantizer

SMOKE = os.environ.get("SMOKE", "0") == "1"
keras.utils.set_random_seed(0)
RECIPE = recipes.report003()  # 256x256, full width, Adam(1e-4, beta_2 0.99), batch 40, 15 epochs

if SMOKE:
    # NOTEBOOK04_* variables scale the CPU run up (e.g. the longer run quoted in the lead's notes).
    CONFIG = dict(
        image_size=int(os.environ.get("NOTEBOOK04_SIZE", "64")), width=int(os.environ.get("NOTEBOOK04_WIDTH", "16")),
        branch_filters=16, refine_filters=32, batch_size=16,
        epochs=int(os.environ.get("NOTEBOOK04_EPOCHS", "4")), learning_rate=1e-3,
        train_crops=int(os.environ.get("NOTEBOOK04_CROPS", "6")), validation_crops=8,
    )
    DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook04_"))
    RECIPE = RECIPE.replace(batch_size=CONFIG["batch_size"], epochs=CONFIG["epochs"],
                            learning_rate=CONFIG["learning_rate"])
else:
    CONFIG = dict(
        image_size=256, width=64, branch_filters=32, refine_filters=64, train_images=RECIPE.train_images,
    )
    DATA = pathlib.Path(os.environ.get("NOTEBOOK04_DATA", "../outputs/notebook04/shards"))
print("SMOKE" if SMOKE else "full (report 003's settings)", CONFIG, RECIPE)

# %% [markdown]
# ## Data

# %%
class Slice:
    """Items `start:stop` of a data_pipeline source under a split name of our own."""

    def __init__(self, source, start, stop, split):
        self.source, self.start, self.split = source, int(start), split
        self.stop = min(int(stop), len(source))
        self.spec = f"{source.spec}[{self.start}:{self.stop}]"

    def __len__(self):
        return self.stop - self.start

    def iter_range(self, start, stop):
        return self.source.iter_range(self.start + start, self.start + min(stop, len(self)))


started = time.time()
size = CONFIG["image_size"]
if SMOKE:
    data_pipeline.write_shards("samples:train", DATA, image_size=size, crops_per_image=CONFIG["train_crops"])
    data_pipeline.write_shards(
        "samples:validation", DATA, image_size=size, crops_per_image=CONFIG["validation_crops"]
    )
else:
    from data_pipeline import sources

    coco_train = sources.tfds("coco/2017", split="train")
    n = CONFIG["train_images"]
    data_pipeline.write_shards(Slice(coco_train, 0, n, "train"), DATA, image_size=size, progress=True)
    data_pipeline.write_shards(Slice(coco_train, n, len(coco_train), "rest"), DATA, image_size=size, progress=True)
    data_pipeline.write_shards(sources.tfds("coco/2017", split="validation"), DATA, image_size=size, progress=True)
manifest = data_pipeline.load_manifest(DATA)
for split, entry in manifest["splits"].items():
    print(f"{split}: {entry['num_examples']} examples of {entry['image_size']}px from {entry['source']}")
VALIDATION_SPLITS = ["validation"] if SMOKE else ["rest", "validation"]


def train_data():
    return data_pipeline.read_shards(DATA, RECIPE.batch_size, shuffle=True, split="train", seed=0,
                                     drop_remainder=True)


def validation_data():
    datasets = [data_pipeline.read_shards(DATA, RECIPE.batch_size, shuffle=False, split=s)
                for s in VALIDATION_SPLITS]
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset


PRIOR = data_pipeline.compute_prior(DATA, split="train")
CLASS_WEIGHTS = RECIPE.class_weights(PRIOR)  # report 003 eq. 1 with lambda = 1/2, alpha = 1
GRADIENT_COUNTS = gradient_magnitude_counts(data_pipeline.iterate_numpy(DATA, 64, shuffle=False, split="train"))
L_val, ab_val = (np.asarray(t) for t in next(iter(
    data_pipeline.read_shards(DATA, 64 if SMOKE else 256, shuffle=False, split="validation"))))
print(f"data ready in {time.time() - started:.0f}s; {len(L_val)} validation images for the measurements")

# %% [markdown]
# The empirical distribution of true gradient magnitudes (Lab units per
# pixel, the four forward differences of a and b) that section 5 asks to
# rebalance by: most neighbouring pixels are nearly equal.

# %%
FIX = coherence_rebalancing(GRADIENT_COUNTS, alpha=1.0, gamma=0.5)
p = GRADIENT_COUNTS / GRADIENT_COUNTS.sum()
labels = ["0"] + [f"{e:g}" for e in FIX["edges"]]
print(f"{'|grad| from':>12}{'share':>10}{'weight':>10}")
for label, share, weight in zip(labels, p, FIX["weights"]):
    print(f"{label:>12}{share:>10.3f}{weight:>10.2f}")
print(f"report 003: 'most adjacent pixels in our training set are quite similar' -> measured: "
      f"{p[:3].sum():.0%} of pixel gradients are below {FIX['edges'][2]:g} Lab units")

# %% [markdown]
# ## Training: the report's model, and the model with the proposed fix

# %%
def build(rebalancing=None):
    keras.utils.set_random_seed(0)
    model = RECIPE.build_model(
        input_shape=(size, size, 1), width=CONFIG["width"], branch_filters=CONFIG["branch_filters"],
        refine_filters=CONFIG["refine_filters"], class_weights=CLASS_WEIGHTS, coherence_rebalancing=rebalancing,
    )
    return RECIPE.compile(model)


runs = {}
for name, rebalancing in [("report 003", None), ("with the section-5 fix", FIX)]:
    model = build(rebalancing)
    t0 = time.time()
    history = model.fit(train_data(), validation_data=validation_data(), epochs=RECIPE.epochs, shuffle=False,
                        verbose=0 if SMOKE else 2)
    runs[name] = dict(model=model, history=history.history)
    last = {k: round(v[-1], 3) for k, v in history.history.items()}
    print(f"{name}: {model.count_params():,} parameters ({model.base.count_params():,} in the base); "
          f"{RECIPE.epochs} epochs in {time.time() - t0:.0f}s; last epoch {last}")

# %% [markdown]
# The base's cross-entropy is the same in both runs (same seed, same data
# order): the coherence and regulariser terms, rebalanced or not, never reach
# the base, as section 4 requires.

# %%
visualization.plot_histories({k: v["history"] for k, v in runs.items()},
                             keys=("cross_entropy", "coherence", "regularizer", "val_loss"))
plt.show()

# %% [markdown]
# ## Measuring the collapse
#
# For each validation image: ab of the base (annealed mean of Z at Zhang's
# T = 0.38, upsampled to full size), ab of the refined output (Zhat through the
# bin matrix), and the truth. The collapse shows as (i) a small spatial
# standard deviation of the refined ab, (ii) a low colourfulness (Hasler &
# Suesstrunk) of the refined image, and (iii) one bin winning the mode of Zhat
# at nearly every pixel ("dominant-mode share").

# %%
quantizer = ABQuantizer()


def spatial_std(ab):
    """Per image: sqrt(var_a + var_b) over the pixels, averaged over images (Lab units)."""
    return float(np.mean(np.sqrt(ab[..., 0].var(axis=(1, 2)) + ab[..., 1].var(axis=(1, 2)))))


def dominant_mode_share(modes):
    """Per image: the share of pixels whose bin is the image's most frequent one, averaged."""
    modes = np.asarray(modes).reshape(len(modes), -1)
    return float(np.mean([np.bincount(m).max() / m.size for m in modes]))


def measure(model, L, ab_true):
    heads = {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in model.heads(L).items()}
    base_ab = np.asarray(keras.ops.convert_to_numpy(quantizer.annealed_mean(heads["z_up"], 0.38)))
    truth_bins = np.asarray(keras.ops.convert_to_numpy(quantizer.hard_encode(ab_true)))
    outputs = [
        ("base (Z, T=0.38)", base_ab, heads["z_up"].argmax(-1)),
        ("refined (Zhat)", heads["ab"], heads["z_hat"].argmax(-1)),
        ("truth", ab_true, truth_bins),
    ]
    rows = {}
    for label, ab, modes in outputs:
        image = keras.ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab)))
        rows[label] = dict(
            spatial_std=spatial_std(ab), colorfulness=float(np.mean(metrics.colorfulness(image))),
            dominant_mode=dominant_mode_share(modes), ab=ab,
        )
    return rows


# Training images too: with little data the base is far better on them, and the collapse is a property of
# the refinement given the base's output, wherever the base is informative.
L_train, ab_train = (np.asarray(t) for t in next(iter(
    data_pipeline.read_shards(DATA, len(L_val), shuffle=False, split="train"))))
measurements = {}
for name, run in runs.items():
    for images, (L, ab) in (("train", (L_train, ab_train)), ("validation", (L_val, ab_val))):
        measurements[f"{name}, {images}"] = measure(run["model"], L, ab)
print(f"{'':<36}{'output':<20}{'spatial std of ab':>18}{'colourfulness':>15}{'dominant mode':>15}")
for name, rows in measurements.items():
    for label, row in rows.items():
        print(f"{name:<36}{label:<20}{row['spatial_std']:>18.2f}{row['colorfulness']:>15.1f}"
              f"{row['dominant_mode']:>15.2f}")

# %%
for name, rows in measurements.items():
    base, refined = rows["base (Z, T=0.38)"], rows["refined (Zhat)"]
    ratio = refined["spatial_std"] / max(base["spatial_std"], 1e-6)
    truth = rows["truth"]
    if base["spatial_std"] < 0.25 * truth["spatial_std"]:
        verdict = "the base itself is near-constant: too little training to judge a collapse of the refinement"
    elif ratio < 0.5 and refined["dominant_mode"] > 0.8:
        verdict = "collapsed"
    else:
        verdict = "not collapsed"
    print(f"{name}: refined / base spatial std = {ratio:.2f}, colourfulness {refined['colorfulness']:.1f} vs "
          f"{base['colorfulness']:.1f}, dominant-mode share {refined['dominant_mode']:.2f} "
          f"(base {base['dominant_mode']:.2f}) -> {verdict}")

# %% [markdown]
# **Claim** (report 003, section 5): the refined output "always chooses a
# mostly constant value for all pixels". **Measured**: the refined/base
# spatial-std ratio and dominant-mode share above (a ratio near 0 and a share
# near 1 is the collapse). **Claim** (section 5, proposed fix): rebalancing
# the coherence loss by the gradient-size distribution would address it.
# **Measured**: the same numbers for the second run.
#
# **A longer CPU run** (not this execution; `SMOKE=1 NOTEBOOK04_SIZE=32
# NOTEBOOK04_WIDTH=8 NOTEBOOK04_CROPS=16 NOTEBOOK04_EPOCHS=80`: 144 crops of
# 32x32 from the 9 bundled training photographs, 80 epochs of batch 16, ~7
# minutes on 2 CPU cores) gave, on training images: base spatial std 21.3
# (truth 24.5), refined 14.2 (0.67 x base), colourfulness 43.7 vs the base's
# 63.2 (truth 71.9), dominant-mode share 0.69 vs the base's 0.36; with the
# section-5 fix: refined 15.8 (0.75 x base), colourfulness 49.0, share 0.68.
# On the 24 validation crops: refined / base spread 0.81 without and 1.00
# with the fix. At that scale the refinement loses part of the base's
# colour variety and concentrates its modes (a partial collapse, not the
# report's near-constant output), and the rebalancing recovers some of the
# spread but not the variety of modes.

# %%
n_show = 4
predictions = {}
for name, rows in measurements.items():
    if name.endswith("train"):
        predictions[f"{name.split(',')[0]}: base"] = rows["base (Z, T=0.38)"]["ab"][:n_show]
        predictions[f"{name.split(',')[0]}: refined"] = rows["refined (Zhat)"]["ab"][:n_show]
figure = visualization.plot_colorizations(L_train[:n_show], predictions, ab_train[:n_show], max_images=n_show)
plt.show()
