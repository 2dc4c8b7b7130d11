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
# # Report 001: Deep Koalarization, and the generalisation gap it could not measure
#
# Report 001 ("Self-Supervised Image Colorization", ECE 176) implements Deep
# Koalarization (Baldassarre, Gonzalez-Morin & Rodes-Guirao 2017): an encoder
# on the grey image, the embedding of a frozen Inception-ResNet-v2 run on the
# same grey image, a fusion layer repeating that embedding over the encoder's
# grid, and a decoder to ab, with "each convolution followed by a ReLu and
# Batchnorm" (section 3.2). It trains with MSE on 1,000 Places365 images,
# Adam, learning rate 0.0012, batch 40, weight decay 1e-6, 70 epochs
# (Table 2, section 4.2). It shows only the training loss (Figure 2, "Log
# Training Loss"; the text gives no loss values) because "given the limited
# GPU memory I was not able to run both validation and training", and names
# the validation loss as its first missing improvement (section 4.4.1). In
# the library: `colorization.models.koalarization(...)`, `recipes.report001()`.
#
# **Expected cost of the full mode on one H200-class GPU** (the report's
# settings: Inception-ResNet-v2 at 299x299 on every image, a 224x224 network
# of width 64, batch 40, 70 epochs, 1,000 training images; 500 validation
# images). Multiply-adds counted layer by layer (the `multiply_adds` cell
# below prints the same count for the model it builds):
#
# - extractor: 55.9 M frozen parameters, **13.2 G multiply-adds per image**
#   at 299x299; trainable part: 6.58 M parameters, **7.55 G per image** at
#   224x224, about 3 x 7.55 = 22.6 G with its backward pass;
# - per training image 13.2 + 22.6 = 35.8 G multiply-adds = 72 GFLOP, so
#   1,000 images = 72 TFLOP per epoch; after each epoch the 500 validation and
#   167 probe training images are predicted, 667 x (13.2 + 7.55) x 2 = 28
#   TFLOP; 70 epochs x 100 TFLOP = **7.0 PFLOP**;
# - an H200 gives ~495 TFLOP/s dense TF32 (TensorFlow's default for float32
#   convolutions) and 67 TFLOP/s plain FP32: at 30% of TF32, 7.0 PFLOP /
#   150 TFLOP/s = 47 s; at half the FP32 rate, 210 s. Scoring runs on the
#   host CPU: the cpu run here scored ~1,560 photo predictions of 64x64
#   (6.4 M pixels: the network, the truth and grey on both splits) in ~21 s,
#   ~3.3 us per pixel; the full mode scores 4,000 of 224x224 (200 M pixels),
#   ~11 minutes at that rate, and the pooled-AuC bootstrap (~0.3 s per
#   resample with 1,000 + 500 photos, 400 resamples) ~2 minutes: **about 15
#   minutes in all, most of it scoring on the host**, plus the first download
#   of TFDS `places365_small` (not counted);
# - GPU memory: weights 62.5 M x 4 B = 250 MB, Adam moments 2 x 26 MB; the
#   trainable part's layer outputs total 61.8 MB per 224x224 image (float32),
#   2.5 GB for a batch of 40 kept for the backward pass, about as much again
#   for their gradients: **~5 GB**. The extractor is frozen and fed by the
#   input, so no gradient flows through it and its activations are not kept
#   (its layer outputs total 324 MB per image: 13 GB for a batch even if all
#   were). Peak well under 20 GB of the 141 GB.
# - Evaluation has no big tensor: the network regresses ab, so there is no
#   (N, H, W, 313) probability array; predictions come 40 images at a time
#   (`predict_ab(..., batch_size=40)`) and all 500 validation predictions are
#   (500, 224, 224, 2) float32 = 200 MB. On the host, `PhotoScores` of the
#   1,000 training images holds float64 copies of ab (1000 x 224 x 224 x 2 x
#   8 B = 0.8 GB each, a few at a time) and 1000 x 313 x 151 float32
#   histograms (189 MB): a few GB of RAM.
#
# **Three modes** (`evidence.notebook_mode()`): `SMOKE=1` (CI) trains a tiny
# network for a few steps on a handful of photos: every cell runs, its numbers
# mean nothing. `MODE=cpu` trains on the fixed training split of
# `../shared/photos/imagenet-800` and measures on its validation split, at
# the sizes chosen below so that the whole notebook runs in at most 12
# minutes on a quiet 2-core CPU. The default (full) is the report's setting
# for a GPU, above.

