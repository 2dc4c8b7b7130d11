"""TensorFlow data pipeline: sources -> CIELAB TFRecord shards -> (L, ab) batches.

Public API:

- `write_shards(source, out_dir, image_size=64, ...)`: build shards + manifest.
- `read_shards(dir, batch_size, ...)`: a `tf.data.Dataset` of `(L, ab)` batches.
- `iterate_numpy(dir, batch_size, ...)`: the same batches as NumPy arrays, with
  no TensorFlow needed (for JAX / PyTorch training loops).
- `compute_prior(dir)`: the empirical distribution over the 313 ab bins.
- `sources`: `tfds`, `image_folder`, `numpy_lab`, `sample_photos`.

Attributes are imported lazily so that `from data_pipeline import iterate_numpy`
works where TensorFlow is not installed.
"""

import importlib

_EXPORTS = {
    "write_shards": "data_pipeline.writer",
    "BuildConfig": "data_pipeline.writer",
    "read_shards": "data_pipeline.reader",
    "iterate_numpy": "data_pipeline.numpy_reader",
    "compute_prior": "data_pipeline.prior",
    "plot_prior": "data_pipeline.prior",
    "load_manifest": "data_pipeline.manifest",
}
_MODULES = {"sources", "features", "preprocess", "decode", "crops", "manifest", "writer", "progress", "reader",
            "numpy_reader", "prior"}

__all__ = sorted(_EXPORTS) + ["sources"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"data_pipeline.{name}")
    raise AttributeError(f"module 'data_pipeline' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _MODULES)
