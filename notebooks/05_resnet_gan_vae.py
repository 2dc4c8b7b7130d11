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
# # Report 004: ResNet, conditional GAN and (V)AE colorizers
#
# Report 004 ("Colorize images with deep learning") trains three networks on
# the same photographs for 20 epochs and compares them by eye:
#
# - **5.1** a ResNet-50 with every stride set to 1 and no max-pooling
#   (`colorization.models.resnet_colorizer`), MSE;
# - **5.2** a pix2pix conditional GAN: U-Net generator, PatchGAN discriminator
#   conditioned on the grey image, BCE + 100 x L1 (`pix2pix_generator`,
#   `patchgan_discriminator`, `Pix2Pix`);
# - **5.3** a "VAE" made of the first six layers of a ResNet-18 and an
#   upsampling decoder, MSE on Lab scaled to [-1, 1]. What the report
#   describes is a plain autoencoder; we train both that
#   (`resnet18_autoencoder`) and a real VAE (`variational=True`: Gaussian
#   latent, reparameterisation, KL term).
#
# Its conclusions: "ResNet and VAE generate less colorful images, and some
# images processed by GAN are overly colorful." Next to each claim we put a
# number: the colourfulness of Hasler & Suesstrunk (2003) of the predictions
# against the ground truth's, the AuC of the per-pixel ab-error curve (Zhang et
# al. 2016), PSNR and SSIM on RGB.
#
# **Two modes.** `SMOKE=1` (what CI runs) uses random 32x32 crops of the
# photographs bundled with scikit-image / scikit-learn / matplotlib, tiny
# networks and a few steps: it checks that every cell runs on a CPU in a few
# minutes, and its numbers say nothing about the report's claims. The default
# is the report's setting, for a GPU: 128x128 centre crops (section 5.3) of
# any image folder (the report used Kaggle's "Intel Image Classification",
# ~25k photos of 6 scene classes: point `NOTEBOOK05_TRAIN` and
# `NOTEBOOK05_TEST` at its `seg_train` and `seg_test` folders), 20 epochs.

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
from colorization import metrics
from colorization.color import lab_to_rgb_uint8
from colorization.color import merge_lab
from colorization.inference import predict_ab
from colorization.models import pix2pix_generator
from colorization.models import resnet18_autoencoder
from colorization.models import resnet_colorizer
from colorization.models.pix2pix import Pix2Pix
from colorization.models.pix2pix import patchgan_discriminator
from colorization.models.resnet import AB_SCALE

SMOKE = os.environ.get("SMOKE", "0") == "1"
keras.utils.set_random_seed(0)

if SMOKE:
    CONFIG = dict(
        image_size=32, batch_size=8, epochs=2, steps_per_epoch=4, train_crops=8, test_crops=4,
        resnet=dict(base_filters=2, stage_blocks=(1, 1, 1, 1)),
        generator=dict(num_downsamples=5, base_filters=8), discriminator=dict(base_filters=8),
        autoencoder=dict(base_filters=8, decoder_filters=(16, 16, 8)),
    )
    DATA = pathlib.Path(tempfile.mkdtemp(prefix="notebook05_"))
else:
    CONFIG = dict(
        image_size=128, batch_size=16, epochs=20, steps_per_epoch=None,
        resnet=dict(base_filters=16),
        generator=dict(num_downsamples=7), discriminator=dict(),
        autoencoder=dict(),
    )
    DATA = pathlib.Path(os.environ.get("NOTEBOOK05_DATA", "../outputs/notebook05/shards"))
print("SMOKE" if SMOKE else "full (report 004's settings)", CONFIG, "data in", DATA)

# %% [markdown]
# ## Data
#
# Every model reads the same `(L, ab)` batches: L in [0, 100], ab in Lab
# units. Report 004 scales Lab to [-1, 1]; our models do that inside
# themselves (L / 50 - 1 in, 110 x tanh out), so the data need no
# per-model preparation.

# %%
started = time.time()
size = CONFIG["image_size"]
if SMOKE:
    data_pipeline.write_shards("samples:train", DATA, image_size=size, crops_per_image=CONFIG["train_crops"])
    data_pipeline.write_shards("samples:validation", DATA, image_size=size, crops_per_image=CONFIG["test_crops"])