# %% [markdown]
# ## What we measure
#
# Every number comes from inference-mode predictions (`predict_ab`, the
# BatchNorm moving statistics) of the trained network, scored photo by photo
# with `notebook_support.evidence.PhotoScores`:
#
# 1. **The generalisation gap** (sections 1, 4.3, 4.4.1: "I do not believe
#    that the model will generalize well", "the test images, as expected, do
#    not generalize as well"): the MSE of the predictions on the training
#    photos against the validation photos (never trained on, of classes never
#    trained on), and the same for PSNR and AuC, with the logged training loss
#    beside.
# 2. **Overfitting** (section 4.2: "my model is likely overfitted but this is
#    something I cannot validate"; 4.4.1: "we could see if we overfit by
#    seeing if the loss increases with more iteration"): the validation loss
#    after every epoch, and whether the final network is worse on the
#    validation photos than at the epoch of its lowest validation loss.
# 3. **Washed, sepia colours** (2.1: regression "leads to a strong
#    desaturation leaving most images gray and sepia"; 4.3.1: "the middle
#    images do seem washed, as expected"): the colourfulness of the
#    predictions against the truth's, on training and on validation photos,
#    and the predictions' mean a and b (yellow-brown: both above zero).
# 4. **Still useful on unseen photos** (4.3.2: "that doesn't mean the
#    performance isn't good"): the AuC on validation photos against predicting
#    grey (ab = 0).
#
# **The rule for every verdict** (`evidence.verdict_for_difference`): the
# difference of the two sides gets a 95% bootstrap interval over photos
# (`evidence.compare`; paired when both sides score the same photos, unpaired
# for training vs validation photos). "Supported" when the whole interval lies
# on the side the report claims, "not supported" when it lies entirely on the
# other side, "inconclusive at this scale" when it contains zero. The
# bootstrap measures how much a result depends on which photos were scored,
# not how much it would move with another training seed (one seed here).

# %% [markdown]
# ## Setup and the settings of each mode

# %%
# %matplotlib inline
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import matplotlib.pyplot as plt
import numpy as np

from colorization.inference import predict_ab
from colorization.training import recipes
from notebook_support import evidence
from notebook_support import photo_split
from notebook_support.visualization import to_rgb

NOTEBOOK_STARTED = time.time()
MODE = evidence.notebook_mode()
keras.utils.set_random_seed(0)

# Report 001, Table 2 and section 4.2: Adam, lr 0.0012, batch 40, weight decay 1e-6, 70 epochs, MSE.
REPORT = recipes.report001()
SETTINGS = {
    "smoke": dict(
        image_size=32,
        width=8,
        epochs=3,
        batch_size=8,
        train_photos=40,
        validation_photos=16,
        resamples=200,
        auc_resamples=20,
    ),
    "cpu": dict(
        image_size=64,
        width=32,
        epochs=REPORT.epochs,
        batch_size=REPORT.batch_size,
        train_photos=None,
        validation_photos=None,
        resamples=1000,
        auc_resamples=200,
    ),
    "full": dict(
        image_size=224,
        width=64,
        epochs=REPORT.epochs,
        batch_size=REPORT.batch_size,
        train_photos=1000,
        validation_photos=500,
        resamples=1000,
        auc_resamples=200,
    ),
}[MODE]

