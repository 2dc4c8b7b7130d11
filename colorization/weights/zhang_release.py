"""Zhang et al.'s released colorizers, converted from PyTorch into the library's Keras models.

    import colorization
    model = colorization.weights.load("eccv16")          # or "siggraph17"
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
verified after every download, for every cached file and for every file
given by path (`load(name, path, verify=False)` opts out, for state dicts of
the same network trained elsewhere). The full SHA-256 of the files could not
be obtained where this module was written (no internet), so `Release.sha256`
is `None` for both; set it to pin the whole digest.

Files that are not what they should be raise `WeightsError` (a `ValueError`)
whose message starts with one short line saying what the file is not ("not a
PyTorch checkpoint", "a whole pickled module: save its state_dict", "these look
like the SIGGRAPH17 weights ...") followed by the details; a checksum mismatch
raises its subclass `ChecksumError`. Files are only ever read with
`torch.load(..., weights_only=True)`, which runs no pickled code.
"""

import dataclasses
import hashlib
import os
import pathlib
import zipfile

import numpy as np

CACHE_SUBDIR = "models"
# The first layer's input channels tell the two releases apart: L alone, or L + ab hints + mask.
INPUT_CHANNELS = {"eccv16": 1, "siggraph17": 4}
DISPLAY_NAMES = {"eccv16": "ECCV16", "siggraph17": "SIGGRAPH17"}


class WeightsError(ValueError):
    """A weights file that is not what `load` was asked to read.

    `str(error)` is one short line saying what the file is not (naming it),
    then a newline and the details, so a command line can print the first
    line alone. Raised for a missing or unreadable file ("not a PyTorch
    checkpoint"), a whole pickled module instead of its state dict, the other
    release's weights ("these look like the SIGGRAPH17 weights (4 input
    channels): use --pretrained siggraph17") and a state dict of another
    network.

    Attributes:
        path: the file.
        summary: the first line.
        details: what follows it (may be empty).
    """

    def __init__(self, path, summary, details=""):
        self.path = path
        self.summary = summary
        self.details = details
        super().__init__(summary + (f"\n{details}" if details else ""))


class ChecksumError(WeightsError):
    """A weights file whose SHA-256 does not start with the release's prefix.

    Its first line names both prefixes. Raised by `load(name, path)` unless
    `verify=False` (the command line's `--no-verify`), and by `download` for a
    damaged download or cached copy.
    """


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


def verify_file(path, release, advice="The file is damaged or not the released weights; delete it and download again."):
    """Raises `ChecksumError` unless `path` has the release's checksum (full digest or prefix).

    The first line of the message names both digests' leading digits; the
    details give the whole digest, the release's URL and `advice`.
    """
    digest = sha256(path)
    expected = (release.sha256 or release.sha256_prefix).lower()
    if not digest.startswith(expected):
        raise ChecksumError(
            path,
            f"Checksum mismatch for {path}: its SHA-256 starts with {digest[:len(release.sha256_prefix)]}, "
            f"the release {release.filename} has {release.sha256_prefix}.",
            f"SHA-256 of the file: {digest}; expected "
            f"{'' if release.sha256 else 'a digest starting with '}{expected} ({release.url}). {advice}",
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
        ChecksumError: when the file's checksum does not match (the bad
            download is deleted).
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
            f"elsewhere and pass it: colorization.weights.load({name!r}, path='.../{release.filename}') "
            f"(command line: --weights PATH)."
        ) from None
    try:
        verify_file(path, release)
    except ChecksumError:
        os.remove(path)
        raise
    return pathlib.Path(path)


