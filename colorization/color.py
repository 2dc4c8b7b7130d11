"""sRGB <-> CIELAB conversion written with `keras.ops`.

The conversion follows IEC 61966-2-1 (sRGB) with the D65 white point and the
2-degree observer, using the same constants as `skimage.color.rgb2lab` so that
data prepared with scikit-image and data prepared with this module agree to
within float32 rounding. Both directions are differentiable with finite
gradients everywhere (black and white included) and run inside models, inside
`tf.data` (TensorFlow backend) and under `jax.jit`.

A plain eager call of `rgb_to_lab` or `lab_to_rgb` on the TensorFlow or JAX
backend runs an XLA version compiled for the input's shape and dtype from the
second call of that shape on (`colorization.eager_compile`), with the roots
and powers computed from the float's bits and Halley steps instead of `exp`
and `log`; on JAX with a CPU device a large batch is split into blocks run on
every usable core. On 64 float32 photos of 256x256 on a shared 2-core
machine that is 3.4-4.1x `skimage.color.rgb2lab` image by image (JAX; 2x
when another process holds a core) and 1.6-2.7x (TensorFlow), 5-8.5x on
uint8 photos, where the op-by-op path ran at 0.2-0.9x (`benchmarks/README.md`). Calls being traced (`tf.function`, `tf.data`,
`jax.jit`, `jax.grad`, Keras models) run the `keras.ops` code as is.

Units: RGB in [0, 1] (float) or [0, 255] (uint8); L in [0, 100]; a and b in
CIELAB units (roughly [-86, 98] and [-108, 95] for sRGB colours).
"""

import functools

import numpy as np
from keras import ops
from keras import backend

from colorization.eager_compile import EagerCompiled

# sRGB primaries to CIE XYZ (the matrix scikit-image uses).
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float64,
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
# CIE XYZ tristimulus values of D65 for the 2-degree observer.
D65_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)

_SRGB_LINEAR_THRESHOLD = 0.04045
_SRGB_GAMMA_THRESHOLD = 0.0031308
_LAB_EPSILON = 0.008856
_LAB_KAPPA_SLOPE = 7.787
_LAB_OFFSET = 16.0 / 116.0
_LAB_INVERSE_THRESHOLD = 0.2068966

# Per-channel constants folded together: (linear RGB @ M^T) / white.
_XYZN_FROM_RGB = (XYZ_FROM_RGB / D65_WHITE[:, None]).T.astype(np.float32)
_RGB_FROM_XYZN = (RGB_FROM_XYZ * D65_WHITE[None, :]).T.astype(np.float32)
# (L, a, b) = _LAB_FROM_F @ (fx, fy, fz) + _LAB_OFFSETS.
_LAB_FROM_F = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]], dtype=np.float32)
_LAB_OFFSETS = np.array([[-16.0], [0.0], [0.0]], dtype=np.float32)


def _linear_from_uint8():
    """Linear sRGB of each 8-bit level, in float64 rounded once to float32 (IEC 61966-2-1)."""
    level = np.arange(256) / 255.0
    linear = np.where(level > _SRGB_LINEAR_THRESHOLD, ((level + 0.055) / 1.055) ** 2.4, level / 12.92)
    return linear.astype(np.float32)


# A 256-entry table replaces the three powers per pixel of uint8 input.
_LINEAR_FROM_UINT8 = _linear_from_uint8()


def _checked_color(x, name):
    """Returns `x` (as a NumPy array if it has no dtype) after checking its dtype and channel count."""
    if not hasattr(x, "dtype"):
        x = np.asarray(x)
    dtype = backend.standardize_dtype(x.dtype)
    if dtype == "bool" or ("int" in dtype and dtype != "uint8"):
        raise TypeError(
            f"`{name}` received integer input of dtype {dtype}. Only uint8 "
            "(divided by 255) is converted implicitly; convert other integer "
            "types to float in [0, 1] yourself so the scale is explicit."
        )
    shape = tuple(x.shape)
    if len(shape) == 0 or shape[-1] != 3:
        raise ValueError(
            f"`{name}` expects channel-last input with 3 channels; "
            f"received input with shape {shape}."
        )
    return x


def _as_float32(x):
    """float32 tensor of `x`, uint8 divided by 255 (the documented integer rule)."""
    if backend.standardize_dtype(x.dtype) == "uint8":
        return ops.cast(x, "float32") / 255.0
    return ops.cast(x, "float32")


def _channel_mix(x, matrix):
    """`x @ matrix` over the last axis, as three fused multiply-adds per channel.

    A (..., 3) x (3, 3) matmul is a poor fit for a matrix unit; written out, the
    whole conversion compiles into one elementwise loop.
    """
    c0, c1, c2 = x[..., 0], x[..., 1], x[..., 2]
    return [c0 * float(matrix[0, j]) + c1 * float(matrix[1, j]) + c2 * float(matrix[2, j]) for j in range(3)]


