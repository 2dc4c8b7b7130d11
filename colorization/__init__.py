"""colorization: automatic image colorization in Keras 3.

The networks of five reports and of Zhang, Isola & Efros (ECCV 2016) in backend-agnostic
`keras.ops`. Names load on first use (PEP 562), so `import colorization` is cheap.

Example:
>>> import colorization
>>> sorted(colorization.models.list_models())[:2]
['coherent', 'eccv16']
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "color",
    "constants",
    "inference",
    "layers",
    "losses",
    "metrics",
    "models",
    "quantization",
    "training",
    "weights",
)
_ATTRIBUTES = {
    "ABQuantizer": "colorization.quantization",
    "AnnealedMean": "colorization.layers",
    "colorize": "colorization.inference",
    "lab_to_rgb": "colorization.color",
    "mixed_precision_copy": "colorization.training",
    "rgb_to_lab": "colorization.color",
}

__all__ = sorted(_SUBMODULES + tuple(_ATTRIBUTES))


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"colorization.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'colorization' has no attribute {name!r}")


def __dir__():
    return __all__