def read_state_dict(path):
    """Reads a PyTorch state dict file into `{name: float32 numpy array}`.

    The file is read with `torch.load(..., weights_only=True)`, which runs no
    pickled code; a checkpoint `{"state_dict": ...}` is unwrapped.

    Raises:
        ImportError: when PyTorch is not installed, naming the extra.
        WeightsError: when the file is missing, is not a PyTorch checkpoint,
            is a whole pickled module, or holds something else than a
            mapping of names to tensors.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise WeightsError(path, f"Weights file not found: {path}" if not path.exists() else f"Weights path is not a file: {path}")
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
        raise _unreadable(path, error) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(hasattr(v, "detach") for v in state.values()):
        found = f"a {type(state).__name__}"
        if isinstance(state, dict):
            found = f"a dict of {len(state)} entries" + (f" (keys {_some(state)})" if state else "")
        raise WeightsError(
            path,
            f"{path} is not a state dict (a mapping of names to tensors).",
            f"It holds {found}. Save one with torch.save(module.state_dict(), 'weights.pth').",
        )
    return {key: value.detach().cpu().float().numpy() for key, value in state.items()}


def _some(names, count=3):
    names = list(names)
    shown = ", ".join(map(str, names[:count]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > count else "")


def _unreadable(path, error):
    """The `WeightsError` for a file `torch.load(weights_only=True)` refused."""
    message = str(error)
    blocked = None
    if "Unsupported global:" in message:
        blocked = message.split("Unsupported global:", 1)[1].split()
        blocked = blocked[1] if len(blocked) > 1 and blocked[0] == "GLOBAL" else None
    if blocked:
        with open(path, "rb") as file:
            pickles_modules = b"torch.nn.modules" in file.read()
        if pickles_modules:
            return WeightsError(
                path,
                f"{path} is a whole pickled module ({blocked}), not a state dict: save its state_dict.",
                "Reading it would run the pickled class's code, which this library never does "
                "(it reads weights with torch.load(weights_only=True)). Where that class is defined, run "
                "torch.save(module.state_dict(), 'weights.pth') and pass the new file.",
            )
        return WeightsError(
            path,
            f"{path} is not a state dict: it pickles a {blocked} object.",
            "The weights are read with torch.load(weights_only=True), which builds tensors and plain "
            "containers only. Save one with torch.save(module.state_dict(), 'weights.pth').",
        )
    what = _file_kind(path)
    reason = message.split("WeightsUnpickler error:", 1)[-1].strip().splitlines()
    reason = next((line.strip() for line in reason if line.strip()), "")
    if "weights_only" in reason or len(reason) > 160:
        reason = ""
    return WeightsError(
        path,
        f"{path} is not a PyTorch checkpoint{what}.",
        f"torch.load could not read it ({type(error).__name__}{': ' + reason if reason else ''}). "
        "Pass the released .pth file or a state dict saved with torch.save(module.state_dict(), path).",
    )


def _file_kind(path):
    """' (a ...)' naming a few common non-checkpoint files, else ''."""
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        return " (the file is empty)"
    if head.startswith(b"\x93NUMPY"):
        return " (a NumPy .npy array)"
    if head.startswith(b"\x89HDF"):
        return " (an HDF5 file)"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if "config.json" in names and any(name.endswith(".weights.h5") for name in names):
            return " (a Keras model file: load it with keras.saving.load_model, or --model on the command line)"
        return " (a zip archive)"
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return " (a text file)"


def identify(state_dict):
    """Which release a state dict's layout is: `"eccv16"`, `"siggraph17"` or None.

    Decided by the first convolution's input channels (1: L; 4: L, ab hints
    and mask), or by names only one of the two networks has.
    """
    first = state_dict.get("model1.0.weight")
    if first is not None and np.ndim(first) == 4:
        for name, channels in INPUT_CHANNELS.items():
            if first.shape[1] == channels:
                return name
    if any(key.startswith(("model8up.", "model10.", "model_class.")) for key in state_dict):
        return "siggraph17"
    if "model_out.weight" in state_dict and "model8.6.weight" in state_dict:
        return "eccv16"
    return None


def _check_network(path, state_dict, name):
    """Raises `WeightsError` when `state_dict` is not laid out as the release `name`."""
    found = identify(state_dict)
    if found == name:
        return
    if found is not None:
        channels = INPUT_CHANNELS[found]
        raise WeightsError(
            path,
            f"{path}: these look like the {DISPLAY_NAMES[found]} weights ({channels} input "
            f"channel{'s' if channels > 1 else ''}): use --pretrained {found}.",
            f"In Python: colorization.weights.load({found!r}, path=...). The {DISPLAY_NAMES[name]} network "
            f"takes {INPUT_CHANNELS[name]} input channel{'s' if INPUT_CHANNELS[name] > 1 else ''}; "
            f"model1.0.weight here has shape {tuple(np.shape(state_dict.get('model1.0.weight', ())))}.",
        )
    raise WeightsError(
        path,
        f"{path}: not the weights of Zhang et al.'s {DISPLAY_NAMES[name]} network.",
        f"Its {len(state_dict)} entries ({_some(state_dict)}) are not laid out as the release's "
        "(model1.0.weight, model1.0.bias, ...).",
    )


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
        problems.append(f"unexpected entries {_some(unexpected)}")
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ValueError(f"The state dict does not match model {model.name!r}: {shown}.")
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


def load(name, path=None, *, input_shape=(256, 256, 1), hints=False, class_output=False, cache_dir=None, verify=True):
    """Zhang et al.'s released colorizer as a ready Keras model.

    Args:
        name: `"eccv16"` (ECCV 2016) or `"siggraph17"` (SIGGRAPH 2017,
            automatic mode).
        path: a local copy of the released `.pth` file; `None` downloads the
            release into the cache (`cache_dir`, default `$KERAS_HOME` or
            `~/.keras`, folder `models/`). Either way the file's SHA-256 must
            start with the release's prefix (`9b330a0b` ECCV16, `df00044c`
            SIGGRAPH17) unless `verify=False`.
        input_shape: see `build`.
        hints: see `build`.
        class_output: see `build`.
        cache_dir: the cache root for downloads.
        verify: check the checksum of a file given by `path`; `False` loads
            any state dict of the same network (weights you trained or
            fine-tuned; the command line's `--no-verify`).

    Returns:
        A `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab `(B, H, W, 2)`
        in Lab units (with `hints=True` its inputs are `[L, ab_hints,
        hint_mask]`), in inference mode: BatchNormalization uses the released
        statistics.

    Raises:
        OSError: offline without `path`.
        ImportError: PyTorch missing.
        ChecksumError: the file's SHA-256 does not match the release's
            (message: first line naming both prefixes, then how to opt out).
        WeightsError (a ValueError): the file is missing, not a PyTorch
            checkpoint, a whole pickled module, the other release's weights
            or a state dict of another network; `str(error)` starts with one
            line saying which, the details follow on the next line.

    Example:

    >>> import colorization
    >>> model = colorization.weights.load("eccv16")   # doctest: +SKIP
    >>> rgb = colorization.colorize(model, photo)        # doctest: +SKIP
    """
    release = _release(name)
    downloaded = path is None
    if downloaded:
        path = download(name, cache_dir=cache_dir)
    state_dict = read_state_dict(path)
    _check_network(path, state_dict, name)
    if verify and not downloaded:
        verify_file(
            path,
            release,
            advice=f"The file is damaged or other weights; to load weights of the {DISPLAY_NAMES[name]} network "
            "that are not the release on purpose, pass verify=False (command line: --no-verify).",
        )
    model = build(name, input_shape=input_shape, hints=hints, class_output=class_output)
    if name == "eccv16":
        mapping, ignored = _eccv16_mapping()
    else:
        mapping, ignored = _siggraph17_mapping(class_output)
    try:
        return convert_state_dict(state_dict, model, mapping, ignored)
    except ValueError as error:
        raise WeightsError(
            path, f"{path}: not the released {DISPLAY_NAMES[name]} network's layers (names or shapes differ).", str(error)
        ) from None
