"""Zhang et al.'s released colorizers (ECCV16, SIGGRAPH17): their layouts and Keras converters.

The PyTorch state dicts of their `colorizers` package (github.com/richzhang/colorization).
"""

import numpy as np

from colorization.weights.files import WeightsError
from colorization.weights.state_dict import _some
from colorization.weights.state_dict import convert_state_dict

# The first layer's input channels tell the two releases apart: L alone, or L + ab hints + mask.
INPUT_CHANNELS = {"eccv16": 1, "siggraph17": 4}
DISPLAY_NAMES = {"eccv16": "ECCV16", "siggraph17": "SIGGRAPH17"}


def identify(state_dict):
    """Which release a state dict is: `"eccv16"`, `"siggraph17"` or None (first conv, names)."""
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
            f"In Python: colorization.weights.load({found!r}, path=...). The "
            f"{DISPLAY_NAMES[name]} network "
            f"takes {INPUT_CHANNELS[name]} input channel{'s' if INPUT_CHANNELS[name] > 1 else ''}; "
            "model1.0.weight here has shape "
            f"{tuple(np.shape(state_dict.get('model1.0.weight', ())))}.",
        )
    raise WeightsError(
        path,
        f"{path}: not the weights of Zhang et al.'s {DISPLAY_NAMES[name]} network.",
        f"Its {len(state_dict)} entries ({_some(state_dict)}) are not laid out as the release's "
        "(model1.0.weight, model1.0.bias, ...).",
    )


# Conversion


def _conv_block_mapping(blocks):
    """The convolutions `modelN.0, .2, ...` and closing BatchNorm of each `(N, num_convs, ...)`."""
    mapping = []
    for block, num_convs, *_ in blocks:
        for i in range(num_convs):
            mapping.append((f"model{block}.{2 * i}", f"conv{block}_{i + 1}", "conv"))
        mapping.append(
            (f"model{block}.{2 * num_convs}", f"conv{block}_{num_convs}norm", "batch_norm")
        )
    return mapping


def _eccv16_mapping():
    """(state-dict prefix, Keras layer, kind) for the released ECCVGenerator."""
    from colorization.models.eccv16 import BLOCKS

    mapping = _conv_block_mapping(BLOCKS)
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

    mapping = _conv_block_mapping(ENCODER_BLOCKS)
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


# Models


def build(name, input_shape=(256, 256, 1), hints=False, head="regression"):
    """The Keras model a release converts into, with fresh weights.

    Args:
        name: `"eccv16"` or `"siggraph17"`.
        input_shape, hints, head: as for `colorization.weights.load`.
    """
    if name == "eccv16":
        if hints or head != "regression":
            raise ValueError(
                f"`hints` and `head` apply to 'siggraph17' only. Received: hints={hints}, "
                f"head={head!r}"
            )
        from colorization.models.eccv16_release import eccv16_release

        return eccv16_release(input_shape=input_shape, logit_scale=1.0)
    from colorization.models.siggraph17 import siggraph17

    return siggraph17(input_shape=input_shape, hints=hints, head=head)


def convert(name, state_dict, path, input_shape=(256, 256, 1), hints=False, head="regression"):
    """Builds the release `name`'s Keras model and copies `state_dict` into it.

    Raises:
        WeightsError: another release's or network's state dict, or other names or shapes.
    """
    _check_network(path, state_dict, name)
    model = build(name, input_shape=input_shape, hints=hints, head=head)
    if name == "eccv16":
        mapping, ignored = _eccv16_mapping()
    else:
        mapping, ignored = _siggraph17_mapping(head != "regression")
    try:
        return convert_state_dict(state_dict, model, mapping, ignored)
    except ValueError as error:
        raise WeightsError(
            path,
            f"{path}: not the released {DISPLAY_NAMES[name]} network's layers (names or "
            "shapes differ).",
            str(error),
        ) from None
