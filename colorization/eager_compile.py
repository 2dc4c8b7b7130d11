"""Eager calls of a `keras.ops` function, run through a compiled version cached per shape and dtype.

A function written with `keras.ops` and called eagerly dispatches one kernel per
op, each a full pass over memory. `EagerCompiled` wraps such a function so that
a plain call on a concrete array (NumPy, an eager TensorFlow tensor, a JAX
array) runs one XLA executable instead: `tf.function(jit_compile=True)` on the
TensorFlow backend, `jax.jit` on JAX. Everything else takes the function's own
path unchanged: calls while tracing (inside `tf.function`, `tf.data`, `jax.jit`,
`jax.grad`, a Keras model being built or fitted), symbolic Keras tensors,
variables, and every other backend. Gradients therefore flow exactly as before.

On the JAX backend with a CPU device, a large input can also be split into
blocks (`block_pixels`) that a thread pool runs through one compiled version
each, one thread per usable core (XLA releases the GIL while it runs), each
writing its part of one 64-byte aligned NumPy output that JAX then wraps
without a copy. The work then uses every core the process is given, and
each block's input and output stay in cache between XLA and the NumPy
output.

A shape is compiled the second time it is seen, not the first: compiling costs
0.1-2 s, more than one plain call on a photo, so one-off shapes (a folder of
photos of different sizes) never pay it, and repeated shapes (batches, a loop
over crops) pay it once. At most `max_entries` executables are kept, least
recently used first out.

The backend frameworks are imported inside the methods that need them, so this
module, like the rest of `colorization`, imports no backend at load time.
"""

import collections
import os
import threading

import numpy as np
from keras import backend
from keras import ops


