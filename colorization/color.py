"""sRGB <-> CIELAB (D65, 2-degree observer) in plain `keras.ops`, with finite gradients everywhere.

IEC 61966-2-1 and CIE 15 with skimage's constants. RGB in [0, 1] (float) or [0, 255] (uint8); L
in [0, 100]; a, b in CIELAB units.

Example:
>>> L, ab = split_lab(rgb_to_lab(np.array([[255, 0, 0]], np.uint8)))
>>> np.asarray(lab_to_rgb_uint8(merge_lab(L, ab))).tolist()
[[255, 0, 0]]
"""

import numpy as np
from keras import backend
from keras import ops

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

# Row-vector matrices (pixels @ matrix) with the white point folded in: linear RGB -> XYZ / white
# and back.
_XYZN_FROM_RGB = (XYZ_FROM_RGB / D65_WHITE[:, None]).T.astype(np.float32)
_RGB_FROM_XYZN = (RGB_FROM_XYZ * D65_WHITE[None, :]).T.astype(np.float32)
# (L, a, b) = (fx, fy, fz) @ _LAB_FROM_F + _LAB_OFFSETS.
_LAB_FROM_F = np.array([[0.0, 500.0, 0.0], [116.0, -500.0, 200.0], [0.0, 0.0, -200.0]], np.float32)
_LAB_OFFSETS = np.array([-16.0, 0.0, 0.0], np.float32)


def _checked_color(x, name):
    """`x` (as a NumPy array if it has no dtype) after checking its dtype and channel count."""
    if not hasattr(x, "dtype"):
        x = np.asarray(x)
    dtype = backend.standardize_dtype(x.dtype)
    if dtype == "bool" or ("int" in dtype and dtype != "uint8"):
        # A silent wrong scale is the classic pitfall of integer input.
        raise TypeError(
            f"`{name}` converts only uint8 (divided by 255) among integer types; convert others to "
            f"float in [0, 1] so the scale is explicit. Received: dtype={dtype}"
        )
    if len(x.shape) == 0 or x.shape[-1] != 3:
        raise ValueError(
            f"`{name}` expects channel-last input with 3 channels. Received: shape={tuple(x.shape)}"
        )
    return x


def _as_float32(x):
    """float32 tensor of `x`, uint8 divided by 255."""
    if backend.standardize_dtype(x.dtype) == "uint8":
        return ops.cast(x, "float32") / 255.0
    return ops.cast(x, "float32")


def _mix(pixels, matrix):
    """`pixels (..., 3) @ matrix (3, 3)`."""
    return ops.matmul(pixels, ops.convert_to_tensor(matrix))


def _power(x, exponent):
    """`x ** exponent` for positive `x`, as `exp(exponent * log(x))`, cheaper than `ops.power`."""
    return ops.exp(exponent * ops.log(x))


def srgb_to_linear(rgb):
    """Removes the sRGB transfer curve: companded [0, 1] -> linear [0, 1] (IEC 61966-2-1)."""
    rgb = ops.cast(rgb, "float32")
    # Clamping inside each branch keeps the unused branch's gradient finite.
    curved = _power((ops.maximum(rgb, _SRGB_LINEAR_THRESHOLD) + 0.055) / 1.055, 2.4)
    return ops.where(rgb > _SRGB_LINEAR_THRESHOLD, curved, rgb / 12.92)


def linear_to_srgb(linear):
    """Applies the sRGB transfer curve: linear [0, 1] -> companded [0, 1] (IEC 61966-2-1)."""
    linear = ops.cast(linear, "float32")
    curved = 1.055 * _power(ops.maximum(linear, _SRGB_GAMMA_THRESHOLD), 1.0 / 2.4) - 0.055
    return ops.where(linear > _SRGB_GAMMA_THRESHOLD, curved, linear * 12.92)


