"""The runnable examples in the docstrings run and print what they say.

Every module of the core, and the modules of the applications and of the
notebooks' support code that hold examples.
"""

import doctest
import importlib
import pkgutil

import pytest

import colorization

pytestmark = pytest.mark.core

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(colorization.__path__, prefix="colorization.")
    if not name.endswith("__main__")
) + [
    "colorization_apps.console",
    "colorization_apps.reporting",
    "notebook_support.evidence",
    "notebook_support.visualization",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
    if not module_name.startswith("colorization."):
        assert result.attempted > 0, f"{module_name} is listed for its examples but holds none"