def _power(x, exponent):
    """`x ** exponent` for positive `x` as `exp(exponent * log(x))`: faster once compiled."""
    return ops.exp(exponent * ops.log(x))


def _root_by_bits(x, n, first_guess_bias):
    """`x ** (1 / n)` for float32 `x` in [1e-30, 1e37]: a guess from the bits, then two Halley steps.

    The bits of a float are roughly a scaled, shifted log2, so dividing them by
    `n` (plus `first_guess_bias`, the shifted exponent's share) lands within a
    few percent; each Halley step (multiplies, adds and one division) cubes the
    relative error, so two reach float32 rounding. Once compiled this is
    cheaper than `exp(log(x) / n)`. The bit cast has no gradient: only the
    compiled plain-call path uses it.
    """
    # (n + 1) y^n below stays finite (the guess is within 8%) for x up to 1e37;
    # larger x, inf included, gets the root of 1e37 rather than NaN.
    x = ops.minimum(x, 1e37)
    y = ops.view(ops.view(x, "int32") // n + first_guess_bias, "float32")
    for _ in range(2):
        y_n = y * y * y if n == 3 else ops.square(ops.square(y)) * y
        # y * ((n-1) y^n + (n+1) x) / ((n+1) y^n + (n-1) x), as a small correction of y.
        y = y - 2.0 * y * ((y_n - x) / ((n + 1) * y_n + (n - 1) * x))
    return y


def _cube_root_by_bits(x):
    """`x ** (1/3)` for positive float32 `x` (fdlibm's `cbrtf` first guess, then Halley)."""
    return _root_by_bits(x, 3, 709958130)


def _power_2_4_by_bits(x):
    """`x ** 2.4` for positive float32 `x` as `x^2 (x^(1/5))^2`, the fifth root by `_root_by_bits`."""
    fifth = _root_by_bits(x, 5, 852282573)  # 4/5 of the exponent bias 127 << 23
    return ops.square(x) * ops.square(fifth)


def _power_5_12_by_bits(x):
    """`x ** (1 / 2.4)` for positive float32 `x` as `c sqrt(sqrt(c))`, `c` the cube root by `_root_by_bits`."""
    c = _cube_root_by_bits(x)
    return c * ops.sqrt(ops.sqrt(c))


def srgb_to_linear(rgb):
    """Removes the sRGB transfer curve: companded [0, 1] -> linear [0, 1]."""
    rgb = ops.cast(rgb, "float32")
    # Clamping inside each branch keeps the unused branch's gradient finite.
    curved = _power((ops.maximum(rgb, _SRGB_LINEAR_THRESHOLD) + 0.055) / 1.055, 2.4)
    return ops.where(rgb > _SRGB_LINEAR_THRESHOLD, curved, rgb / 12.92)


def linear_to_srgb(linear):
    """Applies the sRGB transfer curve: linear [0, 1] -> companded [0, 1]."""
    linear = ops.cast(linear, "float32")
    curved = 1.055 * _power(ops.maximum(linear, _SRGB_GAMMA_THRESHOLD), 1.0 / 2.4) - 0.055
    return ops.where(linear > _SRGB_GAMMA_THRESHOLD, curved, linear * 12.92)


def rgb_to_lab(rgb):
    """Converts sRGB to CIELAB (D65, 2-degree observer).

    Args:
        rgb: array or tensor of shape `(..., 3)`. Floats are read as sRGB in
            [0, 1]; uint8 is divided by 255. Other integer dtypes are refused
            (a silent wrong scale is the classic pitfall of integer input).

    Returns:
        float32 tensor of shape `(..., 3)` holding (L, a, b), L in [0, 100].

    Example:

    >>> import numpy as np
    >>> from colorization.color import rgb_to_lab
    >>> lab = rgb_to_lab(np.array([[1.0, 0.0, 0.0]], dtype="float32"))
    >>> [round(float(v), 2) for v in np.asarray(lab)[0]]
    [53.24, 80.09, 67.2]
    """
    return _RGB_TO_LAB(_checked_color(rgb, "rgb_to_lab"))


def _rgb_to_lab(rgb, roots_by_bits=False):
    """`rgb_to_lab` on checked input, in `keras.ops` (the path traced, differentiated and compiled).

    With `roots_by_bits` (the compiled plain-call path only: no gradient) the
    powers 2.4 and 1/3 come from `_root_by_bits` instead of `exp` and `log`.
    """
    shape = ops.shape(rgb)
    # Planar layout, one channel per row: each pixel's six powers are computed
    # once, and the 3x3 mixes become small matmuls between elementwise loops.
    planar = ops.transpose(ops.reshape(rgb, (-1, 3)))
    if backend.standardize_dtype(rgb.dtype) == "uint8":
        linear = ops.take(ops.convert_to_tensor(_LINEAR_FROM_UINT8), ops.cast(planar, "int32"))
    elif roots_by_bits:
        planar = ops.cast(planar, "float32")
        curved = _power_2_4_by_bits((ops.maximum(planar, _SRGB_LINEAR_THRESHOLD) + 0.055) / 1.055)
        linear = ops.where(planar > _SRGB_LINEAR_THRESHOLD, curved, planar / 12.92)
    else:
        linear = srgb_to_linear(ops.cast(planar, "float32"))
    xyz = ops.matmul(ops.convert_to_tensor(_XYZN_FROM_RGB.T), linear)
    cube_root = _cube_root_by_bits if roots_by_bits else (lambda v: _power(v, 1.0 / 3.0))
    f = ops.where(xyz > _LAB_EPSILON, cube_root(ops.maximum(xyz, _LAB_EPSILON)), _LAB_KAPPA_SLOPE * xyz + _LAB_OFFSET)
    lab = ops.matmul(ops.convert_to_tensor(_LAB_FROM_F), f) + ops.convert_to_tensor(_LAB_OFFSETS)
    return ops.reshape(ops.transpose(lab), shape)


def lab_to_rgb(lab, clip=True):
    """Converts CIELAB (D65, 2-degree observer) to sRGB in [0, 1].

    Out-of-gamut colours are clipped to [0, 1] when `clip=True` (as
    `skimage.color.lab2rgb` does); a negative Z is set to 0 first, also as
    scikit-image does.

    Args:
        lab: array or tensor of shape `(..., 3)` holding (L, a, b).
        clip: whether to clip the result to [0, 1].

    Returns:
        float32 tensor of shape `(..., 3)`.

    Example:

    >>> import numpy as np
    >>> from colorization.color import lab_to_rgb
    >>> rgb = lab_to_rgb(np.array([[53.24, 80.09, 67.2]], dtype="float32"))
    >>> [round(float(v), 3) for v in np.asarray(rgb)[0]]
    [1.0, 0.0, 0.0]
    """
    return _LAB_TO_RGB(_checked_color(lab, "lab_to_rgb"), clip=bool(clip))


def _lab_to_rgb(lab, clip=True, roots_by_bits=False):
    """`lab_to_rgb` on checked input, in `keras.ops` (the path traced, differentiated and compiled).

    With `roots_by_bits` (the compiled plain-call path only: no gradient) the
    power 1/2.4 comes from `_root_by_bits` and square roots instead of `exp`
    and `log`.
    """
    lab = _as_float32(lab)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = ops.maximum(fy - b / 200.0, 0.0)
    xyz = ops.stack(
        [ops.where(f > _LAB_INVERSE_THRESHOLD, f * f * f, (f - _LAB_OFFSET) / _LAB_KAPPA_SLOPE) for f in (fx, fy, fz)],
        axis=-1,
    )
    linear = ops.stack(_channel_mix(xyz, _RGB_FROM_XYZN), axis=-1)
    if roots_by_bits:
        curved = 1.055 * _power_5_12_by_bits(ops.maximum(linear, _SRGB_GAMMA_THRESHOLD)) - 0.055
        rgb = ops.where(linear > _SRGB_GAMMA_THRESHOLD, curved, linear * 12.92)
    else:
        rgb = linear_to_srgb(linear)
    if clip:
        rgb = ops.clip(rgb, 0.0, 1.0)
    return rgb


# Plain eager calls on TensorFlow and JAX run these compiled per shape and dtype
# (see `colorization.eager_compile`); in chunks of 8192 pixels (96 KB of
# float32 RGB) the intermediates of each stage stay in the core's cache (8192
# measured faster than 32768 on both backends); on JAX with a CPU device, in
# blocks of 262144 pixels (3 MB) from a thread pool.
_RGB_TO_LAB = EagerCompiled(
    _rgb_to_lab,
    chunk_pixels=8192,
    block_pixels=262144,
    compiled_fn=functools.partial(_rgb_to_lab, roots_by_bits=True),
)
_LAB_TO_RGB = EagerCompiled(
    _lab_to_rgb,
    chunk_pixels=8192,
    block_pixels=262144,
    compiled_fn=functools.partial(_lab_to_rgb, roots_by_bits=True),
)


def lab_to_rgb_uint8(lab):
    """Converts CIELAB to sRGB uint8 (rounded, clipped to [0, 255])."""
    return ops.cast(ops.round(lab_to_rgb(lab, clip=True) * 255.0), "uint8")


def split_lab(lab):
    """Splits `(..., 3)` Lab into `L` of shape `(..., 1)` and `ab` of `(..., 2)`."""
    return lab[..., :1], lab[..., 1:]


def merge_lab(L, ab):
    """Concatenates `L` `(..., 1)` and `ab` `(..., 2)` into Lab `(..., 3)`."""
    return ops.concatenate([ops.cast(L, "float32"), ops.cast(ab, "float32")], axis=-1)
