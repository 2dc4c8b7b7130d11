"""A shrunken `make demo`: every step on a few crops and a few steps, then a resumed re-run."""

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("data_pipeline")

from colorization import demo  # noqa: E402

TINY = ["--fast", "--train-crops", "4", "--val-crops", "2", "--epochs", "1", "--steps-per-epoch", "2",
        "--batch-size", "4", "--width", "8"]


def test_shrunken_demo_writes_outputs_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert demo.main(["--out", str(out)] + TINY) == 0
    printed = capsys.readouterr().out

    payload = json.loads((out / "metrics.json").read_text())
    rows = payload["results"]
    assert set(rows) == {"grey baseline (ab = 0)", "unet_regression", "unet_classification"}
    for row in rows.values():
        assert 0.0 <= row["auc"] <= 1.0 and 0.0 <= row["auc_rebalanced"] <= 1.0
        assert row["num_images"] == 6  # 3 held-out photos x 2 crops
        assert row["colorfulness_true"] == pytest.approx(rows["unet_regression"]["colorfulness_true"])
    # The grey baseline has (almost) no colour; the truth has plenty.
    assert rows["grey baseline (ab = 0)"]["colorfulness"] < 1.0 < rows["grey baseline (ab = 0)"]["colorfulness_true"]

    grid = np.asarray(Image.open(out / "comparison.png"))
    assert grid.ndim == 3 and grid.shape[0] > 200 and grid.shape[1] > 400
    for name in ("unet_regression", "unet_classification"):
        assert (out / "models" / f"{name}.keras").exists()
    assert "unet_classification" in printed and str(out.resolve()) in printed

    # Re-running reuses shards, prior and trained models instead of training again.
    assert demo.main(["--out", str(out)] + TINY) == 0
    printed = capsys.readouterr().out
    assert "already trained with these settings" in printed
    assert "prior: reused" in printed
    assert "training" not in printed.replace("already trained", "")


def test_demo_rejects_bad_settings(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--epochs", "0"]) != 0
    assert "--epochs must be >= 1" in capsys.readouterr().err
