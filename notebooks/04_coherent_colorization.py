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
# distribution Z over 313 ab bins at 1/4 resolution; a grey-input branch and
# the upsampled Z predict a refined distribution Zhat at full resolution,
# decoded to ab through the 313 x 2 bin matrix after a low-temperature softmax
# (eq. 2). The losses: Zhang's rebalanced cross-entropy on Z, a
# gradient-coherence loss (eq. 3) on the decoded ab and a colour regulariser
# (eq. 5, T = 0.01) between Z and Zhat; the last two are stopped before the
# base (section 4). In the library: `colorization.models.coherent(...)`.
#
# The report's result is negative: the refined output "always chooses a
# mostly constant value for all pixels" (section 5). It proposes, untested,
# to rebalance the coherence loss by the empirical distribution of gradient
# sizes. This notebook trains the model with and without that fix and
# measures, on validation photos never trained on and from inference-mode
# predictions:
#
# 1. the collapse: the refined colours against the base's own decoded colours
#    (per-photo spread of the predicted ab, share of pixels in the photo's
#    dominant colour bin, colourfulness);
# 2. whether the fix reduces the collapse (the same three numbers with the fix
#    against without);
# 3. whether the base is the same in both runs, as the stop-gradient implies
#    (its cross-entropy on the validation photos in both runs).
#
# **Modes.** `SMOKE=1` (CI): a few photos, one short epoch; the numbers mean
# nothing. `MODE=cpu`: the imagenet-800 photos (fixed split, below) at 48x48,
# a base at 1/4 width, 6 epochs of two random crops per photo, on a 2-core
# CPU in at most 12 minutes. Default (full): the report's settings on COCO
# 2017 for a GPU (not run here).
#
# **Full mode on one H200-class GPU (expected, not measured).** Model: 32.47 M
# parameters (32.24 M in the base, 0.23 M in the refinement; the
# `CoherentColorizer` docstring; full mode prints `count_params`). Forward
# cost per 256x256 image, summing the convolutions' multiply-adds: 41.8 GMAC
# in the base, 13.0 GMAC in the refinement's 3x3 convolution over the 345
# channels of [upsampled Z, grey branch] at full resolution, 1.3 GMAC in the
# 1x1 convolution to 313 logits, 0.6 GMAC in the grey branch: 56.7 GMAC =
# 113 GFLOP; a training step is about 3x that, 340 GFLOP per image. 15 epochs
# of 86,301 images = 1.29 M image-steps = 4.4e17 FLOP per run; at ~150 TFLOP/s
# sustained (TF32 convolutions, roughly 30% of the H200's dense TF32 peak)
# about 49 minutes. The full-resolution 313-bin tensors are memory-bound:
# 256 x 256 x 313 float32 = 82 MB per image, about 25 passes forward and
# backward (softmax, the two T = 0.01 sharpenings, the regulariser's product,
# their gradients) = 2 GB per image, 2.6e18 B per run at ~3.4 TB/s (70% of
# 4.8 TB/s), about 13 minutes. So about 1 hour per run, **about 2 hours for
# the two runs**, plus writing the COCO shards (123,287 JPEGs on the CPUs,
# roughly 15-20 minutes) and the measurement (minutes).
# Memory while training (batch 40): parameters + gradients + Adam's two
# moments = 4 x 130 MB = 0.5 GB; convolution outputs 49.8 M floats per image,
# about twice that kept for the backward pass with batch norm (0.4 GB); about
# 8 kept full-resolution 313-bin tensors (0.65 GB): about 1.05 GB per image,
# **about 42 GB per batch of 40**, within the H200's 141 GB.
# Big tensors when measuring: the base's probabilities for N validation images
# are (N, 64, 64, 313) float32 = 5.1 MB per image, 190 GB for all 36,986, and
# one ab array of all of them is 19 GB. So full mode predicts the base in
# chunks of 256 images (1.3 GB), decoding each chunk to ab before the next,
# and measures on the first 2,000 images of COCO's validation split (1 GB per
# ab array, 0.4 GB of AuC histograms per `PhotoScores`), which a bootstrap
# over photos judges as well as all of them would.

