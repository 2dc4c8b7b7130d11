"""Shared test configuration: quiet TensorFlow, reference-data paths, small fixtures."""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The tests compile tiny models for a step or two: XLA's LLVM optimisation passes (JAX) cost
# far more than they save there. Subprocesses started by tests inherit this.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import numpy as np
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
# The notebooks' support package lives beside them, outside the library.
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
sys.path.insert(0, str(NOTEBOOKS_DIR))


@pytest.fixture
def reference_bins():
    """Zhang et al.'s released 313 ab bin centres, from ../shared/reference (tests only)."""
    path = SHARED_REFERENCE / "pts_in_hull.npy"
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (it sits beside the clone in CI)")
    return np.load(path)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def photo_rgb():
    """A real colour photograph shipped with scikit-image, as float32 RGB in [0, 1]."""
    from skimage import data

    return data.astronaut()[::4, ::4].astype(np.float32) / 255.0
