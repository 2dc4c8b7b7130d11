"""Every notebook runs in SMOKE mode and writes valid results; the committed cpu runs are complete.

The SMOKE run executes a copy of the notebook in a temporary folder, so the
committed `.ipynb` (executed in MODE=cpu on the real photos) and its
`notebooks/results/<name>.json` are never overwritten.
"""

import os
import pathlib

import pytest

from notebook_support import evidence

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.py"))


def _code_cells(notebook):
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.notebook
@pytest.mark.parametrize("source", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode_and_writes_its_results(source, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(source)

    committed = source.with_suffix(".ipynb")
    assert committed.exists(), f"{committed.name} is missing: run `make notebooks` and commit it"
    assert _code_cells(jupytext.read(committed)) == _code_cells(notebook), (
        f"{committed.name} is out of date with {source.name}: run `make notebooks`"
    )

    monkeypatch.setenv("SMOKE", "1")
    monkeypatch.delenv("MODE", raising=False)
    monkeypatch.setenv(evidence.RESULTS_DIR_ENV, str(tmp_path / "results"))
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(
            [str(REPO_ROOT), str(REPO_ROOT / "notebooks"), os.environ.get("PYTHONPATH", "")]
        ),
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    results = evidence.load_results(tmp_path / "results" / f"{source.stem}.json")
    assert results["mode"] == "smoke"
    assert results["notebook"] == source.stem


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_committed_notebook_is_a_complete_cpu_mode_run(source):
    nbformat = pytest.importorskip("nbformat")
    results = evidence.load_results(REPO_ROOT / "notebooks" / "results" / f"{source.stem}.json")
    assert results["mode"] == "cpu", (
        f"{source.stem}: the committed results are from MODE={results['mode']}"
    )
    assert results["validation_photos"] >= 100
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), (
        f"{source.stem}.ipynb has cells that never ran"
    )
    errors = [
        o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors, f"{source.stem}.ipynb holds an error output: {errors[0].get('ename')}"
    figures = [
        o for cell in code for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert figures, f"{source.stem}.ipynb shows no figure"


def test_readme_table_matches_the_committed_results():
    files = sorted((REPO_ROOT / "notebooks" / "results").glob("*.json"))
    assert len(files) == len(NOTEBOOKS), (
        f"results files {[f.name for f in files]} for {len(NOTEBOOKS)} notebooks"
    )
    table = evidence.reproduced_table([evidence.load_results(path) for path in files])
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"{evidence.README_START}\n{table}\n{evidence.README_END}" in readme, (
        "README's 'What we reproduced' table is out of date: run `make results-table`"
    )
