"""A shrunken `make demo`: every step on a few crops and a few steps, then a resumed re-run.

Zhang et al.'s released ECCV16 weights cannot be downloaded here; a PyTorch
twin of the network with random weights stands in for them. The happy path
passes it as a user passes a state dict of their own (`--weights FILE
--no-verify`); the other tests put it in a fake Keras cache (`KERAS_HOME`),
where its checksum, which cannot match the release's, is refused in one line.
"""

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("data_pipeline")

from colorization_apps import demo  # noqa: E402

TINY = "--fast --train-crops 4 --val-crops 2 --epochs 1 --steps-per-epoch 2 --batch-size 4".split()
TINY += ["--width", "8"]
RELEASE_FILE = "colorization_release_v2-9b330a0b.pth"
GRID_COLUMN_PX = 320  # comparison_grid: 3.2 inches per column at 100 dpi


def save_twin_release(path, width=64):
    """A twin of the released ECCV16 network with random weights, saved at `path`."""
    torch = pytest.importorskip(
        "torch", reason="PyTorch (the `pretrained` extra) reads the released weights"
    )
    from torch_twins import ECCV16Twin
    from torch_twins import randomize

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(randomize(ECCV16Twin(width=width)).state_dict(), path)
    return path


def test_shrunken_demo_writes_outputs_and_resumes(tmp_path, capsys, monkeypatch):
    twin = save_twin_release(tmp_path / "mine" / "eccv16_state_dict.pth")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out), "--weights", str(twin), "--no-verify"] + TINY) == 0
    printed = capsys.readouterr().out

    payload = json.loads((out / "metrics.json").read_text())
    rows = payload["results"]
    assert set(rows) == {
        "grey baseline (ab = 0)",
        "unet_regression",
        "unet_classification",
        demo.RELEASE_ROW,
    }
    for row in rows.values():
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["auc_rebalanced"] <= 1.0
        assert row["num_images"] == 6  # 3 held-out photos x 2 crops
        assert row["colorfulness_true"] == pytest.approx(
            rows["unet_regression"]["colorfulness_true"]
        )
    # The grey baseline has (almost) no colour; the truth has plenty.
    assert (
        rows["grey baseline (ab = 0)"]["colorfulness"]
        < 1.0
        < rows["grey baseline (ab = 0)"]["colorfulness_true"]
    )

    grid = np.asarray(Image.open(out / "comparison.png"))
    # grey | regression | classification | ECCV16 release | truth
    assert grid.ndim == 3 and grid.shape[0] > 200 and grid.shape[1] == 5 * GRID_COLUMN_PX
    assert f"{demo.RELEASE_ROW}: " in printed and f"read from {twin}" in printed
    # One line per model says where it stands against the grey baseline.
    assert (
        sum(
            line.startswith(("unet_regression: ", "unet_classification: "))
            for line in printed.splitlines()
        )
        == 2
    )
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
    assert set(json.loads((out / "metrics.json").read_text())["results"]) == set(rows) - {
        demo.RELEASE_ROW
    }
    assert np.asarray(Image.open(out / "comparison.png")).shape[1] == 4 * GRID_COLUMN_PX


def load_release_lines(monkeypatch, keras_home):
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    lines = []
    assert demo.load_release(lines.append) is None
    return lines


def test_release_with_a_wrong_checksum_is_skipped_in_one_line(tmp_path, monkeypatch):
    path = save_twin_release(tmp_path / "keras" / "models" / RELEASE_FILE, width=4)
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
    assert lines[0].startswith(
        "skipped Zhang et al.'s released ECCV16 weights: not in the Keras cache"
    )
    assert (
        str(tmp_path / "keras" / "models" / RELEASE_FILE) in lines[0]
        and "Name or service not known" in lines[0]
    )


def test_demo_rejects_bad_settings(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be >= 1. Received: epochs=0" in capsys.readouterr().err
    assert demo.main(["--out", str(tmp_path), "--weights", str(tmp_path / "absent.pth")]) == 2
    assert f"weights file not found: {tmp_path / 'absent.pth'}" in capsys.readouterr().err


def test_the_verdict_against_grey_names_the_metrics_won_and_lost():
    rows = {
        demo.GREY_ROW: {"auc": 0.80, "auc_rebalanced": 0.70, "psnr": 20.0, "ssim": 0.90},
        "model": {"auc": 0.85, "auc_rebalanced": 0.60, "psnr": 21.0, "ssim": 0.90},
        "worse": {"auc": 0.10, "auc_rebalanced": 0.10, "psnr": 1.0, "ssim": 0.10},
    }
    assert demo._against_grey("model", rows) == (
        "model: beats the grey baseline on auc, psnr; not on auc_rebalanced, ssim"
    )
    assert demo._against_grey("worse", rows) == "worse: beats the grey baseline on no metric"