# %% [markdown]
# ## Setup
#
# The report names no optimizer, learning rate or batch size: full mode uses
# Zhang's (Adam, beta_2 0.99, batch 40) with learning rate 1e-4
# (`recipes.report003()`).
#
# **Deviations in cpu mode, and why** (all forced by the 12-minute budget on
# two cores, which must train the model twice): 48x48 photos instead of
# 256x256 (a training step at 64x64 cost 1.3 CPU-seconds per batch of 16
# against 0.7 at 48x48: the full-resolution 313-bin tensors of the refinement
# dominate); a base at width 16 (1/4 of the channels), a grey branch of 16
# and a refinement convolution of 32 channels instead of 32 and 64; the
# imagenet-800 training photos (about 660 in colour) instead of 86,301 COCO
# images, with Zhang's
# augmentation (two random crops per photo, random left-right flips);
# 6 epochs instead of 15; batch 16 and learning rate 1e-3 (ten times the
# full mode's: with about 500 steps, 1e-4 barely moves the base). The
# measurements use one centre crop of each validation photo.

# %%
# %matplotlib inline
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
NOTEBOOK_STARTED = time.time()

import keras
import matplotlib.pyplot as plt
import numpy as np

import data_pipeline
from colorization.inference import predict_ab
from colorization.losses import RebalancedCrossEntropy
from colorization.models.coherent import coherence_rebalancing
from colorization.models.coherent import gradient_magnitude_counts
from colorization.quantization import ABQuantizer
from colorization.training import recipes
from notebook_support import evidence
from notebook_support import photo_split
from notebook_support import visualization

MODE = evidence.notebook_mode()
SEED = 0
BASE_TEMPERATURE = (
    0.38  # Zhang et al.'s annealed mean, the base's own decoding (report 003, section 2.3)
)
SETTINGS = {
    "smoke": dict(
        image_size=32,
        width=4,
        branch_filters=8,
        refine_filters=16,
        batch_size=8,
        epochs=1,
        learning_rate=1e-3,
        train_crops=1,
        train_limit=16,
        validation_limit=8,
    ),
    "cpu": dict(
        image_size=48,
        width=16,
        branch_filters=16,
        refine_filters=32,
        batch_size=16,
        epochs=6,
        learning_rate=1e-3,
        train_crops=2,
        train_limit=None,
        validation_limit=None,
    ),
    "full": dict(
        image_size=256,
        width=64,
        branch_filters=32,
        refine_filters=64,
        batch_size=40,
        epochs=15,
        learning_rate=1e-4,
        train_crops=1,
        train_limit=None,
        validation_limit=2000,
    ),
}[MODE]
RECIPE = recipes.report003().replace(
    batch_size=SETTINGS["batch_size"],
    epochs=SETTINGS["epochs"],
    learning_rate=SETTINGS["learning_rate"],
)
size = SETTINGS["image_size"]
DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook04_"))
print(f"MODE={MODE} ({'cpu mode' if MODE == 'cpu' else MODE}); settings {SETTINGS}")

# %% [markdown]
# ## Data
#
# `cpu` and `SMOKE`: `../shared/photos/imagenet-800`, split by
# `notebook_support.photo_split`: sorted by file name, every 7th photo is a
# validation photo (so its class is never trained on), the rest train;
# greyscale photos are skipped. Training shards hold random crops (Zhang's
# augmentation) read with random flips; validation is one centre crop per
# photo. Full mode: COCO 2017 through TFDS, the report's 86,301 training
# images (the first of COCO's train split) and its other 36,986 for
# validation (the rest of train plus val), measured on the first 2,000 of val.


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


def read_arrays(directory, split, limit=None):
    """`(L, ab)` NumPy arrays of a shard split, in manifest order, at most `limit` examples."""
    L, ab = [], []
    for batch_L, batch_ab in data_pipeline.iterate_numpy(
        directory, 256, shuffle=False, split=split
    ):
        L.append(batch_L), ab.append(batch_ab)
        if limit is not None and sum(len(x) for x in L) >= limit:
            break
    return np.concatenate(L)[:limit], np.concatenate(ab)[:limit]