# The extractor: Inception-ResNet-v2 with ImageNet weights when they can be had, else a random
# stand-in.
EXTRACTOR_WEIGHTS = os.environ.get("KOALARIZATION_EXTRACTOR_WEIGHTS") or None
if EXTRACTOR_WEIGHTS is None and MODE == "full":
    EXTRACTOR_WEIGHTS = "imagenet"
if EXTRACTOR_WEIGHTS is not None:
    EXTRACTOR = dict(feature_extractor="inception_resnet_v2", extractor_weights=EXTRACTOR_WEIGHTS)
else:
    EXTRACTOR = dict(feature_extractor="tiny", extractor_weights=None)

RECIPE = REPORT.replace(
    model_kwargs={
        **REPORT.model_kwargs,
        **EXTRACTOR,
        "width": SETTINGS["width"],
        "input_shape": (SETTINGS["image_size"], SETTINGS["image_size"], 1),
    },
    epochs=SETTINGS["epochs"],
    batch_size=SETTINGS["batch_size"],
)
print(f"MODE={MODE}: {SETTINGS}")
print(f"extractor: {EXTRACTOR}; recipe: {RECIPE}")

# %% [markdown]
# ### The extractor offline, and the other choices of the cpu mode
#
# Keras downloads the ImageNet weights of Inception-ResNet-v2 from
# storage.googleapis.com; this machine is offline, so without them the
# extractor would be random. In the SMOKE and cpu modes the notebook uses
# `feature_extractor="tiny"` (`koalarization.tiny_extractor`: two random,
# frozen 3x3 convolutions, pooling and a 16-way softmax on a 32x32 grey
# copy) instead of a randomly initialised Inception-ResNet-v2: both carry no
# semantic information, and the tiny one costs nothing, where a random
# Inception-ResNet-v2 even at its smallest input (75x75) tripled the cost of
# a training step here (64x64 photos: 21 -> 72 ms per image at width 32, 11
# -> 32 ms at width 16, measured on this machine under load). **What that
# changes**: the fusion layer receives a random 16-number summary of the
# grey image, not ImageNet class probabilities, so the network colours from
# the encoder's view of the grey photo alone, the part of Deep
# Koalarization the report credits to "a pretrained feature detector" is
# absent, and colours that need to recognise the object cannot be learnt from
# it. The claims below still test: the gap between the photos the network fit
# and unseen ones comes from fitting ~660 photos with a network of this
# size; a semantic embedding may change its size but is not needed for it.
#
# With the weights: set `KOALARIZATION_EXTRACTOR_WEIGHTS` to the Keras file
# `inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5` (from
# `~/.keras/models/` of a connected machine), or to `imagenet` to download
# them; the notebook then uses Inception-ResNet-v2 at 299x299 in any mode (on
# this CPU at least 13 G multiply-adds per image and step: hours, not
# minutes). The full mode uses `imagenet` by default.
#
# **cpu mode, deviations from Table 2 and why** (each measured here first, on
# this machine while other jobs ran, so the quiet times are lower):
#
# - photos: the imagenet-800 split (`photo_split`: about 660 training photos
#   and 112 validation photos of other classes, counts printed below) instead
#   of 1,000 Places365 images: the photos on this machine, and the report's
#   order of magnitude;
# - 64x64 centre crops instead of 224x224, and width 32 (1.59 M trainable
#   parameters) instead of 64 (6.33 M at 64x64 with the tiny extractor): a
#   training step cost ~129 ms per image at width 64 against ~21 ms at
#   width 32 (both measured under load), six times as much;
# - kept the report's 70 epochs rather than its width: a first cpu run of
#   this notebook with 30 epochs took 219 s in all on the quiet machine, of
#   which 150 s for training (5.0 s per epoch, the per-epoch validation
#   included); 70 epochs then take ~6 minutes and the notebook ~7, where
#   width 64 at 70 epochs would take over half an hour;
# - kept: MSE, Adam, learning rate 0.0012, batch 40, weight decay 1e-6
#   (Keras's decoupled weight decay, where the report's PyTorch Adam adds an
#   L2 term: `recipes.report001`), BatchNorm after every ReLU, no
#   augmentation (the report names none).