else:
    for split, variable in (("train", "NOTEBOOK05_TRAIN"), ("validation", "NOTEBOOK05_TEST")):
        folder = os.environ.get(variable)
        if not folder:
            raise RuntimeError(f"Set {variable} to a folder of photographs (or run with SMOKE=1).")
        data_pipeline.write_shards(f"folder:{folder}", DATA, split=split, image_size=size, crop="center",
                                   progress=True)
manifest = data_pipeline.load_manifest(DATA)
for split, entry in manifest["splits"].items():
    print(f"{split}: {entry['num_examples']} examples of {entry['image_size']}px from {entry['source']}")
NUM_TRAIN = manifest["splits"]["train"]["num_examples"]


def train_data():
    return data_pipeline.read_shards(DATA, CONFIG["batch_size"], shuffle=True, split="train", repeat=True,
                                     drop_remainder=True, seed=0)


def test_data(batch_size=64):
    return data_pipeline.read_shards(DATA, batch_size, shuffle=False, split="validation")


STEPS = CONFIG["steps_per_epoch"] or NUM_TRAIN // CONFIG["batch_size"]
L_show, ab_show = (np.asarray(t) for t in next(iter(test_data(6 if SMOKE else 8))))
print(f"data ready in {time.time() - started:.0f}s; {STEPS} steps per epoch")

# %% [markdown]
# ## The networks
#
# Report 004 gives no widths for its ResNet ("we reduce the number of
# channels"), no optimizer settings and no batch size. Our choices: a quarter
# of ResNet-50's width, Adam(1e-3) for the MSE models, Adam(2e-4, beta_1 = 0.5)
# for both GAN networks (Isola et al.), batch 16. For reference: the standard
# 256x256 pix2pix generator has 54.41M trainable parameters and the 70x70
# PatchGAN 2.77M with these builders (`tests/core/test_pix2pix.py`).

# %%
shape = (size, size, 1)


def count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def build_all():
    generator = pix2pix_generator(shape, **CONFIG["generator"])
    discriminator = patchgan_discriminator(shape, **CONFIG["discriminator"])
    return {
        "resnet": resnet_colorizer(shape, **CONFIG["resnet"]),
        "gan": Pix2Pix(generator, discriminator),
        "autoencoder": resnet18_autoencoder(shape, **CONFIG["autoencoder"]),
        "vae": resnet18_autoencoder(shape, variational=True, seed=0, **CONFIG["autoencoder"]),
    }


models = build_all()
for name, model in models.items():
    if name == "gan":
        print(f"{name:<12} generator {count(model.generator):>12,}  discriminator {count(model.discriminator):>10,}")
    else:
        print(f"{name:<12} {count(model):>12,} trainable parameters")

# %% [markdown]
# ## Training: the same data, the same number of epochs

# %%
histories = {}
for name, model in models.items():
    if name == "gan":
        model.compile()
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    t0 = time.time()
    history = model.fit(train_data(), epochs=CONFIG["epochs"], steps_per_epoch=STEPS,
                        validation_data=test_data(CONFIG["batch_size"]), shuffle=False, verbose=0 if SMOKE else 2)
    histories[name] = history.history
    print(f"{name}: {CONFIG['epochs']} epochs in {time.time() - t0:.0f}s; "
          + ", ".join(f"{k} {v[-1]:.4g}" for k, v in history.history.items() if not k.startswith("val_")))

# %% [markdown]
# Loss curves (the report's figures 5 and 7 and section 5.3). The MSE models
# are plotted on report 004's scale, ab / 110 in [-1, 1], where the report
# says the VAE's loss "decreases sharply from 0.5 to 0.002".

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for name in ("resnet", "autoencoder", "vae"):
    h = histories[name]
    axes[0].plot(np.array(h["loss"]) / AB_SCALE**2, label=f"{name} train")
    axes[0].plot(np.array(h["val_loss"]) / AB_SCALE**2, "--", label=f"{name} test")
axes[0].set_yscale("log"), axes[0].set_title("MSE on ab / 110 (figure 5, section 5.3)", fontsize=9)
gan_history = histories["gan"]
for key in ("g_loss", "g_gan_loss"):
    axes[1].plot(gan_history[key], label=key)
axes[1].set_title("generator (figure 7)", fontsize=9)
for key in ("d_loss", "d_real_loss", "d_fake_loss"):
    axes[2].plot(gan_history[key], label=key)
