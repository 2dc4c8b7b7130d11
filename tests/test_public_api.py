"""Every name the README's tables and snippets use resolves, so the README and the API cannot drift apart.

The README is parsed, not copied: dotted names (`colorization.metrics.psnr`)
anywhere in it, `from colorization... import ...` lines of its Python
snippets, the builders of the table of networks (looked up in
`colorization.models`) and the names listed beside each module of the table
"What is here".
"""

import ast
import importlib
import pathlib
import re

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("colorization", "data_pipeline")
# Names the table "What is here" lists beside a module that belong to the framework it wraps.
FRAMEWORK_NAMES = {"MirroredStrategy": "tensorflow.distribute", "DataParallel": "keras.distribution"}


def resolve(dotted):
    """The object a dotted name refers to: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(dotted)


def section(title):
    parts = re.split(r"^## ", README, flags=re.M)
    matches = [part for part in parts if part.startswith(title)]
    assert matches, f"README has no section {title!r}"
    return matches[0]


def table_rows(text):
    """Cells of each body row of the Markdown tables in `text` (escaped pipes kept inside cells)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip("|"))])
    return rows[1:]  # the header


def code_spans(cell):
    return re.findall(r"`([^`]+)`", cell)


DOTTED = sorted(set(re.findall(r"\b(?:colorization|data_pipeline)(?:\.[A-Za-z_]\w*)+", README)))


@pytest.mark.parametrize("dotted", DOTTED)
def test_dotted_names_resolve(dotted):
    resolve(dotted)


def snippet_imports():
    imports = []
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in PACKAGES:
                imports += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                imports += [alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES]
    return sorted(set(imports))


@pytest.mark.parametrize("name", snippet_imports())
def test_snippet_imports_resolve(name):
    resolve(name)


def network_builders():
    names = set()
    for row in table_rows(section("The networks")):
        for span in code_spans(row[0]):
            names.update(re.findall(r"\b([A-Za-z_]\w*)\(", span))
    return sorted(names)


@pytest.mark.parametrize("name", network_builders())
def test_network_table_builders_are_in_colorization_models(name):
    import colorization.models

    assert callable(getattr(colorization.models, name, None)), f"colorization.models has no {name}"


def module_table_names():
    pairs = []
    for row in table_rows(section("What is here")):
        modules = code_spans(row[0])
        package = modules[0].split(".")[0]
        modules = [f"{package}{m}" if m.startswith(".") else m for m in modules]
        for span in code_spans(row[1]):
            name = span.removesuffix("()")
            if name.isidentifier():
                pairs.append((tuple(modules), name))
        pairs.append((tuple(modules), None))
    return pairs


@pytest.mark.parametrize("modules, name", module_table_names())
def test_module_table_names_resolve(modules, name):
    resolved = [resolve(module) for module in modules]
    if name is None:
        return
    if name in FRAMEWORK_NAMES:
        package, *path = f"{FRAMEWORK_NAMES[name]}.{name}".split(".")
        value = importlib.import_module(package)  # TensorFlow's public API is attributes, not modules
        for attribute in path:
            value = getattr(value, attribute)
        return
    assert any(hasattr(module, name) for module in resolved), f"{name} is in none of {modules}"


def test_the_parsers_find_what_the_readme_holds():
    # Guards the parsing itself: a README reformatted beyond the parsers would otherwise pass vacuously.
    assert {"Pix2Pix", "patchgan_discriminator", "unet", "siggraph17"} <= set(network_builders())
    assert "colorization.quantization.ABQuantizer" in snippet_imports()
    assert (("colorization.color",), "rgb_to_lab") in module_table_names()
    assert "colorization.weights.load" in DOTTED