started = time.time()
crops = dict(
    crops_per_image=SETTINGS["train_crops"], crop="random" if SETTINGS["train_crops"] > 1 else None
)
if MODE == "full":
    from data_pipeline import sources

    coco_train = sources.tfds("coco/2017", split="train")
    data_pipeline.write_shards(
        Slice(coco_train, 0, RECIPE.train_images, "train"), DATA, image_size=size
    )
    data_pipeline.write_shards(
        Slice(coco_train, RECIPE.train_images, len(coco_train), "rest"), DATA, image_size=size
    )
    data_pipeline.write_shards(sources.tfds("coco/2017", split="validation"), DATA, image_size=size)
    L_val, ab_val = read_arrays(DATA, "validation", SETTINGS["validation_limit"])
    TRAIN_PHOTOS = RECIPE.train_images
    VALIDATION_IMAGES = 36_986
elif photo_split.find_photo_folder() is not None:
    L_train, ab_train, train_ids = photo_split.load_split(
        "train", size, limit=SETTINGS["train_limit"], seed=SEED, shard_dir=DATA, **crops
    )
    L_val, ab_val, val_ids = photo_split.load_split(
        "validation", size, limit=SETTINGS["validation_limit"], shard_dir=DATA / "validation"
    )
    TRAIN_PHOTOS = len(
        {example_id.split("#")[0] for example_id in train_ids}
    )  # crop k of a photo is "name#k"
    VALIDATION_IMAGES = len(L_val)
else:
    print(
        "imagenet-800 photos not found beside the repository: using data_pipeline's bundled "
        "sample photos"
    )
    data_pipeline.write_shards(
        data_pipeline.sources.sample_photos("train"), DATA, image_size=size, **crops
    )
    data_pipeline.write_shards(
        data_pipeline.sources.sample_photos("validation"), DATA / "validation", image_size=size
    )
    L_val, ab_val = read_arrays(DATA / "validation", "validation")
    TRAIN_PHOTOS = len(data_pipeline.sources.sample_photos("train"))
    VALIDATION_IMAGES = len(L_val)

train_examples = data_pipeline.load_manifest(DATA)["splits"]["train"]["num_examples"]
PRIOR = data_pipeline.compute_prior(DATA, split="train")
CLASS_WEIGHTS = RECIPE.class_weights(PRIOR)  # report 003 eq. 1, lambda = 1/2
GRADIENT_COUNTS = gradient_magnitude_counts(
    data_pipeline.iterate_numpy(DATA, 256, shuffle=False, split="train")
)
print(
    f"training: {TRAIN_PHOTOS} photos, {train_examples} crops of {size}x{size}; "
    f"measured on {len(L_val)} validation images of {size}x{size} (of {VALIDATION_IMAGES}); "
    f"data ready in {time.time() - started:.0f}s"
)


# %% [markdown]
# ## The fix: weights from the empirical distribution of gradient sizes
#
# Section 5 says "most adjacent pixels in our training set are quite
# similar" and proposes to weigh the coherence loss like Zhang's colour
# rebalancing (eq. 1). `gradient_magnitude_counts` bins the true ab gradient
# magnitude of every training pixel (Lab units per pixel, the four forward
# differences of a and b that eq. 3 compares); `coherence_rebalancing` turns
# the distribution p into weights `((1 - 1/2) p + 1/2 / K) ** -1`, normalised
# to mean 1 under p, so rare (large) gradients weigh more.

# %%
FIX = coherence_rebalancing(GRADIENT_COUNTS, alpha=1.0, gamma=0.5)
gradient_share = GRADIENT_COUNTS / GRADIENT_COUNTS.sum()
labels = ["0"] + [f"{e:g}" for e in FIX["edges"]]
print(f"{'|grad| from':>12}{'share':>10}{'weight':>10}")
for label, share, weight in zip(labels, gradient_share, FIX["weights"]):
    print(f"{label:>12}{share:>10.3f}{weight:>10.2f}")
print(
    f"{gradient_share[:3].sum():.0%} of training pixels have an ab gradient below "
    f"{FIX['edges'][2]:g} Lab units"
)

