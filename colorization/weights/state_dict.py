"""PyTorch state dicts: read safely, and copied into Keras layers by a name mapping.

Kernels `(out, in, kh, kw)` -> `(kh, kw, in, out)`, transposed `(in, out, kh, kw)` -> `(kh, kw,
out, in)`; BatchNorm `weight, bias, running_mean, running_var` -> `gamma, beta, moving_*`.
"""

import pathlib
import zipfile

import numpy as np

from colorization.weights.files import WeightsError


def read_state_dict(path):
    """Reads a state dict file into `{name: float32 numpy array}`.

    `.npz` is read with NumPy, anything else with `torch.load(..., weights_only=True)`, which runs
    no pickled code; a checkpoint `{"state_dict": ...}` is unwrapped.

    Raises:
        ImportError: when PyTorch is not installed, naming the extra.
        WeightsError: a missing file, no PyTorch checkpoint, a pickled module, or no state dict.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise WeightsError(
            path,
            f"Weights file not found: {path}"
            if not path.exists()
            else f"Weights path is not a file: {path}",
        )
    if path.suffix == ".npz":
        with np.load(path) as archive:
            return {key: archive[key].astype("float32") for key in archive.files}
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
    if (
        not isinstance(state, dict)
        or not state
        or not all(hasattr(v, "detach") for v in state.values())
    ):
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
                f"{path} is a whole pickled module ({blocked}), not a state dict: save its "
                "state_dict.",
                "Reading it would run the pickled class's code, which this library never does "
                "(it reads weights with torch.load(weights_only=True)). Where that class is "
                "defined, run "
                "torch.save(module.state_dict(), 'weights.pth') and pass the new file.",
            )
        return WeightsError(
            path,
            f"{path} is not a state dict: it pickles a {blocked} object.",
            "The weights are read with torch.load(weights_only=True), which builds tensors "
            "and plain "
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
        "Pass the released .pth file or a state dict saved with "
        "torch.save(module.state_dict(), path).",
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
            return (
                " (a Keras model file: load it with keras.saving.load_model, "
                "or --model on the command line)"
            )
        return " (a zip archive)"
    try:
        head.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return " (a text file)"


_SUFFIXES = {
    "conv": ("weight", "bias"),
    "conv_transpose": ("weight", "bias"),
    "batch_norm": ("weight", "bias", "running_mean", "running_var"),
}


def _convert_tensor(kind, suffix, value):
    if suffix == "weight" and kind in ("conv", "conv_transpose"):
        # conv: (out, in, kh, kw) -> (kh, kw, in, out); transposed: (in, out, kh, kw) -> (kh, kw,
        # out, in).
        return np.transpose(value, (2, 3, 1, 0))
    return value


def convert_state_dict(state_dict, model, mapping, ignored=()):
    """Copies a PyTorch state dict into a Keras model's layers, checking names and shapes.

    Args:
        state_dict: `{name: numpy array}` (see `read_state_dict`).
        model: the Keras model, with layers named as in `mapping`.
        mapping: `(state-dict prefix, layer name, "conv" | "conv_transpose" | "batch_norm")`.
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
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise ValueError(f"The state dict does not match model {model.name!r}: {shown}.")
    return model
