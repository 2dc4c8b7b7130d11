"""Presets as data: every released weights file the library uses, and the one loading path.

Files are cached in `$KERAS_HOME/models/` and checked against the SHA-256 prefix in their name
(PyTorch hub's convention) or Keras's MD5; `.pth` is read with `torch.load(weights_only=True)`.
"""

import dataclasses
import pathlib

import colorization.weights.zhang_release as zhang_release
from colorization.weights.files import fetch
from colorization.weights.files import verify_file
from colorization.weights.state_dict import read_state_dict


@dataclasses.dataclass(frozen=True)
class Preset:
    """A released weights file.

    Args:
        url: where its authors publish it.
        sha256_prefix, sha256: its SHA-256's leading hex digits (from the file name), or all.
        description: the network and paper, for messages.
        md5: the MD5 its publisher states, for files without SHA-256 data.
        pass_with: the argument taking a local copy, for messages (default: `load`'s `path`).
    """

    url: str
    sha256_prefix: str = ""
    sha256: str = None
    description: str = ""
    md5: str = None
    pass_with: str = None

    @property
    def filename(self):
        return self.url.rsplit("/", 1)[-1]

    @property
    def checksum(self):
        """`(hashlib algorithm name, expected hex digest or prefix)`."""
        if self.sha256 or self.sha256_prefix:
            return "sha256", (self.sha256 or self.sha256_prefix).lower()
        if self.md5:
            return "md5", self.md5.lower()
        raise ValueError(f"Preset {self.filename} states no checksum.")

    def how_to_pass(self, name):
        """One line telling how to give a local copy of this file."""
        if self.pass_with:
            return f"{self.pass_with}='.../{self.filename}'"
        return (
            f"colorization.weights.load({name!r}, path='.../{self.filename}') "
            "(command line: --weights PATH)"
        )


_KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _keras_application(path, md5, description):
    return Preset(
        url=_KERAS_APPLICATIONS + path,
        md5=md5,
        description=description,
        pass_with="koalarization(..., extractor_weights",
    )


PRESETS = {
    "eccv16": Preset(
        url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
        sha256_prefix="9b330a0b",
        description="Zhang et al.'s ECCV16 colorizer",
    ),
    "siggraph17": Preset(
        url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
        sha256_prefix="df00044c",
        description="Zhang et al.'s SIGGRAPH17 colorizer (automatic mode)",
    ),
    "resnet18_imagenet": Preset(
        url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
        sha256_prefix="f37072fd",
        description="torchvision's ImageNet ResNet-18, as report 004's encoder",
        pass_with="resnet18_autoencoder(..., encoder_weights",
    ),
    # keras.applications' ImageNet classifiers with their top, for Deep Koalarization's extractor;
    # the MD5s are the ones Keras states for these files.
    "inception_resnet_v2_imagenet": _keras_application(
        "inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "e693bd0210a403b3192acc6073ad2e96",
        "Keras' ImageNet Inception-ResNet-v2 (Deep Koalarization's extractor)",
    ),
    "inception_v3_imagenet": _keras_application(
        "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "9a0d58056eeedaa3f26cb7ebd46da564",
        "Keras' ImageNet Inception-v3",
    ),
    "xception_imagenet": _keras_application(
        "xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
        "0a58e3b7378bc2990ea3b43d5981f1f6",
        "Keras' ImageNet Xception",
    ),
    "resnet50_imagenet": _keras_application(
        "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "2cb95161c43110f7111970584f804107",
        "Keras' ImageNet ResNet-50",
    ),
    "vgg16_imagenet": _keras_application(
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
        "Keras' ImageNet VGG16",
    ),
    "densenet121_imagenet": _keras_application(
        "densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "9d60b8095a5708f2dcce2bca79d332c7",
        "Keras' ImageNet DenseNet-121",
    ),
}


def available():
    """Names of all presets (`load` builds only the colorizers among them)."""
    return sorted(PRESETS)


def _preset(name):
    if name not in PRESETS:
        raise ValueError(
            f"Unknown pretrained model. Available: {', '.join(available())}. "
            f"Received: name={name!r}"
        )
    return PRESETS[name]


def download(name, cache_dir=None, force=False):
    """The local, verified path of preset `name`'s file, downloaded into the cache if needed.

    Args:
        name: a key of `PRESETS`.
        cache_dir: the cache root (default `$KERAS_HOME` or `~/.keras`).
        force: download again even if a cached copy exists.

    Returns:
        The file's `pathlib.Path`.

    Raises:
        OSError: offline; one line naming the URL and how to pass a local copy.
        ChecksumError: the checksum does not match (the bad download is deleted).
    """
    return fetch(name, _preset(name), cache_dir=cache_dir, force=force)


def state_dict(name, path=None, cache_dir=None, verify=True):
    """`(state dict, path)` of preset `name`, from `path` (checked if `verify`) or the cache."""
    preset = _preset(name)
    downloaded = path is None
    path = download(name, cache_dir=cache_dir) if downloaded else pathlib.Path(path)
    weights = read_state_dict(path)
    if name in zhang_release.INPUT_CHANNELS:
        zhang_release._check_network(path, weights, name)
    if verify and not downloaded:
        verify_file(
            path,
            preset,
            advice=f"The file is damaged or other weights; to load weights of {preset.description} "
            "that are not the release on purpose, pass verify=False (command line: --no-verify).",
        )
    return weights, path


def load(
    name,
    path=None,
    *,
    input_shape=(256, 256, 1),
    hints=False,
    head="regression",
    cache_dir=None,
    verify=True,
):
    """A released colorizer as a ready Keras model.

    Args:
        name: `"eccv16"` or `"siggraph17"` (the other presets are weights for their builders).
        path: a local copy of the file (`.pth`, or `.npz` of the same arrays); `None` downloads it.
        input_shape: the input size (the authors' demo: 256 x 256); `(None, None, 1)` for any.
        hints, head: SIGGRAPH17 only: `[L, ab_hints, hint_mask]` inputs; a 529-bin class output
            with `"regression_and_classification"`.
        cache_dir: the cache root for downloads (default `$KERAS_HOME` or `~/.keras`).
        verify: check the SHA-256 prefix of a file given by `path`.

    Returns:
        A `keras.Model` from L `(B, H, W, 1)` in [0, 100] to ab `(B, H, W, 2)` in Lab units.

    Raises:
        OSError: offline without `path`.
        ImportError: PyTorch missing for a `.pth` file.
        ChecksumError: the file's SHA-256 does not match the preset's.
        WeightsError (a ValueError): a missing file, not a PyTorch checkpoint, or other weights.

    Example:
    >>> import colorization
    >>> model = colorization.weights.load("eccv16")   # doctest: +SKIP
    >>> rgb = colorization.colorize(model, photo)        # doctest: +SKIP
    """
    preset = _preset(name)
    if name not in zhang_release.INPUT_CHANNELS:
        raise ValueError(
            f"{name!r} holds {preset.description}, not a colorizer: the builder that uses it "
            f"loads it ({preset.how_to_pass(name)} or 'imagenet'). Received: name={name!r}"
        )
    weights, path = state_dict(name, path, cache_dir=cache_dir, verify=verify)
    return zhang_release.convert(
        name, weights, path, input_shape=input_shape, hints=hints, head=head
    )
