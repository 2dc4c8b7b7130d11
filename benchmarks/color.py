"""Benchmark: colour conversion and soft encoding against the usual NumPy/scikit-image code.

Prints one JSON object. Each figure is a ratio against a reference measured in
the same run on the same machine:

- `colorization.rgb_to_lab(photos)` called plainly, as the README's tour calls
  it, on 64 float32 photos of 256x256 (and the same photos as uint8), against
  `skimage.color.rgb2lab` applied image by image. Target >= 3x. A plain eager
  call runs an XLA version compiled for the shape on its second call
  (`colorization.eager_compile`), so the script times the third and later
  calls and reports the first two (plain `keras.ops`, then compile) apart.
  On JAX with a CPU device the compiled call splits the batch into blocks run
  from a thread pool with one thread per usable core, while scikit-image runs
  on one: the process CPU time of both is reported next to the wall times.
  Also: the `keras.ops` path called eagerly without the cache (what every
  call ran before), and `rgb_to_lab` compiled by the user with
  `tf.function(jit_compile=True)` / `jax.jit` (which traces the `keras.ops`
  path). `lab_to_rgb` called plainly against `skimage.color.lab2rgb`.
  Reference and candidates are timed in turn, round after round (best of the
  rounds), so a load that changes during the run hits both.
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
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

import colorization  # noqa: E402
from colorization import color  # noqa: E402
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


def interleaved_best(fns, rounds, cpu=None):
    """Best wall time of each function, called in turn `rounds` times (one warm-up round first).

    `cpu`, when given, receives the process CPU time of each function's best round.
    """
    best = dict.fromkeys(fns, float("inf"))
    for round_ in range(rounds + 1):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall = time.perf_counter() - start
            if round_ and wall < best[name]:
                best[name] = wall
                if cpu is not None:
                    cpu[name] = time.process_time() - start_cpu
    return best


def timed_once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    load_average = [round(v, 2) for v in os.getloadavg()]
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (64, 256, 256, 3)).astype(np.float32)
    images_uint8 = rng.integers(0, 256, images.shape, dtype=np.uint8)
    lab_images = skcolor.rgb2lab(images[:16]).astype(np.float32)

    # The first plain call of a shape runs keras.ops op by op; the second compiles.
    first_call_s = timed_once(lambda: np.asarray(colorization.rgb_to_lab(images)))
    compiling_call_s = timed_once(lambda: np.asarray(colorization.rgb_to_lab(images)))
    for _ in range(2):
        np.asarray(colorization.rgb_to_lab(images_uint8))
        np.asarray(colorization.lab_to_rgb(lab_images))
    compiled_rgb_to_lab = compile_fn(rgb_to_lab)
    cpu = {}
    times = interleaved_best(
        {
            "skimage": lambda: [skcolor.rgb2lab(image) for image in images],
            "plain": lambda: np.asarray(colorization.rgb_to_lab(images)),
            "skimage_uint8": lambda: [skcolor.rgb2lab(image) for image in images_uint8],
            "plain_uint8": lambda: np.asarray(colorization.rgb_to_lab(images_uint8)),
            "user_compiled": lambda: compiled_rgb_to_lab(images),
            "skimage_lab2rgb": lambda: [skcolor.lab2rgb(image) for image in lab_images],
            "plain_lab_to_rgb": lambda: np.asarray(colorization.lab_to_rgb(lab_images)),
        },
        rounds=5,
        cpu=cpu,
    )
    uncached = interleaved_best(
        {
            "skimage": lambda: [skcolor.rgb2lab(image) for image in images],
            "ops": lambda: np.asarray(color._rgb_to_lab(images)),
        },
        rounds=1,
    )
    expected = np.stack([skcolor.rgb2lab(i) for i in images[:8]])
    error = float(np.abs(np.asarray(colorization.rgb_to_lab(images))[:8] - expected).max())
    expected = np.stack([skcolor.rgb2lab(i) for i in images_uint8[:8]])
    error_uint8 = float(np.abs(np.asarray(colorization.rgb_to_lab(images_uint8))[:8] - expected).max())

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
                "load_average_at_start": load_average,
                "rgb_to_lab": {
                    "workload": "64 photos 256x256, colorization.rgb_to_lab(photos) called plainly",
                    "skimage_image_by_image_s": round(times["skimage"], 4),
                    "plain_call_s": round(times["plain"], 4),
                    "speedup": round(times["skimage"] / times["plain"], 2),
                    "target_speedup": 3.0,
                    "skimage_cpu_s": round(cpu["skimage"], 4),
                    "plain_call_cpu_s": round(cpu["plain"], 4),
                    "uint8_skimage_s": round(times["skimage_uint8"], 4),
                    "uint8_plain_call_s": round(times["plain_uint8"], 4),
                    "uint8_speedup": round(times["skimage_uint8"] / times["plain_uint8"], 2),
                    "first_call_s": round(first_call_s, 4),
                    "second_call_s_compiling": round(compiling_call_s, 4),
                    "keras_ops_eager_speedup": round(uncached["skimage"] / uncached["ops"], 2),
                    "user_compiled_speedup": round(times["skimage"] / times["user_compiled"], 2),
                    "max_abs_error_vs_skimage": error,
                    "uint8_max_abs_error_vs_skimage": error_uint8,
                },
                "lab_to_rgb": {
                    "workload": "16 Lab images 256x256, colorization.lab_to_rgb(lab) called plainly",
                    "skimage_image_by_image_s": round(times["skimage_lab2rgb"], 4),
                    "plain_call_s": round(times["plain_lab_to_rgb"], 4),
                    "speedup": round(times["skimage_lab2rgb"] / times["plain_lab_to_rgb"], 2),
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
