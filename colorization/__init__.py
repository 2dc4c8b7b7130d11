"""colorization: automatic image colorization in Keras 3.

The package reproduces the networks of five reports on deep colorization and
the work of Zhang, Isola & Efros ("Colorful Image Colorization", ECCV 2016)
under one API. Its core is backend-agnostic (`keras.ops`): it runs on the
TensorFlow, JAX and PyTorch backends.
"""

import importlib as _importlib
import os as _os
import sys as _sys

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself)
_PUBLIC_NAMES = {
    "color": ("colorization.color", None),
    "layers": ("colorization.layers", None),
    "losses": ("colorization.losses", None),
    "metrics": ("colorization.metrics", None),
    "models": ("colorization.models", None),
    "pretrained": ("colorization.pretrained", None),
    "quantization": ("colorization.quantization", None),
    "lab_to_rgb": ("colorization.color", "lab_to_rgb"),
    "rgb_to_lab": ("colorization.color", "rgb_to_lab"),
    "colorize": ("colorization.inference", "colorize"),
    "mixed_precision_copy": ("colorization.mixed_precision", "mixed_precision_copy"),
    "AnnealedMean": ("colorization.layers", "AnnealedMean"),
    "ABQuantizer": ("colorization.quantization", "ABQuantizer"),
}
_COMMAND_LINE_SCRIPTS = ("colorize", "colorization")


def _import_public_names():
    for name, (module_name, attribute) in _PUBLIC_NAMES.items():
        module = _importlib.import_module(module_name)
        globals()[name] = module if attribute is None else getattr(module, attribute)


def _module_run_by_interpreter():
    """The module of `python [options] -m MODULE ...`, or None (a script, `-c`, the REPL)."""
    arguments = list(getattr(_sys, "orig_argv", None) or [])[1:]
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument == "-m":
            return arguments[index + 1] if index + 1 < len(arguments) else None
        if argument.startswith("-m"):
            return argument[2:]
        if argument in ("-X", "-W"):
            index += 2
            continue
        if not argument.startswith("-") or argument == "-" or argument.startswith("-c"):
            return None
        index += 1
    return None


def _started_as_command_line():
    """True in `python -m colorization ...` and in the `colorize` / `colorization` console scripts."""
    module = _module_run_by_interpreter()
    if module is not None:
        return module.split(".")[0] == "colorization"
    script = _os.path.basename(_sys.argv[0]) if _sys.argv else ""
    return script.removesuffix(".exe").removesuffix("-script.py") in _COMMAND_LINE_SCRIPTS


if _started_as_command_line():
    # The command line answers --help and argument errors before Keras and TensorFlow load (they
    # take seconds); the first use of a public name imports everything, as `import colorization` does.
    def __getattr__(name):
        if name not in _PUBLIC_NAMES:
            raise AttributeError(f"module 'colorization' has no attribute {name!r}")
        _import_public_names()
        return globals()[name]

else:
    _import_public_names()