def _lab_f(t):
    """CIE's companding of XYZ relative to white: cube root above (6/29)^3, linear below."""
    cube_root = _power(ops.maximum(t, _LAB_EPSILON), 1.0 / 3.0)
    return ops.where(t > _LAB_EPSILON, cube_root, _LAB_KAPPA_SLOPE * t + _LAB_OFFSET)


def luminance_to_lightness(y):
    """CIELAB L in [0, 100] of relative luminance `y` (CIE Y, white = 1): `116 f(y) - 16`.

    Example:
    >>> [round(float(v), 2) for v in luminance_to_lightness([0.0, 0.18, 1.0])]
    [0.0, 49.5, 100.0]
    """
    return 116.0 * _lab_f(ops.cast(y, "float32")) - 16.0


def rgb_to_lab(rgb):
    """Converts sRGB to CIELAB (D65, 2-degree observer).

    Args:
        rgb: `(..., 3)` float sRGB in [0, 1], or uint8; other integer dtypes are refused.

    Returns:
        float32 `(..., 3)` holding (L, a, b).

    Example:
    >>> lab = rgb_to_lab(np.array([[1.0, 0.0, 0.0]], dtype="float32"))
    >>> [round(float(v), 2) for v in np.asarray(lab)[0]]
    [53.24, 80.09, 67.2]
    """
    rgb = _as_float32(_checked_color(rgb, "rgb_to_lab"))
    f = _lab_f(_mix(srgb_to_linear(rgb), _XYZN_FROM_RGB))
    return _mix(f, _LAB_FROM_F) + ops.convert_to_tensor(_LAB_OFFSETS)


def lab_to_rgb(lab, clip=True):
    """Converts CIELAB (D65, 2-degree observer) to sRGB, flooring `f_y - b / 200` at 0 as skimage.

    Args:
        lab: `(..., 3)` holding (L, a, b).
        clip: whether to clip out-of-gamut results to [0, 1].

    Returns:
        float32 `(..., 3)`.

    Example:
    >>> rgb = lab_to_rgb(np.array([[53.24, 80.09, 67.2]], dtype="float32"))
    >>> [round(float(v), 3) for v in np.asarray(rgb)[0]]
    [1.0, 0.0, 0.0]
    """
    lab = _as_float32(_checked_color(lab, "lab_to_rgb"))
    fy = (lab[..., 0] + 16.0) / 116.0
    f = ops.stack(
        [fy + lab[..., 1] / 500.0, fy, ops.maximum(fy - lab[..., 2] / 200.0, 0.0)], axis=-1
    )
    xyz = ops.where(f > _LAB_INVERSE_THRESHOLD, f * f * f, (f - _LAB_OFFSET) / _LAB_KAPPA_SLOPE)
    rgb = linear_to_srgb(_mix(xyz, _RGB_FROM_XYZN))
    return ops.clip(rgb, 0.0, 1.0) if clip else rgb


def lab_to_rgb_uint8(lab):
    """Converts CIELAB `(..., 3)` to sRGB uint8 (clipped, rounded to the nearest level)."""
    return ops.cast(ops.round(lab_to_rgb(lab, clip=True) * 255.0), "uint8")


def split_lab(lab):
    """Splits `(..., 3)` Lab into `L` of shape `(..., 1)` and `ab` of `(..., 2)`."""
    return lab[..., :1], lab[..., 1:]


def merge_lab(L, ab):
    """Concatenates `L` `(..., 1)` and `ab` `(..., 2)` into float32 Lab `(..., 3)`."""
    return ops.concatenate([ops.cast(L, "float32"), ops.cast(ab, "float32")], axis=-1)


def l_ab_to_rgb_uint8(L, ab):
    """The picture of `L` `(..., 1)` and `ab` `(..., 2)` as a NumPy sRGB uint8 `(..., 3)`.

    Example:
    >>> l_ab_to_rgb_uint8(np.full((1, 1), 100.0), np.zeros((1, 2))).tolist()
    [[255, 255, 255]]
    """
    return ops.convert_to_numpy(lab_to_rgb_uint8(merge_lab(L, ab)))