# %% [markdown]
# ## Data


# %%
def arrays_from_source(source, split, image_size):
    """A `data_pipeline` source as `(L, ab)` NumPy arrays, through the shard builder."""
    import tempfile

    import data_pipeline

    folder = tempfile.mkdtemp(prefix="notebook02_")
    data_pipeline.write_shards(source, folder, image_size=image_size, split=split)
    parts = list(data_pipeline.iterate_numpy(folder, 256, shuffle=False, split=split))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


started = time.time()
size = SETTINGS["image_size"]
if MODE == "full":
    # Report 001's data: Places365 (TFDS `places365_small`, downloaded on first use).
    from data_pipeline import sources

    L_train, ab_train = arrays_from_source(
        sources.first_n(
            sources.tfds("places365_small", split="train"), SETTINGS["train_photos"], "train"
        ),
        "train",
        size,
    )
    L_val, ab_val = arrays_from_source(
        sources.first_n(
            sources.tfds("places365_small", split="validation"),
            SETTINGS["validation_photos"],
            "validation",
        ),
        "validation",
        size,
    )
    DATA = "Places365 (TFDS places365_small): the first images of train and of validation"
elif photo_split.find_photo_folder() is not None:
    L_train, ab_train, _ = photo_split.load_split("train", size, limit=SETTINGS["train_photos"])
    L_val, ab_val, _ = photo_split.load_split(
        "validation", size, limit=SETTINGS["validation_photos"]
    )
    DATA = (
        f"imagenet-800 ({photo_split.find_photo_folder()}), its fixed training and validation "
        "splits"
    )
else:
    from data_pipeline import sources

    print(
        f"SMOKE: no photo folder at {photo_split.default_photo_folder()}; using the bundled sample "
        "photos"
    )
    L_train, ab_train = arrays_from_source(sources.sample_photos("train"), "train", size)
    L_val, ab_val = arrays_from_source(sources.sample_photos("validation"), "validation", size)
    DATA = "the photos bundled with the installed packages"
# `evidence.compare` pairs two score sets of equal length; training and validation photos must not
# be paired.
assert len(L_train) != len(L_val), (
    "equal numbers of training and validation photos would be compared as paired"
)
print(
    f"{DATA}: {len(L_train)} training and {len(L_val)} validation photos of {size}x{size} "
    f"(centre crops) in {time.time() - started:.0f}s"
)

# %% [markdown]
# ## The network


# %%
def multiply_adds(model):
    """Multiply-adds of one forward pass per image: every Conv2D and Dense layer, nested models
    included."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_adds(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            total += int(np.prod(layer.output.shape[1:])) * int(np.prod(layer.kernel.shape[:3]))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


model = RECIPE.build_model()
extractor = next(layer for layer in model.layers if isinstance(layer, keras.Model))
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
print(
    f"{model.name}: input {model.input_shape}, output {model.output_shape}; {trainable:,} "
    f"trainable and {frozen:,} non-trainable parameters (the frozen extractor and the BatchNorm "
    "statistics)"
)
print(
    f"multiply-adds per image: {multiply_adds(model) - multiply_adds(extractor):,} in the "
    f"trainable part, {multiply_adds(extractor):,} in the extractor {extractor.name} (input "
    f"{tuple(extractor.inputs[0].shape[1:])})"
)

# %% [markdown]
# ## Training, with the validation loss the report could not track
#
# After every epoch a callback predicts, in inference mode, the validation
# photos and a fixed probe of every sixth training photo, and records their
# MSE (the loss, in ab units squared). Keras's logged training loss is the
# mean over the epoch's batches in training mode (BatchNorm on batch
# statistics, weights still moving), so it is shown beside, not compared.

# %%
PREDICT_BATCH = 40
probe = slice(None, None, 6)


class InferenceLosses(keras.callbacks.Callback):
    """The inference-mode MSE on validation and probe training photos after each epoch; keeps the
    best network's predictions."""

    def __init__(self):
        super().__init__()
        self.validation, self.training_probe = [], []
        self.best_epoch, self.best_validation_prediction = None, None

    def on_epoch_end(self, epoch, logs=None):
        predicted_val = predict_ab(self.model, L_val, batch_size=PREDICT_BATCH)
        predicted_probe = predict_ab(self.model, L_train[probe], batch_size=PREDICT_BATCH)
        self.validation.append(float(np.mean((predicted_val - ab_val) ** 2)))
        self.training_probe.append(float(np.mean((predicted_probe - ab_train[probe]) ** 2)))
        if self.validation[-1] <= min(self.validation):
            self.best_epoch, self.best_validation_prediction = epoch + 1, predicted_val


