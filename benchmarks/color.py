"""Benchmark: colour conversion and soft encoding against the usual NumPy/scikit-image code.

Prints one JSON object. Each figure is a ratio against a reference measured in
the same run on the same machine:

- `rgb_to_lab` on 64 float32 images of 256x256, compiled by the backend
  (XLA through `tf.function(jit_compile=True)` or `jax.jit`), against
  `skimage.color.rgb2lab` applied image by image. Target >= 3x.
- `ABQuantizer.soft_encode` of a 32x64x64 ab batch (dense 313-bin output),
  compiled, against a NumPy + scikit-learn `NearestNeighbors` encoder.
  Target >= 5x. Also the sparse form (indices and weights of the 5 nearest
  bins), which is what `RebalancedCrossEntropy` computes, against
  `NearestNeighbors.kneighbors` plus the same weights.

Run: `KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/color.py`
(or `KERAS_BACKEND=jax`).
"""

import json
import os
import platform

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from colorization.color import rgb_to_lab  # noqa: E402
from colorization.quantization import ABQuantizer  # noqa: E402
from timing import best_time  # noqa: E402


def compile_fn(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(fn, jit_compile=True)
        return lambda x: compiled(x).numpy()
    if backend == "jax":
        import jax

        compiled = jax.jit(fn)
        return lambda x: np.asarray(compiled(x).block_until_ready())
    return lambda x: np.asarray(fn(x))


def numpy_sklearn_soft_encode_sparse(ab, bins, neighbors=5, sigma=5.0):
    flat = ab.reshape(-1, 2)
    nn = NearestNeighbors(n_neighbors=neighbors, algorithm="ball_tree").fit(bins)
    distances, indices = nn.kneighbors(flat)
    weights = np.exp(-(distances**2) / (2 * sigma**2))
    weights /= weights.sum(axis=1, keepdims=True)
    return indices, weights


def numpy_sklearn_soft_encode(ab, bins, neighbors=5, sigma=5.0):
    flat = ab.reshape(-1, 2)
    indices, weights = numpy_sklearn_soft_encode_sparse(ab, bins, neighbors, sigma)
    dense = np.zeros((len(flat), len(bins)), dtype=np.float32)
    dense[np.arange(len(flat))[:, None], indices] = weights
    return dense.reshape(ab.shape[:-1] + (len(bins),))


def main():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (64, 256, 256, 3)).astype(np.float32)
    reference_s = best_time(lambda: [skcolor.rgb2lab(image) for image in images], repeats=3)
    eager_s = best_time(lambda: np.asarray(rgb_to_lab(images)), repeats=3)
    compiled_rgb_to_lab = compile_fn(rgb_to_lab)
    compiled_s = best_time(lambda: compiled_rgb_to_lab(images))
    error = float(np.abs(compiled_rgb_to_lab(images[:4]) - np.stack([skcolor.rgb2lab(i) for i in images[:4]])).max())

    quantizer = ABQuantizer()
    ab = np.asarray(rgb_to_lab(rng.uniform(0, 1, (32, 64, 64, 3)).astype(np.float32)))[..., 1:]
    sk_s = best_time(lambda: numpy_sklearn_soft_encode(ab, quantizer.bins), repeats=3)
    compiled_encode = compile_fn(quantizer.soft_encode)
    encode_s = best_time(lambda: compiled_encode(ab))
    encode_error = float(np.abs(compiled_encode(ab) - numpy_sklearn_soft_encode(ab, quantizer.bins)).max())
    sk_sparse_s = best_time(lambda: numpy_sklearn_soft_encode_sparse(ab, quantizer.bins), repeats=3)
    compiled_sparse = compile_fn(lambda x: quantizer.soft_encode_sparse(x)[1])
    sparse_s = best_time(lambda: compiled_sparse(ab))

    print(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                "rgb_to_lab": {
                    "workload": "64 float32 images 256x256",
                    "skimage_image_by_image_s": round(reference_s, 4),
                    "eager_s": round(eager_s, 4),
                    "compiled_s": round(compiled_s, 4),
                    "speedup_eager": round(reference_s / eager_s, 2),
                    "speedup_compiled": round(reference_s / compiled_s, 2),
                    "target_speedup": 3.0,
                    "max_abs_error_vs_skimage": error,
                },
                "soft_encode": {
                    "workload": "32x64x64 ab -> dense 313 bins, k=5, sigma=5",
                    "numpy_sklearn_s": round(sk_s, 4),
                    "compiled_s": round(encode_s, 4),
                    "speedup": round(sk_s / encode_s, 2),
                    "target_speedup": 5.0,
                    "max_abs_difference": encode_error,
                },
                "soft_encode_sparse": {
                    "workload": "32x64x64 ab -> 5 nearest bins and weights (what the loss uses)",
                    "numpy_sklearn_s": round(sk_sparse_s, 4),
                    "compiled_s": round(sparse_s, 4),
                    "speedup": round(sk_sparse_s / sparse_s, 2),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
