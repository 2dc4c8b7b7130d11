"""Fixtures for the data_pipeline tests: small real photos on disk."""

import pytest
from dp_testdata import photo_tiles
from PIL import Image


@pytest.fixture
def png_folder(tmp_path):
    """20 lossless 16x16 PNG tiles of real photos in subfolders; returns (path, {id: rgb})."""
    root = tmp_path / "photos"
    expected = {}
    for i, tile in enumerate(photo_tiles(16, 20)):
        rel = f"class_{i % 2}/img_{i:03d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(tile).save(root / rel)
        expected[rel] = tile
    return root, expected
