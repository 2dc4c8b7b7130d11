"""A shrunken `make demo`: every step on a few crops and a few steps, then a resumed re-run.

Zhang et al.'s released ECCV16 weights cannot be downloaded here; a fake Keras
cache (`KERAS_HOME`) holds a PyTorch twin with random weights saved under the
release's file name instead. Its SHA-256 cannot match the release's, so the
happy path turns the demo's checksum check off (`VERIFY_RELEASE_CHECKSUM`,
for tests only), and the other tests check the one-line skips.
"""

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("data_pipeline")

from colorization_apps import demo  # noqa: E402

TINY = ["--fast", "--train-crops", "4", "--val-crops", "2", "--epochs", "1", "--steps-per-epoch", "2",
        "--batch-size", "4", "--width", "8"]
RELEASE_FILE = "colorization_release_v2-9b330a0b.pth"
GRID_COLUMN_PX = 320  # comparison_grid: 3.2 inches per column at 100 dpi


def save_twin_release(keras_home, width=64):
    """A twin of the released ECCV16 network with random weights, saved where Keras caches the release."""
    torch = pytest.importorskip("torch", reason="PyTorch (the `pretrained` extra) reads the released weights")
    from torch_twins import ECCV16Twin
    from torch_twins import randomize

    path = keras_home / "models" / RELEASE_FILE
    path.parent.mkdir(parents=True)
    torch.save(randomize(ECCV16Twin(width=width)).state_dict(), path)
    return path


def test_shrunken_demo_writes_outputs_and_resumes(tmp_path, capsys, monkeypatch):
    save_twin_release(tmp_path / "keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(demo, "VERIFY_RELEASE_CHECKSUM", False)
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out)] + TINY) == 0
    printed = capsys.readouterr().out

    payload = json.loads((out / "metrics.json").read_text())
    rows = payload["results"]
    assert set(rows) == {"grey baseline (ab = 0)", "unet_regression", "unet_classification", demo.RELEASE_ROW}
    for row in rows.values():
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["auc_rebalanced"] <= 1.0
        assert row["num_images"] == 6  # 3 held-out photos x 2 crops
        assert row["colorfulness_true"] == pytest.approx(rows["unet_regression"]["colorfulness_true"])
    # The grey baseline has (almost) no colour; the truth has plenty.
    assert rows["grey baseline (ab = 0)"]["colorfulness"] < 1.0 < rows["grey baseline (ab = 0)"]["colorfulness_true"]

    grid = np.asarray(Image.open(out / "comparison.png"))
    # grey | regression | classification | ECCV16 release | truth
    assert grid.ndim == 3 and grid.shape[0] > 200 and grid.shape[1] == 5 * GRID_COLUMN_PX
    assert demo.RELEASE_ROW in printed and "read from the Keras cache" in printed
    for name in ("unet_regression", "unet_classification"):
        assert (out / "models" / f"{name}.keras").exists()
    assert "unet_classification" in printed and str(out.resolve()) in printed

    # Re-running reuses shards, prior and trained models instead of training again.
    assert demo.main(["--out", str(out), "--no-pretrained"] + TINY) == 0
    printed = capsys.readouterr().out
    assert "already trained with these settings" in printed
    assert "prior: reused" in printed
    assert "training" not in printed.replace("already trained", "")
    assert "skipped Zhang et al.'s released ECCV16 weights: --no-pretrained" in printed
    assert set(json.loads((out / "metrics.json").read_text())["results"]) == set(rows) - {demo.RELEASE_ROW}
    assert np.asarray(Image.open(out / "comparison.png")).shape[1] == 4 * GRID_COLUMN_PX


def load_release_lines(monkeypatch, keras_home):
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    lines = []
    assert demo.load_release(lines.append) is None
    return lines


def test_release_with_a_wrong_checksum_is_skipped_in_one_line(tmp_path, monkeypatch):
    path = save_twin_release(tmp_path / "keras", width=4)
    lines = load_release_lines(monkeypatch, tmp_path / "keras")
    assert len(lines) == 1
    assert lines[0].startswith("skipped Zhang et al.'s released ECCV16 weights: ")
    assert "checksum" in lines[0].lower() and RELEASE_FILE in lines[0] and "9b330a0b" in lines[0]
    assert path.exists()  # a file the user put in the cache is reported, not deleted


def test_release_absent_and_offline_is_skipped_in_one_line(tmp_path, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    lines = load_release_lines(monkeypatch, tmp_path / "keras")
    assert len(lines) == 1
    assert lines[0].startswith("skipped Zhang et al.'s released ECCV16 weights: not in the Keras cache")
    assert str(tmp_path / "keras" / "models" / RELEASE_FILE) in lines[0] and "Name or service not known" in lines[0]


def test_demo_rejects_bad_settings(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--epochs", "0"]) != 0
    assert "--epochs must be >= 1" in capsys.readouterr().err