# %% [markdown]
# ## Training: the report's model, and the same model with the fix
#
# Both runs set the same seed before building (so both bases start from the
# same weights, checked below) and read the same crops in the same order with
# the same flips: each epoch's batches come from `iterate_numpy` (NumPy,
# seeded by the epoch), not from `read_shards`, whose seeded flips turned out
# not to repeat between two datasets built in one process (the tf.data flip
# draws from TensorFlow's stateful random ops), which made the two bases
# see different flips. The coherence loss, rebalanced or not, and
# the regulariser reach only the refinement (the model's `StopGradient` on Z
# and the regulariser's stop on Z), so the two bases should train
# identically. The curves are the training losses `fit` logs (training mode,
# running means over each epoch), shown for how training went; every claim
# below is measured from inference-mode predictions on validation photos.


# %%
def train_epoch(epoch):
    """The epoch's `(L, ab)` batches: shuffled and flipped by NumPy from the seed and the epoch
    alone."""
    return data_pipeline.iterate_numpy(
        DATA,
        RECIPE.batch_size,
        shuffle=True,
        flip=True,
        seed=SEED + epoch,
        split="train",
        drop_remainder=True,
    )


def build(rebalancing):
    keras.utils.set_random_seed(SEED)
    model = RECIPE.build_model(
        input_shape=(size, size, 1),
        width=SETTINGS["width"],
        branch_filters=SETTINGS["branch_filters"],
        refine_filters=SETTINGS["refine_filters"],
        class_weights=CLASS_WEIGHTS,
        coherence_rebalancing=rebalancing,
    )
    return RECIPE.compile(model)


RUN_NAMES = ("without the fix", "with the fix")
runs = {}
for name, rebalancing in zip(RUN_NAMES, (None, FIX)):
    model = build(rebalancing)
    initial_base = [np.array(w) for w in model.base.get_weights()]
    history, seconds = {}, []
    for epoch in range(RECIPE.epochs):
        epoch_started = time.time()
        logs = model.fit(train_epoch(epoch), epochs=1, verbose=0).history
        seconds.append(time.time() - epoch_started)
        for key, values in logs.items():
            history.setdefault(key, []).extend(values)
    runs[name] = dict(model=model, history=history, initial_base=initial_base, seconds=seconds)
    print(
        f"{name}: {model.count_params():,} parameters ({model.base.count_params():,} in the base); "
        f"epoch 1 took {seconds[0]:.0f}s, {RECIPE.epochs} epochs {sum(seconds):.0f}s"
    )

visualization.plot_histories(
    {k: v["history"] for k, v in runs.items()},
    keys=("cross_entropy", "coherence", "regularizer", "loss"),
)
plt.suptitle("training losses logged by fit (training mode)", y=1.02)
plt.show()

# %% [markdown]
# ## Inference-mode predictions on the validation photos
#
# For each run and validation photo: the base's own colours (`predict_ab` on
# `model.base`: Zhang's annealed mean of Z at T = 0.38, upsampled to the
# photo), and the refined colours (`predict_ab` on the model: Zhat decoded
# through the bin matrix at T = 0.01). The base's probabilities are predicted
# and decoded in chunks, so no (N, H/4, W/4, 313) array of all photos exists.
# The base's rebalanced cross-entropy (the loss it trains on, with the
# training prior's weights) is computed from the same inference-mode
# probabilities, chunk by chunk, per photo.

# %%
CHUNK = 256
quantizer = ABQuantizer()
per_pixel_cross_entropy = RebalancedCrossEntropy(class_weights=CLASS_WEIGHTS, reduction=None)


def base_predictions(model, L, ab_true):
    """The base's ab at T = 0.38 and its per-photo cross-entropy, `CHUNK` photos at a time."""
    ab_parts, entropy_parts = [], []
    for start in range(0, len(L), CHUNK):
        L_chunk, ab_chunk = L[start : start + CHUNK], ab_true[start : start + CHUNK]
        probabilities = model.base.predict(L_chunk, batch_size=64, verbose=0)
        entropy = keras.ops.convert_to_numpy(per_pixel_cross_entropy(ab_chunk, probabilities))
        entropy_parts.append(entropy.reshape(len(L_chunk), -1).mean(axis=1))
        ab_parts.append(
            predict_ab(model.base, L_chunk, temperature=BASE_TEMPERATURE, batch_size=64)
        )
    return np.concatenate(ab_parts), np.concatenate(entropy_parts)