# A new order of the training photos every epoch, drawn here: after `keras.utils.set_random_seed`,
# `fit(arrays, shuffle=True)` on TensorFlow (Keras 3.15) draws the same permutation every epoch, so
# every epoch would see the same 17 batches of 40.
RECIPE.compile(model)
tracker = InferenceLosses()
order_rng = np.random.default_rng(0)
history = {"loss": []}
started = time.time()
for epoch in range(RECIPE.epochs):
    order = order_rng.permutation(len(L_train))
    logs = model.fit(
        L_train[order],
        ab_train[order],
        batch_size=RECIPE.batch_size,
        epochs=epoch + 1,
        initial_epoch=epoch,
        shuffle=False,
        callbacks=[tracker],
        verbose=0,
    ).history
    history["loss"] += logs["loss"]
TRAINING_SECONDS = time.time() - started
print(
    f"{RECIPE.epochs} epochs of {len(L_train)} photos in {TRAINING_SECONDS:.0f}s "
    f"({TRAINING_SECONDS / RECIPE.epochs:.1f}s per epoch, validation included)"
)
print(
    f"logged training loss {history['loss'][0]:.1f} -> {history['loss'][-1]:.1f}; inference-mode "
    f"MSE on the training probe {tracker.training_probe[0]:.1f} -> "
    f"{tracker.training_probe[-1]:.1f}, on validation {tracker.validation[0]:.1f} -> "
    f"{tracker.validation[-1]:.1f} (lowest {min(tracker.validation):.1f} after epoch "
    f"{tracker.best_epoch})"
)

# %%
grey_mse_val = float(np.mean(ab_val**2))
epochs = np.arange(1, RECIPE.epochs + 1)
figure, axis = plt.subplots(figsize=(7, 4))
axis.plot(
    epochs,
    history["loss"],
    label="training loss, logged (training mode)",
    color="tab:blue",
    alpha=0.5,
)
axis.plot(
    epochs,
    tracker.training_probe,
    label=f"training photos, predict ({len(L_train[probe])} probe photos)",
    color="tab:blue",
)
axis.plot(
    epochs,
    tracker.validation,
    label=f"validation photos, predict ({len(L_val)})",
    color="tab:orange",
)
axis.axhline(grey_mse_val, color="grey", linestyle=":", label="validation photos, predicting grey")
axis.axvline(
    tracker.best_epoch,
    color="tab:orange",
    linestyle="--",
    linewidth=0.8,
    label=f"lowest validation loss (epoch {tracker.best_epoch})",
)
axis.set_yscale("log")
axis.set_xlabel("epoch")
axis.set_ylabel("MSE of ab (Lab units squared)")
axis.set_title(f"Deep Koalarization, {MODE} mode: training vs validation loss")
axis.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Scoring the final network on training and on validation photos


# %%
def photo_scores(L, ab_true, ab_pred):
    """`evidence.PhotoScores` plus per-photo values of this notebook: the MSE and the mean predicted
    a and b."""
    scores = evidence.PhotoScores(L, ab_true, ab_pred)
    # evidence has no MSE: per-photo values put beside its own are resampled by `compare` the same
    # way.
    scores.values["mse"] = np.mean((np.asarray(ab_pred) - ab_true) ** 2, axis=(1, 2, 3))
    scores.values["mean_a"] = np.mean(np.asarray(ab_pred)[..., 0], axis=(1, 2))
    scores.values["mean_b"] = np.mean(np.asarray(ab_pred)[..., 1], axis=(1, 2))
    return scores


