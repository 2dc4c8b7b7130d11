"""Released weights: presets as data, converters from the authors' checkpoints, one loading path."""

from colorization.weights.zhang_release import RELEASES
from colorization.weights.zhang_release import ChecksumError
from colorization.weights.zhang_release import Release
from colorization.weights.zhang_release import WeightsError
from colorization.weights.zhang_release import available
from colorization.weights.zhang_release import build
from colorization.weights.zhang_release import convert_state_dict
from colorization.weights.zhang_release import download
from colorization.weights.zhang_release import identify
from colorization.weights.zhang_release import load
from colorization.weights.zhang_release import read_state_dict
from colorization.weights.zhang_release import sha256
from colorization.weights.zhang_release import verify_file
