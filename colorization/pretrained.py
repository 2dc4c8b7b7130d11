"""Zhang et al.'s released colorizers, converted from PyTorch into the library's Keras models.

    import colorization
    model = colorization.pretrained.load("eccv16")          # or "siggraph17"
    rgb = colorization.colorize(model, image)

The authors released PyTorch state dicts of two networks with their
`colorizers` package (github.com/richzhang/colorization): ECCV16 ("Colorful
Image Colorization", Zhang, Isola & Efros 2016) and the automatic mode of
SIGGRAPH17 ("Real-Time User-Guided Image Colorization with Learned Deep
Priors", Zhang et al. 2017). `load` downloads one (once; it is cached under
the Keras cache directory, `~/.keras/models/` or `$KERAS_HOME/models/`) or
reads a local copy, converts every tensor into the matching layer of
`colorization.models.eccv16_release` / `colorization.models.siggraph17`, and
returns a ready `keras.Model` (L in [0, 100] in, ab in Lab units out). Save it
with `model.save("eccv16.keras")` to use it later without PyTorch.

Conversion (PyTorch NCHW -> Keras NHWC):

- convolution kernels: `(out, in, kh, kw)` -> `(kh, kw, in, out)`;
- transposed-convolution kernels: `(in, out, kh, kw)` -> `(kh, kw, out, in)`
  (both frameworks compute the gradient of a cross-correlation, so no spatial
  flip);
- biases as they are; BatchNorm `weight, bias, running_mean, running_var` ->
  `gamma, beta, moving_mean, moving_variance` (`num_batches_tracked` is
  ignored).

Reading a state dict needs PyTorch: `pip install "colorization[pretrained]"`.

Checksums: the release names each file after the first 8 hexadecimal digits
of its SHA-256 (PyTorch hub's convention, which the authors' loader checks
with `check_hash=True`): `9b330a0b` and `df00044c`. Those prefixes are
verified after every download and for every cached file. The full SHA-256 of
the files could not be obtained where this module was written (no internet),
so `Release.sha256` is `None` for both; set it to pin the whole digest.
"""

import dataclasses
import hashlib
import os
import pathlib

import numpy as np

CACHE_SUBDIR = "models"


@dataclasses.dataclass(frozen=True)
class Release:
    """A released weights file.

    Args:
        url: where the authors publish it.
        sha256_prefix: leading hex digits of its SHA-256 (from the file name).
        sha256: the full SHA-256, when known (`None`: only the prefix is checked).
    """

    url: str
    sha256_prefix: str
    sha256: str = None

    @property
    def filename(self):
        return self.url.rsplit("/", 1)[-1]


RELEASES = {
    "eccv16": Release(
        url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
        sha256_prefix="9b330a0b",
    ),
    "siggraph17": Release(
        url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
        sha256_prefix="df00044c",
    ),
}


def available():
    """Names of the released models that `load` knows."""
    return sorted(RELEASES)


def _release(name):
    if name not in RELEASES:
        raise ValueError(f"Unknown pretrained model {name!r}. Available: {', '.join(available())}.")
    return RELEASES[name]


# Files


def sha256(path):
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path, release):
    """Raises ValueError unless `path` has the release's checksum (full digest or prefix)."""
    digest = sha256(path)
    expected = release.sha256 or release.sha256_prefix
    if not digest.startswith(expected.lower()):
        raise ValueError(
            f"Checksum mismatch for {path}: its SHA-256 is {digest}, expected "
            f"{'' if release.sha256 else 'a digest starting with '}{expected} ({release.url}). "
            "The file is corrupt or not the released weights; delete it and download again."
        )


def download(name, cache_dir=None, force=False):
    """The local path of a released weights file, downloading it into the cache if needed.

    Args:
        name: `"eccv16"` or `"siggraph17"`.
        cache_dir: the cache root (default: `$KERAS_HOME` or `~/.keras`); the
            file goes into its `models/` folder.
        force: download again even if a cached copy exists.

    Returns:
        `pathlib.Path` of the verified file.

    Raises:
        OSError: when the file cannot be downloaded (offline), naming the URL
            and how to pass a local copy instead.
        ValueError: when the file's checksum does not match (the bad download
            is deleted).
    """
    import keras

    release = _release(name)
    if cache_dir is not None:
        # keras.utils.get_file silently falls back to /tmp/.keras when the folder does not exist yet.
        os.makedirs(os.path.expanduser(cache_dir), exist_ok=True)
    try:
        path = keras.utils.get_file(
            fname=release.filename,
            origin=release.url,
            cache_dir=cache_dir,
            cache_subdir=CACHE_SUBDIR,
            file_hash=release.sha256,
            hash_algorithm="sha256",
            force_download=force,
        )
    except Exception as error:  # get_file raises bare Exceptions for network failures
        raise OSError(
            f"Could not download the released {name} weights from {release.url} "
            f"({type(error).__name__}: {error}). Without internet access, download that file "
            f"elsewhere and pass it: colorization.pretrained.load({name!r}, path='.../{release.filename}') "
            f"(command line: --weights PATH)."
        ) from None
    try:
        verify(path, release)
    except ValueError:
        os.remove(path)
        raise
    return pathlib.Path(path)


