"""TensorFlow data pipeline: sources -> CIELAB TFRecord shards of 128 -> `(L, ab)` batches.

- `write_shards(source, out_dir, image_size=64, ...)`: shards and `manifest.json`.
- `read_shards(directory, batch_size, ...)`: a `tf.data.Dataset` of `(L, ab)` batches.
- `iterate_numpy(directory, batch_size, ...)`: the same batches as NumPy arrays.
- `compute_prior(directory)`: the empirical distribution over the 313 ab bins.
- `sources`: `tfds`, `image_folder`, `numpy_lab`, `sample_photos`, `first_n`, `every_nth`.

Names are loaded on first use (PEP 562), so `import data_pipeline` is quick.
"""

import importlib

_EXPORTS = {
    "BuildConfig": "data_pipeline.examples",
    "write_shards": "data_pipeline.writer",
    "read_shards": "data_pipeline.reader",
    "iterate_numpy": "data_pipeline.reader",
    "compute_prior": "data_pipeline.prior",
    "plot_prior": "data_pipeline.prior",
    "load_manifest": "data_pipeline.manifest",
}
_MODULES = {
    "beam",
    "examples",
    "features",
    "manifest",
    "prior",
    "progress",
    "reader",
    "sources",
    "writer",
}

__all__ = sorted([*_EXPORTS, "sources"])


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"data_pipeline.{name}")
    raise AttributeError(f"module 'data_pipeline' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | _MODULES)
