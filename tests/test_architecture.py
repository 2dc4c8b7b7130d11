"""The import rule of the README's Architecture section, read from the source with `ast`.

applications (`colorization_apps`) -> `data_pipeline` -> core (`colorization`), never back;
notebook support (`notebooks/notebook_support`) sits beside the applications. No import cycle
between modules, counting imports made inside functions. The core's module-level imports are the
standard library, Keras, NumPy and Pillow; a backend (TensorFlow, JAX, PyTorch) is imported only
inside the function that needs it.
"""

import ast
import pathlib
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = {
    "colorization": REPO_ROOT / "colorization",
    "data_pipeline": REPO_ROOT / "data_pipeline",
    "colorization_apps": REPO_ROOT / "colorization_apps",
    "notebook_support": REPO_ROOT / "notebooks" / "notebook_support",
}
# Which packages each package may import (besides itself).
ALLOWED = {
    "colorization": set(),
    "data_pipeline": {"colorization"},
    "colorization_apps": {"colorization", "data_pipeline"},
    "notebook_support": {"colorization", "data_pipeline"},
}
CORE_TOP_LEVEL_THIRD_PARTY = {"keras", "numpy", "PIL"}
CORE_FUNCTION_LEVEL_THIRD_PARTY = CORE_TOP_LEVEL_THIRD_PARTY | {"tensorflow", "jax", "torch"}


def _module_name(package, root, path):
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    modules = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            modules[_module_name(package, root, path)] = path
    return modules


MODULES = _modules()


def _imports(path, module):
    """(imported module, at module level?) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((name, id(node) in top_level))
            # `from package import submodule` imports the submodule.
            found += [
                (f"{name}.{alias.name}", id(node) in top_level)
                for alias in node.names
                if f"{name}.{alias.name}" in MODULES
            ]
    return found


def _internal_target(name):
    """The project module an import statement loads (its longest known prefix), or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _graph():
    graph = {}
    for module, path in MODULES.items():
        targets = {_internal_target(name) for name, _ in _imports(path, module)}
        graph[module] = sorted(target for target in targets if target and target != module)
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_packages_are_found():
    assert "colorization.models.unet" in MODULES
    assert "data_pipeline.writer" in MODULES
    assert "colorization_apps.cli" in MODULES
    assert "notebook_support.evidence" in MODULES


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_packages_import_only_downwards(package):
    wrong = []
    for module, targets in _graph().items():
        if module.split(".")[0] != package:
            continue
        wrong += [
            f"{module} imports {target}"
            for target in targets
            if target.split(".")[0] not in ALLOWED[package] | {package}
        ]
    assert wrong == []


def test_the_core_needs_only_keras_numpy_and_pillow():
    standard_library = sys.stdlib_module_names
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("colorization.") and module != "colorization":
            continue
        for name, top_level in _imports(path, module):
            root = name.split(".")[0]
            if root == "colorization" or root in standard_library:
                continue
            allowed = CORE_TOP_LEVEL_THIRD_PARTY if top_level else CORE_FUNCTION_LEVEL_THIRD_PARTY
            if root not in allowed:
                wrong.append(f"{module} imports {name}" + ("" if top_level else " (in a function)"))
    assert wrong == []
