"""The one download, checksum and cache path of every weights file, and its errors."""

import hashlib
import os
import pathlib

CACHE_SUBDIR = "models"


class WeightsError(ValueError):
    """A weights file that is not what `load` was asked to read.

    `str(error)` is one line naming the file and what it is not (for a command line), then details.

    Attributes:
        path: the file.
        summary: the first line.
        details: what follows it (may be empty).
    """

    def __init__(self, path, summary, details=""):
        self.path = path
        self.summary = summary
        self.details = details
        super().__init__(summary + (f"\n{details}" if details else ""))


class ChecksumError(WeightsError):
    """A weights file whose SHA-256 or MD5 is not its preset's (from `load` and `download`)."""


def sha256(path):
    """The SHA-256 hex digest of a file."""
    return file_digest(path, "sha256")


def file_digest(path, algorithm):
    """The hex digest of a file under a `hashlib` algorithm name."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, algorithm).hexdigest()


def verify_file(
    path,
    release,
    advice="The file is damaged or not the released weights; delete it and download again.",
):
    """Raises `ChecksumError` (digests, URL, `advice`) unless `path` has the preset's checksum."""
    algorithm, expected = release.checksum
    digest = file_digest(path, algorithm)
    if not digest.startswith(expected):
        shown = len(release.sha256_prefix) or 8
        label = algorithm.upper().replace("SHA", "SHA-")
        raise ChecksumError(
            path,
            f"Checksum mismatch for {path}: its {label} starts with {digest[:shown]}, "
            f"the release {release.filename} has {expected[:shown]}.",
            f"{label} of the file: {digest}; expected "
            f"{'' if len(expected) == len(digest) else 'a digest starting with '}{expected} "
            f"({release.url}). {advice}",
        )


def fetch(name, preset, cache_dir=None, force=False):
    """`colorization.weights.download` for `preset`, called `name`: same result and errors."""
    import keras

    if cache_dir is not None:
        # keras.utils.get_file falls back to /tmp/.keras when the folder does not exist yet.
        os.makedirs(os.path.expanduser(cache_dir), exist_ok=True)
    try:
        path = keras.utils.get_file(
            fname=preset.filename,
            origin=preset.url,
            cache_dir=cache_dir,
            cache_subdir=CACHE_SUBDIR,
            file_hash=preset.sha256 or preset.md5,
            hash_algorithm="auto",
            force_download=force,
        )
    except Exception as error:  # get_file raises bare Exceptions for network failures
        raise OSError(
            f"Could not download {preset.filename} from {preset.url} "
            f"({type(error).__name__}: {error}); download it elsewhere and pass it: "
            f"{preset.how_to_pass(name)}."
        ) from None
    try:
        verify_file(path, preset)
    except ChecksumError:
        os.remove(path)
        raise
    return pathlib.Path(path)
