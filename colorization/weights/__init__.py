"""Released weights: presets as data, converters from PyTorch state dicts, one loading path."""

from colorization.weights import resnet18
from colorization.weights.files import CACHE_SUBDIR
from colorization.weights.files import ChecksumError
from colorization.weights.files import WeightsError
from colorization.weights.files import sha256
from colorization.weights.files import verify_file
from colorization.weights.presets import PRESETS
from colorization.weights.presets import Preset
from colorization.weights.presets import available
from colorization.weights.presets import download
from colorization.weights.presets import load
from colorization.weights.presets import state_dict
from colorization.weights.state_dict import convert_state_dict
from colorization.weights.state_dict import read_state_dict
from colorization.weights.zhang_release import build
from colorization.weights.zhang_release import identify

__all__ = [
    "resnet18",
    "CACHE_SUBDIR",
    "ChecksumError",
    "WeightsError",
    "sha256",
    "verify_file",
    "PRESETS",
    "Preset",
    "available",
    "download",
    "load",
    "state_dict",
    "convert_state_dict",
    "read_state_dict",
    "build",
    "identify",
]