started = time.time()
predictions, base_cross_entropy = {}, {}
for name, run in runs.items():
    predictions[f"base, {name}"], base_cross_entropy[name] = base_predictions(
        run["model"], L_val, ab_val
    )
    predictions[f"refined, {name}"] = predict_ab(run["model"], L_val, batch_size=64)
print(f"predicted {len(L_val)} validation photos with 4 outputs in {time.time() - started:.0f}s")

# %% [markdown]
# ## Measuring a collapse per photo
#
# For each photo and output, besides `evidence.PhotoScores`' colourfulness
# (Hasler and Suesstrunk, on the sRGB image):
#
# - **ab spread**: `sqrt(var(a) + var(b))` over the photo's pixels, in Lab
#   units (the standard deviations of a and b are printed separately too).
#   A near-constant colour has a spread near 0.
# - **dominant-bin share**: each pixel's predicted ab is assigned its nearest
#   of the 313 bins; the share of pixels in the photo's most frequent bin. A
#   near-constant colour has a share near 1.
#
# Both are added to `PhotoScores` as per-photo values, so `evidence.compare`
# bootstraps them over photos like its own metrics.


# %%
def ab_spread(ab):
    return np.sqrt(ab[..., 0].var(axis=(1, 2)) + ab[..., 1].var(axis=(1, 2)))


def dominant_bin_share(ab):
    shares = []
    for start in range(0, len(ab), CHUNK):
        bins = keras.ops.convert_to_numpy(quantizer.hard_encode(ab[start : start + CHUNK]))
        shares += [np.bincount(row).max() / row.size for row in bins.reshape(len(bins), -1)]
    return np.array(shares)


class CollapseScores(evidence.PhotoScores):
    """`PhotoScores` with the per-photo ab spread and dominant-bin share of the predictions."""

    def __init__(self, L, ab_true, ab_pred):
        super().__init__(L, ab_true, ab_pred)
        self.values["ab_spread"] = ab_spread(ab_pred)
        self.values["dominant_bin_share"] = dominant_bin_share(ab_pred)
        self.values["std_a"] = ab_pred[..., 0].std(axis=(1, 2))
        self.values["std_b"] = ab_pred[..., 1].std(axis=(1, 2))


scores = {name: CollapseScores(L_val, ab_val, ab) for name, ab in predictions.items()}
scores["truth"] = CollapseScores(L_val, ab_val, ab_val)
columns = ("ab_spread", "std_a", "std_b", "dominant_bin_share", "colorfulness", "auc")
print(f"{'mean over validation photos':<30}" + "".join(f"{c:>20}" for c in columns))
for name, photo_scores in scores.items():
    print(f"{name:<30}" + "".join(f"{photo_scores.metric(c):>20.3f}" for c in columns))

# %% [markdown]
# Which colour does each output choose? The mean a and b over all validation
# pixels, and how much the per-photo mean colour varies between photos (a
# refinement that picks one colour for every photo has both spreads near 0).

# %%
print(f"{'output':<30}{'mean a':>10}{'mean b':>10}{'std over photos of the photo mean a, b':>42}")
for name, ab in list(predictions.items()) + [("truth", ab_val)]:
    photo_means = ab.mean(axis=(1, 2))
    spread_between = photo_means.std(axis=0)
    print(
        f"{name:<30}{ab[..., 0].mean():>10.2f}{ab[..., 1].mean():>10.2f}"
        f"{spread_between[0]:>21.3f}{spread_between[1]:>21.3f}"
    )

# %%
figure, axes = plt.subplots(1, 2, figsize=(11, 3.4))
for name in ("base, without the fix", "refined, without the fix", "refined, with the fix", "truth"):
    axes[0].hist(
        scores[name].values["ab_spread"], bins=25, histtype="step", linewidth=1.5, label=name
    )
    axes[1].hist(
        scores[name].values["dominant_bin_share"],
        bins=25,
        range=(0, 1),
        histtype="step",
        linewidth=1.5,
        label=name,
    )
