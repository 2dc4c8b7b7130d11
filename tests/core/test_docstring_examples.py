"""The runnable examples in the docstrings of the core modules run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import colorization

pytestmark = pytest.mark.core

# Modules whose examples need optional packages or files are listed by the doctest itself.
MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(colorization.__path__, prefix="colorization.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
