"""Plain eager calls of rgb_to_lab / lab_to_rgb run a compiled version cached per shape and dtype.

Checked against scikit-image and against the uncompiled `keras.ops` path; the
trace counter of the cache tells which path a call took.
"""

import keras
import numpy as np
import pytest
from skimage import color as skcolor

from colorization import color
from colorization.eager_compile import EagerCompiled

pytestmark = pytest.mark.core

COMPILES = keras.backend.backend() in ("tensorflow", "jax")


def _traces():
    return color._RGB_TO_LAB.traces + color._LAB_TO_RGB.traces


@pytest.fixture(autouse=True)
def fresh_cache():
    color._RGB_TO_LAB.clear()
    color._LAB_TO_RGB.clear()
    yield
    color._RGB_TO_LAB.clear()
    color._LAB_TO_RGB.clear()


# 2x128x256 pixels: two chunks of 32768; 5x64x64: five of 4096; 3x37x41: odd, one block.
SHAPES = [(2, 128, 256, 3), (5, 64, 64, 3), (3, 37, 41, 3)]


@pytest.mark.parametrize("shape", [(0, 3), (2, 0, 5, 3), (1, 3)])
def test_empty_and_single_pixel_inputs(shape):
    for _ in range(3):
        assert np.asarray(color.rgb_to_lab(np.full(shape, 255, np.uint8))).shape == shape
        lab = np.asarray(color.lab_to_rgb(np.broadcast_to(np.float32([100, 0, 0]), shape).copy()))
    np.testing.assert_allclose(lab, np.ones(shape), atol=1e-3)  # L=100, a=b=0: white


@pytest.mark.parametrize("shape", SHAPES)
def test_compiled_path_equals_uncompiled_path_and_skimage(shape, rng):
    rgb = rng.uniform(0, 1, shape).astype(np.float32)
    uint8 = rng.integers(0, 256, shape, dtype=np.uint8)
    lab = np.stack(
        [rng.uniform(0, 100, shape[:-1]), rng.uniform(-110, 110, shape[:-1]), rng.uniform(-110, 110, shape[:-1])],
        axis=-1,
    ).astype(np.float32)
    for x in (rgb, uint8):
        plain = np.asarray(color._rgb_to_lab(x))
        traces = _traces()
        first, second = np.asarray(color.rgb_to_lab(x)), np.asarray(color.rgb_to_lab(x))
        assert _traces() == traces + COMPILES
        np.testing.assert_array_equal(first, plain)
        # a = 500 (fx - fy): a few float32 ulps of f, fused differently, move a by ~1e-4.
        np.testing.assert_allclose(second, plain, rtol=0, atol=1.5e-4)
        assert np.abs(second - skcolor.rgb2lab(x)).max() <= 2e-4
    with pytest.warns(UserWarning):  # scikit-image warns about its negative-Z clipping
        reference = skcolor.lab2rgb(lab.astype(np.float64))
    for clip in (False, True):
        plain = np.asarray(color._lab_to_rgb(lab, clip=clip))
        compiled = [np.asarray(color.lab_to_rgb(lab, clip=clip)) for _ in range(2)][1]
        np.testing.assert_allclose(compiled, plain, rtol=1e-6, atol=2e-5)
    assert np.abs(compiled - reference).max() <= 1e-4


@pytest.mark.skipif(not COMPILES, reason="only the TensorFlow and JAX backends compile eager calls")
def test_cache_is_reused_per_shape_and_dtype_and_separate_otherwise():
    small = np.full((4, 8, 8, 3), 0.5, np.float32)
    large = np.full((4, 16, 8, 3), 0.5, np.float32)
    counted = color._RGB_TO_LAB.traces
    for _ in range(4):
        color.rgb_to_lab(small)
    assert color._RGB_TO_LAB.traces == counted + 1  # compiled on the second call, reused after
    for _ in range(3):
        color.rgb_to_lab(large)
    assert color._RGB_TO_LAB.traces == counted + 2
    for _ in range(3):
        color.rgb_to_lab(small.astype(np.float64))
        color.rgb_to_lab(np.full((4, 8, 8, 3), 128, np.uint8))
    assert color._RGB_TO_LAB.traces == counted + 4
    color.rgb_to_lab(small)
    assert color._RGB_TO_LAB.traces == counted + 4
    counted = color._LAB_TO_RGB.traces
    for clip in (True, False, True, False):
        color.lab_to_rgb(small, clip=clip)
    assert color._LAB_TO_RGB.traces == counted + 2


@pytest.mark.skipif(not COMPILES, reason="only the TensorFlow and JAX backends compile eager calls")
def test_cache_keeps_at_most_max_entries():
    cache = EagerCompiled(color._rgb_to_lab, max_entries=2)
    for n in (1, 1, 2, 2, 2, 3, 3):
        lab = cache(np.full((n, 3), 0.5, np.float32))
    assert cache.traces == 3  # each shape compiled on its second call; 3 evicted 1
    for _ in range(3):
        lab = cache(np.full((2, 3), 0.5, np.float32))
    assert cache.traces == 3
    for _ in range(2):
        lab = cache(np.full((1, 3), 0.5, np.float32))
    assert cache.traces == 4
    np.testing.assert_allclose(np.asarray(lab), skcolor.rgb2lab(np.full((1, 3), 0.5)), atol=1e-4)