class EagerCompiled:
    """Runs `fn(x, **options)` through a compiled executable when `x` is a concrete array.

    Args:
        fn: function of one array and keyword options (hashable, treated as
            compile-time constants) written with `keras.ops`.
        chunk_pixels: when set, `x` of shape `(..., C)` is processed inside the
            compiled version as `ops.map` over chunks of `chunk_pixels`
            positions (the largest power of two dividing the position count,
            at most this value), so intermediates stay in the CPU cache
            instead of making full passes over memory. Only for functions that
            treat each position independently.
        block_pixels: when set, on the JAX backend with a CPU default
            device, an input of at least twice this many positions runs as
            blocks of this many positions (and one remainder) from a thread
            pool, through versions compiled for the block shapes (shared by
            every input shape with the same dtype and options). Only for
            functions that treat each position independently. TensorFlow
            always runs one call: there, compiled calls from several threads
            ran one at a time and each block paid a copy in and out.
        compiled_fn: the function traced into the compiled versions, when it
            differs from `fn` (the same values to float32 rounding, computed
            with operations that are cheaper once compiled but need not be
            differentiable). Defaults to `fn`.
        calls_before_compiling: plain calls of a new shape before it is
            compiled (1: compile on the second call).
        max_entries: compiled executables kept.

    Attributes:
        traces: how many times a compiled version was traced (one per shape,
            dtype and options compiled).

    Example:

    >>> import numpy as np
    >>> from keras import ops
    >>> double = EagerCompiled(lambda x: ops.multiply(x, 2.0))
    >>> for _ in range(3):
    ...     y = double(np.ones((4, 3), "float32"))
    >>> double.traces if double.compiles_on_this_backend() else 1
    1
    """

    def __init__(
        self, fn, chunk_pixels=None, block_pixels=None, compiled_fn=None, calls_before_compiling=1, max_entries=8
    ):
        self.fn = fn
        self.compiled_fn = compiled_fn or fn
        self.chunk_pixels = chunk_pixels
        self.block_pixels = block_pixels
        self.calls_before_compiling = calls_before_compiling
        self.max_entries = max_entries
        self.traces = 0
        self._calls = collections.OrderedDict()
        self._compiled = collections.OrderedDict()
        self._block_executables = collections.OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, x, **options):
        key = self._key(x, options)
        if key is None:
            return self.fn(x, **options)
        with self._lock:  # threads share the cache (a thread pool converting photos)
            compiled = self._compiled.get(key)
            if compiled is None:
                calls = self._calls.pop(key, 0)
                if calls < self.calls_before_compiling:
                    self._calls[key] = calls + 1
                    while len(self._calls) > 16 * self.max_entries:
                        self._calls.popitem(last=False)
                else:
                    compiled = self._compile(x, options)
                    self._compiled[key] = compiled
                    while len(self._compiled) > self.max_entries:
                        self._compiled.popitem(last=False)
            else:
                self._compiled.move_to_end(key)
        if compiled is None:
            return self.fn(x, **options)
        return compiled(x)

    def clear(self):
        """Forgets every compiled executable and call count (not `traces`)."""
        with self._lock:
            self._calls.clear()
            self._compiled.clear()
            self._block_executables.clear()

    @staticmethod
    def compiles_on_this_backend():
        """Whether the current Keras backend has a compiled path (TensorFlow, JAX)."""
        return backend.backend() in ("tensorflow", "jax")

    def _key(self, x, options):
        """The cache key of a concrete eager array; None for anything to run plainly."""
        name = backend.backend()
        if name == "tensorflow":
            import tensorflow as tf

            if not tf.executing_eagerly():
                return None
            concrete = isinstance(x, np.ndarray) or (isinstance(x, tf.Tensor) and not tf.is_symbolic_tensor(x))
        elif name == "jax":
            import jax

            concrete = isinstance(x, np.ndarray) or (isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer))
        else:
            return None
        if not concrete:
            return None
        return (name, tuple(x.shape), backend.standardize_dtype(x.dtype), tuple(sorted(options.items())))

    def _traced(self, options):
        def run(x):
            self.traces += 1
            return self._chunked(x, options)

        return run

    def _chunked(self, x, options):
        shape = tuple(x.shape)
        positions = int(np.prod(shape[:-1], dtype=np.int64))
        chunk = 1
        while self.chunk_pixels and chunk * 2 <= self.chunk_pixels and positions % (chunk * 2) == 0:
            chunk *= 2
        if not self.chunk_pixels or positions == 0 or chunk == positions or chunk < 1024:
            return self.compiled_fn(x, **options)
        chunks = ops.reshape(x, (positions // chunk, chunk, shape[-1]))
        out = ops.map(lambda block: self.compiled_fn(block, **options), chunks)
        return ops.reshape(out, shape[:-1] + (out.shape[-1],))

    def _compile(self, x, options):
        shape = tuple(x.shape)
        positions = int(np.prod(shape[:-1], dtype=np.int64))
        if self.block_pixels and positions >= 2 * self.block_pixels and backend.backend() == "jax":
            import jax

            if jax.default_backend() == "cpu":
                return self._blocked(x, positions, options)
        return self._executable(shape, x.dtype, options)

    def _executable(self, shape, dtype, options):
        run = self._traced(options)
        if backend.backend() == "jax":
            import jax

            return jax.jit(run)
        import tensorflow as tf

        return tf.function(run, input_signature=[tf.TensorSpec(shape, dtype)], jit_compile=True)

    def _block_executable(self, shape, dtype, options):
        """The compiled version for one block shape and its output's (channels, dtype), cached across input shapes."""
        import jax

        key = (shape, backend.standardize_dtype(dtype), tuple(sorted(options.items())))
        entry = self._block_executables.get(key)  # called under self._lock, from _compile
        if entry is None:
            out = jax.eval_shape(lambda block: self._chunked(block, options), jax.ShapeDtypeStruct(shape, dtype))
            entry = (self._executable(shape, dtype, options), out.shape[-1], out.dtype)
            self._block_executables[key] = entry
            while len(self._block_executables) > self.max_entries:
                self._block_executables.popitem(last=False)
        else:
            self._block_executables.move_to_end(key)
        return entry

    def _blocked(self, x, positions, options):
        """A runner for inputs of `x`'s shape and dtype: blocks of `block_pixels` positions from the thread pool."""
        import jax

        shape, channels, block = tuple(x.shape), x.shape[-1], self.block_pixels
        full, out_channels, out_dtype = self._block_executable((block, channels), x.dtype, options)
        rest = positions % block
        last = self._block_executable((rest, channels), x.dtype, options)[0] if rest else None

        def run(x):
            flat = np.asarray(x).reshape(positions, channels)  # no copy for NumPy and CPU JAX arrays
            out = _aligned_empty((positions, out_channels), out_dtype)

            def one(start):
                stop = min(start + block, positions)
                part = flat[start:stop]
                if part.ctypes.data % 64:
                    # XLA would copy an unaligned block into a fresh buffer; a buffer
                    # reused by this thread is cheaper (and stays in its cache).
                    part = _staged(part)
                out[start:stop] = np.asarray((full if stop - start == block else last)(part))

            starts = range(0, positions, block)
            if _usable_cores() > 1:
                list(_thread_pool().map(one, starts))
            else:
                for start in starts:
                    one(start)
            return jax.device_put(out.reshape(shape[:-1] + (out_channels,)))  # aligned: wrapped, not copied

        return run


def _aligned_empty(shape, dtype):
    """An uninitialised C-ordered array whose data starts on a 64-byte boundary (what XLA needs to share it)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    buffer = np.empty(count * dtype.itemsize + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    return buffer[start : start + count * dtype.itemsize].view(dtype).reshape(shape)


_STAGING = threading.local()


def _staged(array):
    """A copy of `array` in this thread's 64-byte aligned staging buffer (reused by its next call)."""
    size = array.nbytes
    buffer = getattr(_STAGING, "buffer", None)
    if buffer is None or buffer.nbytes < size + 64:
        buffer = _STAGING.buffer = np.empty(size + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    staged = buffer[start : start + size].view(array.dtype).reshape(array.shape)
    np.copyto(staged, array)
    return staged


def _usable_cores():
    """Cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


_POOL = None
_POOL_LOCK = threading.Lock()


def _forget_pool():
    """In a forked child the parent's pool threads do not exist: the child makes its own."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _thread_pool():
    """One thread pool shared by every `EagerCompiled`, with a thread per usable core, made on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _POOL = ThreadPoolExecutor(_usable_cores(), thread_name_prefix="eager-compiled")
        return _POOL