axes[0].set_xlabel("ab spread per photo, sqrt(var a + var b) (Lab units)")
axes[1].set_xlabel("share of pixels in the photo's dominant ab bin")
for axis in axes:
    axis.set_ylabel("validation photos")
axes[0].legend(fontsize=8)
figure.tight_layout()
plt.show()

# %%
rows = min(6, len(L_val))
shown = np.linspace(0, len(L_val) - 1, rows).astype(int)
figure = visualization.plot_colorizations(
    L_val[shown],
    {
        "base (T=0.38)": predictions["base, without the fix"][shown],
        "refined": predictions["refined, without the fix"][shown],
        "refined with the fix": predictions["refined, with the fix"][shown],
    },
    ab_val[shown],
    max_images=rows,
)
plt.show()

# %% [markdown]
# ## Claims and verdicts
#
# **The rule** (`notebook_support.evidence`): for a difference between two
# outputs on the same validation photos, `compare` resamples the photos
# 1,000 times (paired) and takes the 95% percentile interval of the
# difference of the metric's mean; the claim is "supported" when the
# interval lies entirely on the side the report claims, "not supported" when
# entirely on the other side, and "inconclusive at this scale" when it
# contains zero. For "the same in both runs", `verdict_for_agreement`:
# "supported" when the two numbers differ by at most the stated relative
# tolerance of the larger. The bootstrap measures the dependence on which
# photos were judged, not on the training seed.
#
# The collapse is judged against the base's own decoded colours: the report
# says the refinement, which was meant to keep the base's colours, chose a
# near-constant value instead. So refined minus base is expected negative for
# the ab spread and the colourfulness, positive for the dominant-bin share.
# The fix is judged as "with minus without": positive spread and
# colourfulness, negative dominant-bin share, if it reduces the collapse.

# %%
claims = evidence.Claims(
    "04_coherent_colorization",
    MODE,
    train_photos=TRAIN_PHOTOS,
    validation_photos=len(L_val),
    image_size=size,
    epochs=RECIPE.epochs,
)
COLLAPSE_MEASURES = (
    ("ab_spread", -1, "the per-photo ab spread"),
    ("dominant_bin_share", +1, "the share of pixels in the photo's dominant ab bin"),
    ("colorfulness", -1, "the colourfulness"),
)
for metric, sign, words in COLLAPSE_MEASURES:
    claims.add_comparison(
        "003",
        f"the refined output 'always chooses a mostly constant value for all pixels' ({metric})",
        "qualitative (section 5): the refined colours collapse to a near-constant value",
        evidence.compare(
            scores["refined, without the fix"], scores["base, without the fix"], metric, seed=SEED
        ),
        names=("refined", "base"),
        expected_sign=sign,
        why=(
            f"refined minus the base's own colours (T=0.38), {words}, expected "
            f"{'+' if sign > 0 else '-'}"
        ),
    )
for metric, sign, words in COLLAPSE_MEASURES:
    claims.add_comparison(
        "003",
        "rebalancing the coherence loss by the gradient-size distribution would address the "
        f"collapse ({metric})",
        "proposed, untested (section 5)",
        evidence.compare(
            scores["refined, with the fix"], scores["refined, without the fix"], metric, seed=SEED
        ),
        names=("with_fix", "without_fix"),
        expected_sign=-sign,
        why=f"refined with minus without the fix, {words}, expected {'+' if -sign > 0 else '-'}",
    )

# %% [markdown]
# The three comparisons above ask whether the fix moves the refined output
# away from the collapse at all; a statistically clear but tiny change counts
# as "supported" there. Whether it removes the collapse is a second question:
# with the fix, does the refined output keep at least the base's spread
# (refined with the fix minus base, expected positive)?

# %%
claims.add_comparison(
    "003",
    "rebalancing the coherence loss by the gradient-size distribution would address the collapse "
    "(refined ab spread with the fix reaches the base's)",
    "proposed, untested (section 5)",
    evidence.compare(
        scores["refined, with the fix"], scores["base, with the fix"], "ab_spread", seed=SEED
    ),
    names=("refined_with_fix", "base"),
    expected_sign=+1,
    why="refined with the fix minus the base's own colours, the per-photo ab spread, expected +",
)