def read_state_dict(path):
    """Reads a PyTorch state dict file into `{name: float32 numpy array}`.

    Raises:
        ImportError: when PyTorch is not installed, naming the extra.
        ValueError: when the file is missing or not a state dict.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"Weights file not found: {path}")
    try:
        import torch
    except ImportError:
        raise ImportError(
            "Reading the released PyTorch weights needs PyTorch, which is an optional extra: "
            'pip install "colorization[pretrained]" (or pip install torch). A model converted '
            "once and saved with model.save('name.keras') loads without it."
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"Cannot read {path} as a PyTorch state dict: {type(error).__name__}: {error}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(hasattr(v, "detach") for v in state.values()):
        raise ValueError(f"{path} does not hold a PyTorch state dict (a mapping of names to tensors).")
    return {key: value.detach().cpu().float().numpy() for key, value in state.items()}


# Conversion


def _eccv16_mapping():
    """(state-dict prefix, Keras layer, kind) for the released ECCVGenerator."""
    from colorization.models.eccv16 import BLOCKS

    mapping = []
    for block, num_convs, *_ in BLOCKS:
        for i in range(num_convs):
            mapping.append((f"model{block}.{2 * i}", f"conv{block}_{i + 1}", "conv"))
        mapping.append((f"model{block}.{2 * num_convs}", f"conv{block}_{num_convs}norm", "batch_norm"))
    mapping += [
        ("model8.0", "conv8_1", "conv_transpose"),
        ("model8.2", "conv8_2", "conv"),
        ("model8.4", "conv8_3", "conv"),
        ("model8.6", "conv8_313", "conv"),
        ("model_out", "class8_ab", "conv"),
    ]
    return mapping, ()


def _siggraph17_mapping(class_output):
    """(state-dict prefix, Keras layer, kind) for the released SIGGRAPHGenerator."""
    from colorization.models.siggraph17 import ENCODER_BLOCKS

    mapping = []
    for block, num_convs, *_ in ENCODER_BLOCKS:
        for i in range(num_convs):
            mapping.append((f"model{block}.{2 * i}", f"conv{block}_{i + 1}", "conv"))
        mapping.append((f"model{block}.{2 * num_convs}", f"conv{block}_{num_convs}norm", "batch_norm"))
    mapping += [
        ("model8up.0", "conv8_1", "conv_transpose"),
        ("model3short8.0", "conv3_3_short", "conv"),
        ("model8.1", "conv8_2", "conv"),
        ("model8.3", "conv8_3", "conv"),
        ("model8.5", "conv8_3norm", "batch_norm"),
        ("model9up.0", "conv9_1", "conv_transpose"),
        ("model2short9.0", "conv2_2_short", "conv"),
        ("model9.1", "conv9_2", "conv"),
        ("model9.3", "conv9_2norm", "batch_norm"),
        ("model10up.0", "conv10_1", "conv_transpose"),
        ("model1short10.0", "conv1_2_short", "conv"),
        ("model10.1", "conv10_2", "conv"),
        ("model_out.0", "conv10_ab", "conv"),
    ]
    classes = [("model_class.0", "conv8_classes", "conv")]
    if class_output:
        return mapping + classes, ()
    return mapping, tuple(prefix for prefix, _, _ in classes)


_SUFFIXES = {
    "conv": ("weight", "bias"),
    "conv_transpose": ("weight", "bias"),
    "batch_norm": ("weight", "bias", "running_mean", "running_var"),
}


def _convert_tensor(kind, suffix, value):
    if suffix == "weight" and kind in ("conv", "conv_transpose"):
        # conv: (out, in, kh, kw) -> (kh, kw, in, out); transposed: (in, out, kh, kw) -> (kh, kw, out, in).
        return np.transpose(value, (2, 3, 1, 0))
    return value


def convert_state_dict(state_dict, model, mapping, ignored=()):
    """Copies a PyTorch state dict into a Keras model's layers, checking names and shapes.

    Args:
        state_dict: `{name: numpy array}` (see `read_state_dict`).
        model: the Keras model, with layers named as in `mapping`.
        mapping: `(state-dict prefix, Keras layer name, kind)` triples; kind is
            `"conv"`, `"conv_transpose"` or `"batch_norm"`.
        ignored: state-dict prefixes that may be present and are not used.

    Raises:
        ValueError naming the missing, unexpected or mis-shaped entries.
    """
    used = set()
    problems = []
    for prefix, layer_name, kind in mapping:
        layer = model.get_layer(layer_name)
        targets = layer.get_weights()
        suffixes = _SUFFIXES[kind][: len(targets)]
        values = []
        for suffix, target in zip(suffixes, targets):
            key = f"{prefix}.{suffix}"
            if key not in state_dict:
                problems.append(f"missing {key} (for layer {layer_name})")
                continue
            used.add(key)
            value = _convert_tensor(kind, suffix, state_dict[key])
            if value.shape != target.shape:
                problems.append(
                    f"{key} has shape {state_dict[key].shape}, which converts to {value.shape}, "
                    f"but layer {layer_name} needs {target.shape}"
                )
            values.append(value)
        if kind != "batch_norm" and len(targets) == 1 and f"{prefix}.bias" in state_dict:
            problems.append(f"{prefix}.bias is present but layer {layer_name} has no bias")
            used.add(f"{prefix}.bias")
        if len(values) == len(targets) and not problems:
            layer.set_weights(values)
    unexpected = sorted(
        key
        for key in state_dict
        if key not in used
        and not key.endswith("num_batches_tracked")
        and not any(key.startswith(prefix + ".") for prefix in ignored)
    )
    if unexpected:
        problems.append(f"unexpected entries {unexpected}")
    if problems:
        raise ValueError(
            f"The state dict does not match model {model.name!r}: " + "; ".join(problems) + "."
        )
    return model


# Models


def build(name, input_shape=(256, 256, 1), hints=False, class_output=False):
    """The Keras model a release converts into, with fresh weights.

    Args:
        name: `"eccv16"` or `"siggraph17"`.
        input_shape: the model's input size; 256 x 256 is the size the
            authors' demo runs at (`colorize` resizes any photo to it and
            upsamples the predicted ab). `(None, None, 1)` runs each photo
            near its own size (multiples of 8).
        hints: SIGGRAPH17 only: inputs `[L, ab_hints, hint_mask]` instead of L.
        class_output: SIGGRAPH17 only: add the 529-bin class branch as a
            second output (then the model is for Python use, not `colorize`).
    """
    _release(name)
    if name == "eccv16":
        if hints or class_output:
            raise ValueError("`hints` and `class_output` apply to 'siggraph17' only.")
        from colorization.models.eccv16_release import eccv16_release

        return eccv16_release(input_shape=input_shape, logit_scale=1.0)
    from colorization.models.siggraph17 import siggraph17

    return siggraph17(input_shape=input_shape, hints=hints, class_output=class_output)


def load(name, path=None, *, input_shape=(256, 256, 1), hints=False, class_output=False, cache_dir=None):
    """Zhang et al.'s released colorizer as a ready Keras model.

    Args:
        name: `"eccv16"` (ECCV 2016) or `"siggraph17"` (SIGGRAPH 2017,
            automatic mode).
        path: a local copy of the released `.pth` file (or any state dict of
            the same network); `None` downloads the release into the cache
            (`cache_dir`, default `$KERAS_HOME` or `~/.keras`, folder
            `models/`), verifying its checksum.
        input_shape: see `build`.
        hints: see `build`.
        class_output: see `build`.
        cache_dir: the cache root for downloads.

    Returns:
        A `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab `(B, H, W, 2)`
        in Lab units (with `hints=True` its inputs are `[L, ab_hints,
        hint_mask]`), in inference mode: BatchNormalization uses the released
        statistics.

    Raises:
        OSError: offline without `path`; ImportError: PyTorch missing;
        ValueError: a bad checksum or a state dict of another network.

    Example:

    >>> import colorization
    >>> model = colorization.pretrained.load("eccv16")   # doctest: +SKIP
    >>> rgb = colorization.colorize(model, photo)        # doctest: +SKIP
    """
    _release(name)
    if path is None:
        path = download(name, cache_dir=cache_dir)
    state_dict = read_state_dict(path)
    model = build(name, input_shape=input_shape, hints=hints, class_output=class_output)
    if name == "eccv16":
        mapping, ignored = _eccv16_mapping()
    else:
        mapping, ignored = _siggraph17_mapping(class_output)
    try:
        return convert_state_dict(state_dict, model, mapping, ignored)
    except ValueError as error:
        raise ValueError(f"Cannot load {path} as the released {name} network: {error}") from None