started = time.time()
predicted_train = predict_ab(model, L_train, batch_size=PREDICT_BATCH)
predicted_val = predict_ab(model, L_val, batch_size=PREDICT_BATCH)
scores = {
    "training, network": photo_scores(L_train, ab_train, predicted_train),
    "training, truth": photo_scores(L_train, ab_train, ab_train),
    "validation, network": photo_scores(L_val, ab_val, predicted_val),
    "validation, grey": photo_scores(L_val, ab_val, np.zeros_like(ab_val)),
    "validation, truth": photo_scores(L_val, ab_val, ab_val),
}
if tracker.best_epoch == RECIPE.epochs:
    scores["validation, lowest-loss epoch"] = scores["validation, network"]
else:
    scores["validation, lowest-loss epoch"] = photo_scores(
        L_val, ab_val, tracker.best_validation_prediction
    )
columns = ("mse", "auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "mean_a", "mean_b")
print(f"{'':<32}" + "".join(f"{c:>15}" for c in columns))
for name, score in scores.items():
    print(f"{name:<32}" + "".join(f"{score.metric(c):>15.3f}" for c in columns))
print(f"scored in {time.time() - started:.0f}s")

# %% [markdown]
# ## Claims and verdicts
#
# The pooled AuC is recomputed from each resample's error histograms (every
# photo's 313 x 151 counts), about 0.2-0.5 s per resample on this machine for
# the 661 training photos, so its intervals use the number of resamples
# printed in the settings (200 in cpu mode); the per-photo metrics use 1,000.

# %%
claims = evidence.Claims(
    "02_deep_koalarization",
    MODE,
    train_photos=len(L_train),
    validation_photos=len(L_val),
    image_size=size,
    epochs=RECIPE.epochs,
    width=SETTINGS["width"],
    extractor=EXTRACTOR["feature_extractor"],
)
resamples, auc_resamples = SETTINGS["resamples"], SETTINGS["auc_resamples"]
train_scores, val_scores = scores["training, network"], scores["validation, network"]
GAP_CLAIM = (
    "Trained on a small set, the network does not generalise: the test images 'do not generalize "
    "as well' as the training images"
)
GAP_REPORT = (
    "qualitative (sections 1, 4.3, 4.3.2); Figure 2 shows only the training loss, the text gives "
    "no value; 1,000 training images"
)

gap = evidence.compare(train_scores, val_scores, "mse", resamples=resamples)
claims.add_verdict(
    "001",
    GAP_CLAIM + " (MSE of ab)",
    GAP_REPORT,
    {
        "train_mse": gap["a"],
        "validation_mse": gap["b"],
        "difference": gap["difference"],
        "difference_low": gap["low"],
        "difference_high": gap["high"],
        "logged_final_training_loss": history["loss"][-1],
    },
    evidence.verdict_for_difference(gap["low"], gap["high"], expected_sign=-1),
    why=(
        "training minus validation MSE of predict (unpaired bootstrap over photos), claimed below "
        "zero"
    ),
)
for metric, resampled in (("psnr", resamples), ("auc", auc_resamples)):
    claims.add_comparison(
        "001",
        f"{GAP_CLAIM} ({metric.upper()})",
        GAP_REPORT,
        evidence.compare(train_scores, val_scores, metric, resamples=resampled),
        names=(f"train_{metric}", f"validation_{metric}"),
        expected_sign=+1,
        why=(
            f"training minus validation {metric.upper()} (unpaired bootstrap, {resampled} "
            "resamples), claimed above zero"
        ),
    )

# %% [markdown]
# **Overfitting.** The report expects the validation loss to rise with more
# iterations once the network overfits. We compare, on the same validation
# photos (paired), the final network's MSE with the MSE after the epoch of
# the lowest validation loss. That epoch is chosen on these same photos, so
# the interval leans slightly towards "supported"; a difference well outside
# the interval's width is what counts. If the lowest loss is at the last
# epoch the difference is zero and the rule gives "inconclusive".

# %%
overfit = evidence.compare(
    val_scores, scores["validation, lowest-loss epoch"], "mse", resamples=resamples
)
_ = claims.add_verdict(
    "001",
    "'my model is likely overfitted': the validation loss increases with more iterations",
    "not measured in the report (section 4.2; validation loss named as a missing improvement in "
    "4.4.1)",
    {
        "final_validation_mse": overfit["a"],
        "lowest_validation_mse": overfit["b"],
        "difference": overfit["difference"],
        "difference_low": overfit["low"],
        "difference_high": overfit["high"],
        "lowest_loss_epoch": tracker.best_epoch,
        "epochs": RECIPE.epochs,
    },
    evidence.verdict_for_difference(overfit["low"], overfit["high"], expected_sign=+1),
    why="final minus lowest-epoch validation MSE (paired bootstrap), claimed above zero",
)

# %% [markdown]
# **Washed, sepia colours.** "Washed" and "desaturated" are read as a
# colourfulness (Hasler & Suesstrunk) of the predictions below that of the
# true photos, on the same photos (paired); "sepia" as a mean predicted
# colour in the yellow-red quarter of the ab plane (sepia's hue lies there):
# both the mean a and the mean b above zero, so the interval of the smaller
# of the two, bootstrapped over the validation photos, must lie above zero.
# The truth's mean a and b are printed beside: a network that regresses to
# the average colour of its training photos inherits their tint.
#
# **Better than grey.** The report's "the performance isn't good" has no
# measure; we read it as: on unseen photos the network's AuC beats that of
# predicting grey. Grey is a strong baseline for the AuC, because most pixels
# of most photos are close to grey, and a network that puts a colour in the
# wrong place scores below it. Here the network also lacks the ImageNet
# embedding that would tell it what it is looking at (the random extractor
# above), so this verdict is about this network at this scale, not about the
# report's.

# %%
claims.add_comparison(
    "001",
    "Training images colourised by the network 'do seem washed, as expected'",
    "qualitative (section 4.3.1, Figure 3)",
    evidence.compare(train_scores, scores["training, truth"], "colorfulness", resamples=resamples),
    names=("predicted_colorfulness", "true_colorfulness"),
    expected_sign=-1,
    why="predicted minus true colourfulness on the training photos (paired), claimed below zero",
)
claims.add_comparison(
    "001",
    "Regression (MSE) 'leads to a strong desaturation leaving most images gray'",
    "qualitative (section 2.1)",
    evidence.compare(val_scores, scores["validation, truth"], "colorfulness", resamples=resamples),
    names=("predicted_colorfulness", "true_colorfulness"),
    expected_sign=-1,
    why="predicted minus true colourfulness on the validation photos (paired), claimed below zero",
)
# Sepia needs both a > 0 and b > 0: the bootstrap interval of the smaller of the two means must lie
# above 0.
rng = np.random.default_rng(0)
warmth = []
for _ in range(resamples):
    weights = np.bincount(
        rng.integers(0, len(val_scores), len(val_scores)), minlength=len(val_scores)
    )
    warmth.append(min(val_scores.metric("mean_a", weights), val_scores.metric("mean_b", weights)))
warmth_low, warmth_high = np.percentile(warmth, [2.5, 97.5])
mean_ab = predicted_val.reshape(-1, 2).mean(axis=0)
true_ab = ab_val.reshape(-1, 2).mean(axis=0)
claims.add_verdict(
    "001",
    "... and 'sepia': the predictions lean to yellow-brown (mean a > 0 and mean b > 0)",
    "qualitative (section 2.1)",
    {
        "predicted_mean_a": mean_ab[0],
        "predicted_mean_b": mean_ab[1],
        "true_mean_a": true_ab[0],
        "true_mean_b": true_ab[1],
        "smaller_mean_low": warmth_low,
        "smaller_mean_high": warmth_high,
        "predicted_hue_degrees": np.degrees(np.arctan2(mean_ab[1], mean_ab[0])),
    },
    evidence.verdict_for_difference(warmth_low, warmth_high, expected_sign=+1),
    why=(
        "the smaller of the mean predicted a and b on the validation photos (bootstrap over "
        "photos), claimed above zero"
    ),
)
_ = claims.add_comparison(
    "001",
    "On unseen images 'that doesn't mean the performance isn't good': better than predicting grey",
    "qualitative (section 4.3.2, Figure 4)",
    evidence.compare(val_scores, scores["validation, grey"], "auc", resamples=auc_resamples),
    names=("network_auc", "grey_auc"),
    expected_sign=+1,
    why=(
        f"AuC of the network minus that of grey on the validation photos (paired, {auc_resamples} "
        "resamples), claimed above zero"
    ),
)

# %% [markdown]
# ## Training photos and validation photos
#
# Grey input | the network's prediction | the truth, for the first photos of
# each split (by file name).


# %%
def show_grid(title, L, ab_pred, ab_true, rows=4):
    rows = min(rows, len(L))
    panels = {
        "grey": to_rgb(L[:rows], np.zeros_like(ab_true[:rows])),
        "prediction": to_rgb(L[:rows], ab_pred[:rows]),
        "truth": to_rgb(L[:rows], ab_true[:rows]),
    }
    figure, axes = plt.subplots(rows, 3, figsize=(6, 2 * rows), squeeze=False)
    for row in range(rows):
        for column, (name, images) in enumerate(panels.items()):
            axes[row, column].imshow(images[row])
            axes[row, column].axis("off")
            if row == 0:
                axes[row, column].set_title(name, fontsize=9)
    figure.suptitle(title)
    plt.show()


show_grid(f"training photos ({MODE} mode)", L_train, predicted_train, ab_train)
show_grid(f"validation photos, never trained on ({MODE} mode)", L_val, predicted_val, ab_val)

# %% [markdown]
# ## Results

# %%
claims.results["notebook_seconds"] = round(time.time() - NOTEBOOK_STARTED, 1)
claims.write()
print(claims.table())
print(
    f"MODE={MODE}: the whole notebook ran in {time.time() - NOTEBOOK_STARTED:.0f}s "
    f"(training {TRAINING_SECONDS:.0f}s)"
)

# %% [markdown]
# ## Reading the verdicts (this run)
#
# - **The gap** the report expected is there on every measure: on the loss
#   curves the training photos' MSE falls through the epochs while the
#   validation photos' stays close to that of predicting grey (dotted line).
#   The network memorises its ~660 photos more than it learns colours that
#   carry over. Our validation photos are of classes never trained on, which
#   is harder than the report's test images (other images of the same
#   Places365 scenes), so the gap here is likely wider than the report's.
# - **Overfitting as the report defines it**, a validation loss that rises
#   again with more iterations: the validation MSE is lowest after epoch 43
#   (237.7) and ends at 287.0 after epoch 70, a rise whose interval (+23 to
#   +79) lies above zero. The lowest epoch is chosen on the same photos, which
#   leans towards "supported", but the rise is several times the epoch-to-epoch
#   jitter of the curve. An earlier run of this notebook that fed `fit` the
#   same 17 batches every epoch (Keras's seeded `shuffle=True`, see Training)
#   found the rise (+7.8, interval -5 to +21) inconclusive; with a new order
#   every epoch the network fits its photos more closely and the rise is clear.
# - **Washed and sepia**: the predictions are less colourful than the truth
#   on training photos too, and their mean colour sits on the yellow side of
#   grey, as the report describes for a regression loss.
# - **Better than grey**: not on these unseen photos, for this network
#   without a semantic extractor (see above); the report judged its test
#   images by eye.