# %% [markdown]
# **The base is the same in both runs.** Section 4: the coherence and
# regulariser gradients "are set to zero before being back propagated", so
# "both parts can be trained independently"; with the same seed and data the
# base's training cannot depend on how the coherence loss is weighted. The
# tolerance is 1% of the cross-entropy, stated before the run: far below the
# differences between training choices, above the float rounding that
# multi-threaded CPU kernels may add. Printed beside it: whether both bases
# started from the same weights, and how far their trained weights and their
# predicted colours are apart.

# %%
CROSS_ENTROPY_TOLERANCE = 0.01
without, with_fix = (runs[name] for name in RUN_NAMES)
initial_gap = max(
    float(np.max(np.abs(a - b))) for a, b in zip(without["initial_base"], with_fix["initial_base"])
)
trained_gap = max(
    float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    for a, b in zip(without["model"].base.get_weights(), with_fix["model"].base.get_weights())
)
colour_gap = float(
    np.max(np.abs(predictions["base, without the fix"] - predictions["base, with the fix"]))
)
logged_gap = max(
    abs(a - b)
    for a, b in zip(without["history"]["cross_entropy"], with_fix["history"]["cross_entropy"])
)
print(
    f"largest base weight difference: {initial_gap:.3g} at the start, {trained_gap:.3g} after "
    f"training; largest difference of the bases' ab: {colour_gap:.3g} Lab units; of the logged "
    f"training cross-entropy: {logged_gap:.3g}"
)
cross_entropy = {name: float(base_cross_entropy[name].mean()) for name in RUN_NAMES}
claims.add_verdict(
    "003",
    "the base is trained by the cross-entropy alone: its cross-entropy is the same in both runs",
    "qualitative (section 4): coherence and regulariser gradients are stopped before the base",
    {
        "cross_entropy_without_fix": cross_entropy["without the fix"],
        "cross_entropy_with_fix": cross_entropy["with the fix"],
        "largest_base_weight_difference": trained_gap,
    },
    evidence.verdict_for_agreement(
        cross_entropy["without the fix"], cross_entropy["with the fix"], CROSS_ENTROPY_TOLERANCE
    ),
    why=(
        "the base's rebalanced cross-entropy on the validation photos (inference mode), same seed "
        "and data"
    ),
)

# %%
claims.write()
print(claims.table())
print(f"MODE={MODE}: the notebook ran in {time.time() - NOTEBOOK_STARTED:.0f}s")

# %% [markdown]
# ## What the numbers say
#
# The verdicts above are computed by the rule; this cell says how to read
# them (the numbers are in the printed tables). At cpu scale the base is
# trained on about 660 photos for 6 short epochs at 48x48, so its own colours
# are weak: its ab spread is a fraction of the truth's (table above). Against
# that weak base the refinement still collapses the way section 5 describes:
# its Zhat puts its mode on one bin at every pixel, so the decoded ab is one
# constant colour per photo (a spread of a small fraction of a Lab unit, a
# dominant-bin share of 1), and, by the colour table, nearly the same colour
# for every photo. A collapse against a colourful base (the report's 15
# epochs on 86,301 COCO images at 256x256) is not what this run shows; that
# it already happens here, where the base still has some colour to keep,
# agrees with the report's reading that the coherence term pulls the output
# to a uniform colour.
#
# The fix: the spread with the fix can differ from the spread without it by
# a statistically clear amount that is still far below one Lab unit, so a
# "supported" on the ab spread means "not exactly the same constant", not
# "colourful"; the comparison with the base (the claim after the three) and
# the colourfulness say whether the fix removed the collapse. At this scale
# the rebalanced coherence loss does not bring the refined colours back to
# the base's spread: by the colour table its constant colour is a different
# one (the grey a = b = 0 rather than a single tint), which is why its
# colourfulness falls. This is one training seed: the bootstrap covers which
# photos were judged, not how another seed would train.
#
# The base: both runs' bases end with exactly the same weights (printed
# above), so the stop-gradient holds in the library and the coherence loss,
# rebalanced or not, never reaches the base. This needed the same data in
# both runs: with `read_shards(..., flip=True, seed=0)` the flips differed
# between the two runs (see the training cell), which alone made the bases
# differ.