def _numeric_gradient(x, eps=1e-5):
    """d(sum of Lab)/d(rgb) by central differences in float64 through scikit-image."""
    numeric = np.zeros_like(x)
    for c in range(3):
        step = np.zeros(3)
        step[c] = eps
        numeric[..., c] = (skcolor.rgb2lab(x + step).sum(-1) - skcolor.rgb2lab(x - step).sum(-1)) / (2 * eps)
    return numeric


def test_gradients_flow_on_warm_shapes(rng):
    x = rng.uniform(0.1, 0.9, (2, 4, 4, 3))
    rgb = x.astype(np.float32)
    for _ in range(2):
        color.rgb_to_lab(rgb)  # the shape is now compiled for plain calls
    backend = keras.backend.backend()
    traces = _traces()
    if backend == "jax":
        import jax

        grad = np.asarray(jax.grad(lambda v: color.rgb_to_lab(v).sum())(rgb))
        assert _traces() == traces  # traced: the keras.ops path, not the cache
    elif backend == "tensorflow":
        import tensorflow as tf

        grads = []
        for _ in range(2):
            v = tf.convert_to_tensor(rgb)
            with tf.GradientTape() as tape:
                tape.watch(v)
                y = tf.reduce_sum(color.rgb_to_lab(v))
            grads.append(tape.gradient(y, v).numpy())
        grad = grads[1]
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-4)
    else:  # torch: no eager compilation, so the gradient of the plain path
        import torch

        v = torch.tensor(rgb, requires_grad=True)
        (grad,) = torch.autograd.grad(color.rgb_to_lab(v).sum(), v)
        grad = grad.detach().cpu().numpy()
    np.testing.assert_allclose(grad, _numeric_gradient(x), rtol=2e-3, atol=2e-2)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jax.jit is the JAX backend's tracer")
def test_inside_jax_jit_the_traced_path_is_used(rng):
    import jax

    rgb = rng.uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    traces = _traces()
    for _ in range(2):
        lab = np.asarray(jax.jit(color.rgb_to_lab)(rgb))
    assert _traces() == traces
    assert np.abs(lab - skcolor.rgb2lab(rgb)).max() <= 2e-4


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data runs on the TensorFlow backend")
def test_inside_tf_data_map(rng):
    import tensorflow as tf

    rgb = rng.uniform(0, 1, (6, 8, 8, 3)).astype(np.float32)
    for _ in range(2):
        color.rgb_to_lab(rgb[:2])  # warm the batch shape: the map must still trace its own path
    traces = _traces()
    dataset = tf.data.Dataset.from_tensor_slices(rgb).batch(2).map(color.rgb_to_lab)
    lab = np.concatenate([batch.numpy() for batch in dataset])
    assert _traces() == traces
    assert np.abs(lab - skcolor.rgb2lab(rgb)).max() <= 2e-4
    back = tf.data.Dataset.from_tensor_slices(lab).batch(3).map(color.lab_to_rgb)
    np.testing.assert_allclose(np.concatenate([batch.numpy() for batch in back]), rgb, atol=1e-4)


class _ToLab(keras.layers.Layer):
    def call(self, rgb):
        return color.rgb_to_lab(rgb)


def test_inside_a_model(rng):
    rgb = rng.uniform(0, 1, (4, 8, 8, 3)).astype(np.float32)
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, _ToLab()(inputs))
    traces = _traces()
    predicted = model.predict(rgb, batch_size=2, verbose=0)
    assert _traces() == traces  # predict traces the model: the keras.ops path
    eager = [np.asarray(model(rgb)) for _ in range(2)]
    expected = skcolor.rgb2lab(rgb)
    for lab in [predicted] + eager:
        assert np.abs(lab - expected).max() <= 2e-4


def test_threads_share_the_cache(rng):
    from concurrent.futures import ThreadPoolExecutor

    photos = [rng.uniform(0, 1, (2, 16, 16, 3)).astype(np.float32) for _ in range(12)]
    traces = color._RGB_TO_LAB.traces
    with ThreadPoolExecutor(4) as pool:
        labs = list(pool.map(lambda photo: np.asarray(color.rgb_to_lab(photo)), photos))
    for photo, lab in zip(photos, labs):
        assert np.abs(lab - skcolor.rgb2lab(photo)).max() <= 2e-4
    # Compiled once, not once a call (two threads may trace the same shape at the same time).
    assert (1 <= color._RGB_TO_LAB.traces - traces <= 4) if COMPILES else color._RGB_TO_LAB.traces == traces
