"""The public API of `colorization`: its names, where they live, and that they load on first use."""

import os
import pathlib
import subprocess
import sys

import pytest

import colorization

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBPACKAGES = (
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
FUNCTIONS = {
    "colorize": "colorization.inference",
    "rgb_to_lab": "colorization.color",
    "lab_to_rgb": "colorization.color",
    "mixed_precision_copy": "colorization.training.mixed_precision",
    "AnnealedMean": "colorization.layers",
    "ABQuantizer": "colorization.quantization",
}


def test_the_package_lists_exactly_the_public_api():
    assert sorted(colorization.__all__) == sorted(SUBPACKAGES + tuple(FUNCTIONS))
    assert sorted(dir(colorization)) == sorted(colorization.__all__)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackages_are_the_modules_of_that_name(name):
    module = getattr(colorization, name)
    assert module.__name__ == f"colorization.{name}"
    assert pathlib.Path(module.__file__).is_relative_to(REPO_ROOT / "colorization")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_top_level_names_are_the_objects_of_their_modules(name):
    import importlib

    value = getattr(colorization, name)
    assert value is getattr(importlib.import_module(FUNCTIONS[name]), name)
    assert value.__module__.startswith("colorization.")


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'pretrained'"):
        colorization.pretrained  # noqa: B018  (renamed colorization.weights)


def run_python(code):
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_import_is_cheap_and_names_load_on_first_use():
    code = (
        "import sys, colorization\n"
        "print('keras' in sys.modules, 'colorization.layers' in sys.modules)\n"
        "colorization.AnnealedMean\n"
        "import keras\n"
        "print('colorization.layers' in sys.modules,"
        " keras.saving.get_registered_object('colorization>AnnealedMean')"
        " is colorization.AnnealedMean)\n"
    )
    assert run_python(code) == ["False", "False", "True", "True"]
