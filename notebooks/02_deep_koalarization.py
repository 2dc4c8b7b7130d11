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
# # Report 001: Deep Koalarization on Places365
#
# Report 001 ("Self-Supervised Image Colorization") implements Deep
# Koalarization (Baldassarre, Gonzalez-Morin & Rodes-Guirao 2017): an encoder
# on the grey image, the embedding of a frozen Inception-ResNet-v2 run on the
# same grey image, a fusion layer repeating that embedding over the encoder's
# grid, and a decoder to ab, with "each convolution followed by a ReLU and
# BatchNorm". It trains on 1,000 Places365 images with MSE, Adam, learning rate
# 0.0012, batch 40, weight decay 1e-6 for 70 epochs (Table 2) and shows only
# the training loss; it lists validation loss as the missing improvement. In
# the library: `colorization.models.koalarization(...)`.
#
# What we measure next to each claim: the training and the validation loss
# (the report's missing curve), the epoch of the lowest validation loss
# (overfitting), and AuC / PSNR / colourfulness on training versus unseen
# images ("washed" colours, weaker generalisation).
#
# **Two modes.** `SMOKE=1` (CI, a CPU): 64x64 crops of the bundled
# photographs, the network at 1/8 width and `feature_extractor="tiny"`, a
# random frozen stand-in for Inception-ResNet-v2 (no pretrained weights can be
# downloaded here), a few epochs: it checks that every cell runs and its
# numbers say nothing about the report. The default is the report's setting
# for a GPU: 224x224 images of TFDS `places365_small` (the first 1,000 of
# train for training, the first 1,000 of validation as unseen images),
# Inception-ResNet-v2 with ImageNet weights (downloaded by Keras on first use),
# Table 2's hyperparameters.

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

SMOKE = os.environ.get("SMOKE", "0") == "1"
keras.utils.set_random_seed(0)

# Report 001, Table 2 and section 4.2: Adam, lr 0.0012, batch 40, weight decay 1e-6, 70 epochs, MSE.
RECIPE = recipes.report001()
if SMOKE:
    RECIPE = RECIPE.replace(
        model_kwargs={"input_shape": (64, 64, 1), "feature_extractor": "tiny", "extractor_weights": None,
                      "batch_norm": True, "width": 8},
        batch_size=8, epochs=4,
    )
    CONFIG = dict(image_size=64, train_crops=4, validation_crops=4)
    DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook02_"))
else:
    CONFIG = dict(image_size=224, train_images=1000, validation_images=1000)
    DATA = pathlib.Path(os.environ.get("NOTEBOOK02_DATA", "../outputs/notebook02/shards"))
print("SMOKE" if SMOKE else "full (report 001's settings)", RECIPE)

# %% [markdown]
# ## Data

# %%
started = time.time()
size = CONFIG["image_size"]
if SMOKE:
    data_pipeline.write_shards("samples:train", DATA, image_size=size, crops_per_image=CONFIG["train_crops"])
    data_pipeline.write_shards("samples:validation", DATA, image_size=size,
                               crops_per_image=CONFIG["validation_crops"])
else:
    from data_pipeline import sources

    for split, n in (("train", CONFIG["train_images"]), ("validation", CONFIG["validation_images"])):
        source = sources.first_n(sources.tfds("places365_small", split=split), n, split)
        data_pipeline.write_shards(source, DATA, image_size=size, progress=True)
manifest = data_pipeline.load_manifest(DATA)
for split, entry in manifest["splits"].items():
    print(f"{split}: {entry['num_examples']} examples of {entry['image_size']}px from {entry['source']}")


def dataset(split, shuffle):
    return data_pipeline.read_shards(DATA, RECIPE.batch_size, shuffle=shuffle, split=split, seed=0)


print(f"data ready in {time.time() - started:.0f}s")

# %% [markdown]
# ## The network
#
# Trainable parameters (encoder, fusion, decoder) and the frozen extractor's.
# With Inception-ResNet-v2 (1000-d embedding) at 224x224 the trainable part
# has 6,579,106 parameters with report 001's BatchNorm (6,573,794 in the
# paper's network without it) and the extractor 55,873,736 frozen ones.

# %%
model = RECIPE.build_model()
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
print(f"{model.name}: input {model.input_shape}, output {model.output_shape}; "
      f"{trainable:,} trainable, {frozen:,} non-trainable parameters (extractor + BatchNorm statistics)")
for name in ("encoder8", "fusion_repeat", "fusion", "decoder_ab"):
    print(f"  {name}: {model.get_layer(name).output.shape}")

# %% [markdown]
# ## Training, with the validation loss the report could not track

# %%
RECIPE.compile(model)
t0 = time.time()
history = model.fit(dataset("train", True), validation_data=dataset("validation", False), epochs=RECIPE.epochs,
                    shuffle=False, verbose=0 if SMOKE else 2).history
print(f"{RECIPE.epochs} epochs in {time.time() - t0:.0f}s")
best = int(np.argmin(history["val_loss"]))
print(f"training loss {history['loss'][0]:.1f} -> {history['loss'][-1]:.1f}; validation loss "
      f"{history['val_loss'][0]:.1f} -> {history['val_loss'][-1]:.1f}, lowest {history['val_loss'][best]:.1f} "
      f"at epoch {best + 1}")
visualization.plot_histories({"Deep Koalarization": history}, keys=("loss", "val_loss"), log_scale=True)
plt.show()

# %% [markdown]
# **Claim** (section 4.2): "my model is likely overfitted but this is something
# I cannot validate". **Measured**: the lowest validation loss is at the epoch
# printed above; a validation loss rising after it while the training loss
# falls is the overfitting the report suspected.

# %% [markdown]
# ## Training images against unseen images

# %%
scores = {split: metrics.evaluate(model, dataset(split, False)) for split in ("train", "validation")}
grey = {split: metrics.evaluate(None, dataset(split, False)) for split in ("train", "validation")}
columns = ("auc", "psnr", "colorfulness", "colorfulness_true")
print(f"{'':<22}" + "".join(f"{c:>18}" for c in columns))
for split in scores:
    print(f"{'model, ' + split:<22}" + "".join(f"{scores[split][c]:>18.3f}" for c in columns))
    print(f"{'grey, ' + split:<22}" + "".join(f"{grey[split][c]:>18.3f}" for c in columns))

# %% [markdown]
# **Claims** (section 4.3): on training images "the middle images do seem
# washed ... [but] their accuracy of colors and general look are quite good";
# "the test images, as expected, do not generalize as well". **Measured**:
# washed = the predicted colourfulness below the true one; generalisation =
# AuC and PSNR on validation against training, each against the grey baseline.

# %%
for split in ("train", "validation"):
    L, ab = (np.asarray(t) for t in next(iter(dataset(split, False))))
    figure = visualization.plot_colorizations(L[:3], {"Deep Koalarization": model(L[:3])}, ab[:3])
    figure.suptitle(f"{split} images")
    plt.show()
