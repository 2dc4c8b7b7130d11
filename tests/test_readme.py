"""The README's tour runs as written, and every name and path it mentions exists.

The README is parsed, not copied: dotted names (`colorization.metrics.psnr`)
anywhere in it, the `from colorization... import ...` lines of its Python
snippets, the builders of the table of networks (looked up in
`colorization.models`) and the paths of the Architecture tree.
"""

import ast
import importlib
import pathlib
import re

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("colorization", "data_pipeline", "colorization_apps", "notebook_support")


def test_readme_tour_runs(tmp_path, monkeypatch, capsys):
    assert README.lstrip().startswith("# colorization")
    assert "make demo" in README.split("##")[0] and "make test" in README.split("##")[0]
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    tour = next(block for block in blocks if "colorization.colorize" in block)
    monkeypatch.chdir(tmp_path)
    exec(compile(tour, "README.md", "exec"), {"__name__": "readme_tour"})
    printed = capsys.readouterr().out.split("\n")
    assert printed[0] == "(1, 64, 64, 313)"
    assert printed[1] == "(512, 512, 3) uint8"
    assert printed[2] == "True"


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
    """Cells of each body row of the Markdown tables in `text`."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip("|"))])
    return rows[1:]  # the header


DOTTED = sorted(set(re.findall(r"\b(?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+", README)))


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
                imports += [
                    alias.name for alias in node.names if alias.name.split(".")[0] in PACKAGES
                ]
    return sorted(set(imports))


@pytest.mark.parametrize("name", snippet_imports())
def test_snippet_imports_resolve(name):
    resolve(name)


def network_builders():
    names = set()
    for row in table_rows(section("The networks")):
        for span in re.findall(r"`([^`]+)`", row[0]):
            names.update(re.findall(r"\b([A-Za-z_]\w*)\(", span))
    return sorted(names)


@pytest.mark.parametrize("name", network_builders())
def test_network_table_builders_are_in_colorization_models(name):
    import colorization.models

    assert callable(getattr(colorization.models, name, None)), f"colorization.models has no {name}"


def architecture_paths():
    """The paths of the Architecture tree: `name/` folders and files, nested by indentation."""
    tree = re.search(r"```\n(.*?)```", section("Architecture"), flags=re.S).group(1)
    paths, parents = [], {}
    for line in tree.splitlines():
        indent = len(line) - len(line.lstrip())
        parent = parents.get(indent - 2, "") if indent else ""
        names = re.findall(r"(?:^|(?<=\s\s))([\w.-]+/?)(?=\s\s|$)", line.strip().split("   ")[0])
        for name in names:
            paths.append(parent + name)
        if names and names[-1].endswith("/"):
            parents[indent] = parent + names[-1]
    return paths


@pytest.mark.parametrize("path", architecture_paths())
def test_architecture_tree_paths_exist(path):
    assert (REPO_ROOT / path).exists(), (
        f"README's Architecture lists {path}, which is not in the repository"
    )


def test_the_parsers_find_what_the_readme_holds():
    # Guards the parsing itself: a README the parsers cannot read would otherwise pass vacuously.
    assert {"Pix2Pix", "patchgan_discriminator", "unet", "siggraph17"} <= set(network_builders())
    assert "colorization.quantization.ABQuantizer" in snippet_imports()
    assert "colorization.weights.load" in DOTTED
    assert {
        "colorization/",
        "colorization/color.py",
        "colorization/models/",
        "data_pipeline/",
        "notebooks/notebook_support/",
        "tests/",
    } <= set(architecture_paths())
