"""The README's tour runs as written."""

import pathlib
import re

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_tour_runs(tmp_path, monkeypatch, capsys):
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert text.lstrip().startswith("# colorization")
    assert "make demo" in text.split("##")[0] and "make test" in text.split("##")[0]
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    tour = next(block for block in blocks if "colorization.colorize" in block)
    monkeypatch.chdir(tmp_path)
    exec(compile(tour, "README.md", "exec"), {"__name__": "readme_tour"})
    printed = capsys.readouterr().out.split("\n")
    assert printed[0] == "(1, 64, 64, 313)"
    assert printed[1] == "(512, 512, 3) uint8"
    assert printed[2] == "True"
