"""torchvision's ImageNet ResNet-18 (He et al. 2016) converted into report 004's encoder.

Names follow torchvision's; conv1's RGB kernels are summed for L; layers after layer2 go unused.
"""

import keras

from colorization.weights.files import WeightsError
from colorization.weights.state_dict import convert_state_dict

# State-dict prefixes of the layers after layer2, which the encoder does not have.
UNUSED_PREFIXES = ("layer3", "layer4", "fc")


def torchvision_name(layer_name):
    """torchvision's state-dict prefix of a layer: `layer1_0_conv1_bn` -> `layer1.0.bn1`."""
    if layer_name in ("conv1", "conv1_bn"):
        return {"conv1": "conv1", "conv1_bn": "bn1"}[layer_name]
    stage, block, rest = layer_name.split("_", 2)
    prefix = f"{stage}.{block}"
    if rest in ("downsample", "downsample_bn"):
        return f"{prefix}.downsample.{0 if rest == 'downsample' else 1}"
    if rest.endswith("_bn"):
        return f"{prefix}.bn{rest[len('conv') : -len('_bn')]}"
    return f"{prefix}.{rest}"


def mapping(encoder):
    """`(state-dict prefix, layer name, kind)` for every convolution and BatchNorm of `encoder`."""
    triples = []
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            triples.append((torchvision_name(layer.name), layer.name, "batch_norm"))
        elif isinstance(layer, keras.layers.Conv2D):
            triples.append((torchvision_name(layer.name), layer.name, "conv"))
    return triples


def convert(encoder, state_dict, path):
    """Copies a torchvision ResNet-18 state dict into `encoder` (a `resnet18_encoder`); returns it.

    Raises:
        WeightsError: names or shapes differ (ImageNet weights need `width=64`).
    """
    state_dict = dict(state_dict)
    kernel = state_dict.get("conv1.weight")
    if kernel is not None and kernel.ndim == 4 and kernel.shape[1] == 3:
        state_dict["conv1.weight"] = kernel.sum(axis=1, keepdims=True)
    try:
        return convert_state_dict(state_dict, encoder, mapping(encoder), ignored=UNUSED_PREFIXES)
    except ValueError as error:
        raise WeightsError(
            path,
            f"{path}: not a torchvision ResNet-18 state dict for this encoder (ImageNet "
            "weights need width=64).",
            str(error),
        ) from None