axes[2].set_title("discriminator (figure 7)", fontsize=9)
for ax in axes:
    ax.set_xlabel("epoch"), ax.legend(fontsize=7)
plt.show()

# %% [markdown]
# ## Predictions: grey | prediction | truth (figures 4, 6 and 8)

# %%
predictors = {name: (m.generator if name == "gan" else m) for name, m in models.items()}


def to_rgb(L, ab):
    return ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab)))


def show_rows(name, model):
    rows = {"grey": to_rgb(L_show, 0 * ab_show), name: to_rgb(L_show, predict_ab(model, L_show)),
            "truth": to_rgb(L_show, ab_show)}
    n = len(L_show)
    fig, axes = plt.subplots(3, n, figsize=(1.5 * n, 4.8), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            axes[r, c].imshow(images[c])
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"{name}: grey | prediction | truth", fontsize=10)
    fig.tight_layout()
    plt.show()


for name, model in predictors.items():
    show_rows(name, model)

# %% [markdown]
# ## Numbers
#
# `metrics.evaluate` colourises the test split through the same path as
# `colorize` and scores it; the grey baseline predicts ab = 0.

# %%
rows = {"grey baseline": metrics.evaluate_grey_baseline(test_data())}
rows.update({name: metrics.evaluate(model, test_data()) for name, model in predictors.items()})
columns = ("auc", "psnr", "ssim", "colorfulness", "colorfulness_true")
print(f"{'':<14}" + "".join(f"{c:>18}" for c in columns))
for name, row in rows.items():
    print(f"{name:<14}" + "".join(f"{row[c]:>18.4f}" for c in columns))

# Per image: how often each model is more colourful than the truth by a quarter or more.
L_test, ab_test = (np.concatenate(parts) for parts in zip(*[(np.asarray(L), np.asarray(ab)) for L, ab in test_data()]))
truth_colourfulness = metrics.colorfulness(to_rgb(L_test, ab_test))
over = {name: float(np.mean(metrics.colorfulness(to_rgb(L_test, predict_ab(model, L_test))) > 1.25 * truth_colourfulness))
        for name, model in predictors.items()}
print("share of test images >= 25% more colourful than the truth:", {k: round(v, 3) for k, v in over.items()})

# %% [markdown]
# ## The report's claims against our numbers

# %%
CLAIMS = []


def claim(section, text, supported, evidence):
    verdict = "supported" if supported else "NOT supported"
    CLAIMS.append((section, text, verdict, evidence))
    print(f"[{section}] report: {text}\n        here: {evidence} -> {verdict}")


truth = rows["resnet"]["colorfulness_true"]
for name, section in (("resnet", "5.1"), ("vae", "5.3"), ("autoencoder", "5.3")):
    claim(section, f"{name} images are less colourful than the originals",
          rows[name]["colorfulness"] < truth,
          f"colourfulness {rows[name]['colorfulness']:.1f} vs truth {truth:.1f}")
claim("6", "ResNet and VAE are less colourful than the GAN",
      max(rows["resnet"]["colorfulness"], rows["vae"]["colorfulness"]) < rows["gan"]["colorfulness"],
      f"colourfulness resnet {rows['resnet']['colorfulness']:.1f}, vae {rows['vae']['colorfulness']:.1f}, "
      f"gan {rows['gan']['colorfulness']:.1f}")
claim("5.2", "some GAN images are overly colourful",
      over["gan"] > 0 and over["gan"] >= max(over["resnet"], over["vae"]),
      f"{100 * over['gan']:.1f}% of GAN images >= 25% more colourful than the truth "
      f"(resnet {100 * over['resnet']:.1f}%, vae {100 * over['vae']:.1f}%)")
vae_mse = np.array(histories["vae"]["loss"]) / AB_SCALE**2
claim("5.3", "the VAE's MSE (Lab in [-1, 1]) falls sharply, from ~0.5 to ~0.002",
      vae_mse[-1] < 0.1 * vae_mse[0],
      f"train loss on ab / 110: {vae_mse[0]:.4f} -> {vae_mse[-1]:.4f} (includes the KL term)")

for section, text, verdict, evidence in CLAIMS:
    print(f"{section:<4} {verdict:<14} {text}\n      {evidence}")
print(f"\nmode: {'SMOKE (bundled photos, a few steps: the verdicts mean nothing)' if SMOKE else 'full'}; "
      f"total time {time.time() - started:.0f}s")
