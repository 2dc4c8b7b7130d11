"""Plain eager calls of rgb_to_lab / lab_to_rgb run a compiled version cached per shape and dtype.

Checked against scikit-image and against the uncompiled `keras.ops` path; the
trace counter of the cache tells which path a call took.
"""

import functools
import os
import warnings

import keras
import numpy as np
import pytest
from skimage import color as skcolor

from colorization import color
from colorization.eager_compile import EagerCompiled

pytestmark = pytest.mark.core

COMPILES = keras.backend.backend() in ("tensorflow", "jax")


def _jax_on_cpu():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


def _traces():
    return color._RGB_TO_LAB.traces + color._LAB_TO_RGB.traces


@pytest.fixture(autouse=True)
def fresh_cache():
    color._RGB_TO_LAB.clear()
    color._LAB_TO_RGB.clear()
    yield
    color._RGB_TO_LAB.clear()
    color._LAB_TO_RGB.clear()


# 2x128x256 pixels: eight chunks of 8192; 5x64x64: five of 4096; 3x37x41: odd, one block.
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


def test_roots_by_bits_match_numpy_in_float64():
    # Each over the inputs whose result is a normal float32 (the conversions use 0.003 to 1.1).
    for fn, exponent, bottom, top in (
        (color._cube_root_by_bits, 1 / 3, 1e-30, 1e37),
        (color._power_2_4_by_bits, 2.4, 1e-15, 1e15),
        (color._power_5_12_by_bits, 1 / 2.4, 1e-30, 1e37),
    ):
        x = np.concatenate([np.geomspace(bottom, top, 100_001), [0.008856, 0.0031308, 0.0904, 1.0]]).astype(np.float32)
        got = np.asarray(fn(x)).astype(np.float64)
        expected = x.astype(np.float64) ** exponent
        assert np.abs(got / expected - 1).max() <= 4e-7, fn.__name__  # a few float32 ulps
    big = np.asarray(color._cube_root_by_bits(np.float32([np.inf, 3e38])))
    np.testing.assert_allclose(big, np.cbrt(1e37), rtol=1e-6)  # clamped there, not NaN


def _blocked_and_single(fn, compiled_fn, block_pixels):
    blocked = EagerCompiled(fn, chunk_pixels=2048, block_pixels=block_pixels, compiled_fn=compiled_fn)
    single = EagerCompiled(fn, chunk_pixels=2048, compiled_fn=compiled_fn)
    return blocked, single


@pytest.mark.skipif(not _jax_on_cpu(), reason="blocks run from a thread pool on the JAX backend with a CPU device")
def test_blocked_path_equals_single_call_path_and_skimage(rng):
    import jax

    rgb_fast = functools.partial(color._rgb_to_lab, roots_by_bits=True)
    lab_fast = functools.partial(color._lab_to_rgb, roots_by_bits=True)
    # 5x64x70 = 22400 pixels: five blocks of 4096 and a remainder of 1920.
    rgb = rng.uniform(0, 1, (5, 64, 70, 3)).astype(np.float32)
    for x in (rgb, np.round(rgb * 255).astype(np.uint8)):
        blocked, single = _blocked_and_single(color._rgb_to_lab, rgb_fast, 4096)
        got = [blocked(x) for _ in range(3)][2]
        assert blocked.traces == 2  # one version for the block shape, one for the remainder
        assert isinstance(got, jax.Array) and got.shape == x.shape and got.dtype == np.float32
        expected = [np.asarray(single(x)) for _ in range(2)][1]
        # The single call compiles all 22400 pixels as one loop, not in chunks of 2048: a
        # float32 ulp of f, fused differently, moves a = 500 (fx - fy) by up to 6e-5.
        np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=1.2e-4)
        assert np.abs(np.asarray(got) - skcolor.rgb2lab(x)).max() <= 2e-4
        # Whole blocks (4x64x64 = 16384, from a JAX array): the same chunks of 2048 run
        # in both paths, so the same values, bit for bit.
        whole = jax.numpy.asarray(x[:4, :, :64])
        got = [np.asarray(blocked(whole)) for _ in range(2)][1]
        assert blocked.traces == 2  # the block version is shared across input shapes
        np.testing.assert_array_equal(got, [np.asarray(single(whole)) for _ in range(2)][1])
        # Another shape with the same dtype reuses the block version and compiles its remainder.
        other = x[:4, :, :66]  # 4x64x66 = 16896: four blocks and 512
        got = [np.asarray(blocked(other)) for _ in range(2)][1]
        assert blocked.traces == 3
        assert np.abs(got - skcolor.rgb2lab(other)).max() <= 2e-4
        flipped = x[:, ::-1]  # not contiguous: NumPy's reshape copies it
        got = [np.asarray(blocked(flipped)) for _ in range(2)][1]
        assert blocked.traces == 3
        # Pixels move between whole blocks and the remainder, compiled differently (see above).
        np.testing.assert_allclose(got, np.asarray(blocked(x))[:, ::-1], rtol=0, atol=1.2e-4)
    lab = np.asarray(color._rgb_to_lab(rgb)) + np.float32([0.0, 20.0, -30.0])  # some out of gamut
    for clip in (False, True):
        blocked, single = _blocked_and_single(color._lab_to_rgb, lab_fast, 4096)
        got = [np.asarray(blocked(lab, clip=clip)) for _ in range(2)][1]
        expected = [np.asarray(single(lab, clip=clip)) for _ in range(2)][1]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(got, np.asarray(color._lab_to_rgb(lab, clip=clip)), rtol=1e-6, atol=2e-5)
        whole = lab[:4, :, :64]
        got = [np.asarray(blocked(whole, clip=clip)) for _ in range(2)][1]
        np.testing.assert_array_equal(got, [np.asarray(single(whole, clip=clip)) for _ in range(2)][1])


@pytest.mark.skipif(not _jax_on_cpu(), reason="blocks run from a thread pool on the JAX backend with a CPU device")
def test_blocked_calls_from_several_threads(rng):
    from concurrent.futures import ThreadPoolExecutor

    blocked = EagerCompiled(color._rgb_to_lab, chunk_pixels=2048, block_pixels=4096)
    photos = [rng.uniform(0, 1, (3, 64, 64, 3)).astype(np.float32) for _ in range(6)]
    with ThreadPoolExecutor(3) as pool:
        for _ in range(2):
            labs = list(pool.map(lambda photo: np.asarray(blocked(photo)), photos))
    for photo, lab in zip(photos, labs):
        assert np.abs(lab - skcolor.rgb2lab(photo)).max() <= 2e-4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_thread_pool():
    from colorization import eager_compile

    assert eager_compile._thread_pool() is eager_compile._thread_pool()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns that it is multithreaded; the child only reads a global
        pid = os.fork()
    if pid == 0:
        os._exit(0 if eager_compile._POOL is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert eager_compile._POOL is not None
