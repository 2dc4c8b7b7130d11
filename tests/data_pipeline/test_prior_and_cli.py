"""The ab prior against a brute-force NumPy nearest-bin count; the command line end to end."""

import json

import numpy as np

from colorization_apps.data_cli import main
from data_pipeline import compute_prior
from data_pipeline import iterate_numpy
from data_pipeline import write_shards


def test_compute_prior_matches_bruteforce_nearest_bin_counts(tmp_path, reference_bins):
    out = tmp_path / "samples"
    write_shards("samples:validation", out, image_size=16, crops_per_image=8)
    raw = compute_prior(out, smoothing_sigma=0.0)
    _, ab = next(iterate_numpy(out, 1000, shuffle=False))
    pixels = ab.reshape(-1, 2).astype(np.float64)
    distances = ((pixels[:, None, :] - reference_bins[None].astype(np.float64)) ** 2).sum(-1)
    counts = np.bincount(distances.argmin(1), minlength=313).astype(np.float64)
    stored = json.loads((out / "manifest.json").read_text())["splits"]["validation"]["ab_prior"]
    assert stored["num_pixels"] == pixels.shape[0] == 24 * 16 * 16
    # Ties between equidistant bins may resolve differently; allow a handful of pixels.
    assert np.abs(np.asarray(stored["counts"]) - counts).sum() <= 4
    np.testing.assert_allclose(raw, counts / counts.sum(), atol=4 / counts.sum())
    smoothed = compute_prior(out)  # Zhang's sigma = 5 smoothing spreads mass to neighbours
    assert abs(smoothed.sum() - 1) < 1e-9 and (smoothed > 0).sum() > (raw > 0).sum()


def test_cli_build_and_inspect(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            [
                "build",
                "--source",
                "samples",
                "--split",
                "validation",
                "--out",
                str(out),
                "--size",
                "16",
                "--crops-per-image",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary == {
        "out": str(out),
        "split": "validation",
        "num_examples": 12,
        "num_shards": 1,
        "num_skipped": 0,
    }
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "== validation: complete" in text and "12 examples in 1 of 1 shards" in text
    for name in ["validation_prior.png", "validation_samples.png"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ab_prior" in json.loads((out / "manifest.json").read_text())["splits"]["validation"]
    assert main(["build", "--source", f"folder:{tmp_path / 'missing'}", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
