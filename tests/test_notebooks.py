"""Every notebook source (jupytext percent format) runs in SMOKE mode, and its committed .ipynb matches it."""

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.py"))


def _code_cells(notebook):
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.notebook
@pytest.mark.parametrize("source", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(source, tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    notebook = jupytext.read(source)

    committed = source.with_suffix(".ipynb")
    assert committed.exists(), f"{committed.name} is missing: run `make notebooks` and commit it"
    assert _code_cells(jupytext.read(committed)) == _code_cells(notebook), (
        f"{committed.name} is out of date with {source.name}: run `make notebooks`"
    )

    monkeypatch.setenv("SMOKE", "1")
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    client = nbclient.NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
