"""Eager calls of a `keras.ops` function, run through a compiled version cached per shape and dtype.

A function written with `keras.ops` and called eagerly dispatches one kernel per
op, each a full pass over memory. `EagerCompiled` wraps such a function so that
a plain call on a concrete array (NumPy, an eager TensorFlow tensor, a JAX
array) runs one XLA executable instead: `tf.function(jit_compile=True)` on the
TensorFlow backend, `jax.jit` on JAX. Everything else takes the function's own
path unchanged: calls while tracing (inside `tf.function`, `tf.data`, `jax.jit`,
`jax.grad`, a Keras model being built or fitted), symbolic Keras tensors,
variables, and every other backend. Gradients therefore flow exactly as before.

A shape is compiled the second time it is seen, not the first: compiling costs
0.1-2 s, more than one plain call on a photo, so one-off shapes (a folder of
photos of different sizes) never pay it, and repeated shapes (batches, a loop
over crops) pay it once. At most `max_entries` executables are kept, least
recently used first out.

The backend frameworks are imported inside the methods that need them, so this
module, like the rest of `colorization`, imports no backend at load time.
"""

import collections
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

    def __init__(self, fn, chunk_pixels=None, calls_before_compiling=1, max_entries=8):
        self.fn = fn
        self.chunk_pixels = chunk_pixels
        self.calls_before_compiling = calls_before_compiling
        self.max_entries = max_entries
        self.traces = 0
        self._calls = collections.OrderedDict()
        self._compiled = collections.OrderedDict()
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
            return self.fn(x, **options)
        chunks = ops.reshape(x, (positions // chunk, chunk, shape[-1]))
        out = ops.map(lambda block: self.fn(block, **options), chunks)
        return ops.reshape(out, shape[:-1] + (out.shape[-1],))

    def _compile(self, x, options):
        run = self._traced(options)
        if backend.backend() == "jax":
            import jax

            return jax.jit(run)
        import tensorflow as tf

        return tf.function(run, input_signature=[tf.TensorSpec(x.shape, x.dtype)], jit_compile=True)
