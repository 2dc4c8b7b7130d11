"""Plotting helpers for the notebooks: activation maps, colourisation grids, loss curves.

Matplotlib is imported inside the plotting functions, so it is needed only to plot.
"""

import re

import keras
import numpy as np

from colorization.color import l_ab_to_rgb_uint8

_GROUP_PATTERN = re.compile(r"^conv(\d+)_(\d+)$")
_CONV_TYPES = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)


def layer_groups(model):
    """The last convolution of each layer group `convN_M` of a Zhang-style network, in order.

    Report 002 calls Zhang et al.'s blocks `conv1` ... `conv8` "groups"; `eccv16` names its
    layers as the released model does (`conv1_1`, ..., `conv8_3`, `conv8_313`).

    Returns:
        a list of layer names, one per group.

    Example:

    >>> from colorization.models import eccv16
    >>> layer_groups(eccv16((32, 32, 1), width=4, head="regression"))
    ['conv1_2', 'conv2_2', 'conv3_3', 'conv4_3', 'conv5_3', 'conv6_3', 'conv7_3', 'conv8_3']
    """
    last = {}
    for layer in model.layers:
        match = _GROUP_PATTERN.match(layer.name)
        if match and isinstance(layer, _CONV_TYPES):
            group, index = int(match.group(1)), int(match.group(2))
            if group not in last or index > last[group][0]:
                last[group] = (index, layer.name)
    if not last:
        raise ValueError(
            f"Model {model.name!r} has no layers named convN_M; pass `layers=[...]` names."
        )
    return [last[group][1] for group in sorted(last)]


def activation_maps(model, L, layers=None, kernels=None, seed=0):
    """One channel ("kernel") of the output of each layer, for one image.

    Args:
        model: a functional `keras.Model`.
        L: one lightness image `(H, W)`, `(H, W, 1)` or a batch `(1, H, W, 1)`.
        layers: layer names; default `layer_groups(model)`.
        kernels: the channel shown per layer, or `None` for a random one (as report 002).
        seed: seed of the random choice.

    Returns:
        a list of `(layer_name, kernel, map)` with `map` a float32 `(h, w)` array.

    Example:

    >>> import numpy as np, keras
    >>> inputs = keras.Input((4, 4, 1))
    >>> model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="conv1_1")(inputs))
    >>> [(name, m.shape) for name, _, m in activation_maps(model, np.ones((4, 4)))]
    [('conv1_1', (4, 4))]
    """
    L = np.asarray(L, dtype="float32")
    if L.ndim == 2:
        L = L[..., None]
    if L.ndim == 3:
        L = L[None]
    if L.ndim != 4 or L.shape[0] != 1 or L.shape[-1] != 1:
        raise ValueError(
            f"activation_maps takes one lightness image (H, W[, 1]). Received: shape={L.shape}"
        )
    layers = list(layers) if layers is not None else layer_groups(model)
    try:
        outputs = [model.get_layer(name).output for name in layers]
    except ValueError as error:
        raise ValueError(f"activation_maps: {error}") from None
    if kernels is not None and len(kernels) != len(layers):
        raise ValueError(
            f"Give one kernel per layer: {len(layers)} layers, {len(kernels)} kernels."
        )
    probe = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, outputs)
    values = probe(L, training=False)
    values = [values] if len(layers) == 1 else values
    rng = np.random.default_rng(seed)
    result = []
    for index, (name, value) in enumerate(zip(layers, values)):
        value = np.asarray(keras.ops.convert_to_numpy(value))[0]
        channels = value.shape[-1]
        kernel = int(rng.integers(channels)) if kernels is None else int(kernels[index])
        if not 0 <= kernel < channels:
            raise ValueError(
                f"Layer {name!r} has {channels} channels; kernel {kernel} does not exist."
            )
        result.append((name, kernel, value[..., kernel].astype("float32")))
    return result


def plot_activation_maps(
    model, L, layers=None, kernels=None, seed=0, columns=5, cmap="viridis", size=2.2
):
    """The input and one kernel's activation per layer group, in a grid (report 002's figures).

    Arguments as for `activation_maps`; returns the matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    maps = activation_maps(model, L, layers, kernels, seed)
    L = np.squeeze(np.asarray(L, dtype="float32"))
    panels = [("input L", None, L)] + maps
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (name, kernel, image) in zip(axes.ravel(), panels):
        axis.imshow(image, cmap="gray" if kernel is None else cmap)
        axis.set_title(name if kernel is None else f"{name}, kernel {kernel}", fontsize=8)
    figure.tight_layout()
    return figure


def to_rgb(L, ab):
    """CIELAB `L` `(..., H, W, 1)` and `ab` `(..., h, w, 2)` as sRGB uint8 `(..., H, W, 3)`.

    `ab` predicted at a lower resolution is resized bilinearly to L's grid.

    Example:

    >>> import numpy as np
    >>> to_rgb(np.full((1, 2, 2, 1), 50.0), np.zeros((1, 1, 1, 2)))[0, 0, 0]
    array([119, 119, 119], dtype=uint8)
    """
    L = np.asarray(L, dtype="float32")
    ab = np.asarray(ab, dtype="float32")
    if ab.shape[-3:-1] != L.shape[-3:-1]:
        ab = keras.ops.image.resize(ab, L.shape[-3:-1], interpolation="bilinear")
    return l_ab_to_rgb_uint8(L, ab)


def plot_colorizations(L, predictions, ab_true=None, max_images=4, size=2.2):
    """A grid: one row per image; columns grey, each prediction, and the truth.

    Args:
        L: `(N, H, W, 1)` lightness.
        predictions: `{title: ab (N, h, w, 2)}` (resized to H x W for display).
        ab_true: `(N, H, W, 2)` or `None`.
        max_images: at most this many rows.

    Returns:
        the matplotlib `Figure`.
    """
    import matplotlib.pyplot as plt

    L = np.asarray(L, dtype="float32")[:max_images]
    columns = [("grey", to_rgb(L, np.zeros(L.shape[:-1] + (2,), "float32")))]
    columns += [(title, to_rgb(L, np.asarray(ab)[: len(L)])) for title, ab in predictions.items()]
    if ab_true is not None:
        columns.append(("truth", to_rgb(L, np.asarray(ab_true)[: len(L)])))
    figure, axes = plt.subplots(
        len(L), len(columns), figsize=(size * len(columns), size * len(L)), squeeze=False
    )
    for row in range(len(L)):
        for col, (title, images) in enumerate(columns):
            axes[row, col].imshow(images[row])
            axes[row, col].axis("off")
            if row == 0:
                axes[row, col].set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def plot_histories(histories, keys=("loss",), log_scale=False, size=(5, 3.2)):
    """Training curves: one panel per key, one line per history (`{name: History.history}`)."""
    import matplotlib.pyplot as plt

    keys = list(keys)
    figure, axes = plt.subplots(1, len(keys), figsize=(size[0] * len(keys), size[1]), squeeze=False)
    for axis, key in zip(axes[0], keys):
        for name, history in histories.items():
            history = getattr(history, "history", history)
            if key in history:
                axis.plot(np.arange(1, len(history[key]) + 1), history[key], label=name)
        axis.set_xlabel("epoch")
        axis.set_title(key)
        if log_scale:
            axis.set_yscale("log")
        axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
