"""colorization: automatic image colorization in Keras 3.

The package reproduces the networks of five reports on deep colorization and
the work of Zhang, Isola & Efros ("Colorful Image Colorization", ECCV 2016)
under one API. Its core is backend-agnostic (`keras.ops`): it runs on the
TensorFlow, JAX and PyTorch backends.
"""

from colorization import color
from colorization import layers
from colorization import losses
from colorization import metrics
from colorization import models
from colorization import pretrained
from colorization import quantization
from colorization.color import lab_to_rgb
from colorization.color import rgb_to_lab
from colorization.inference import colorize
from colorization.layers import AnnealedMean
from colorization.quantization import ABQuantizer

__version__ = "0.1.0"
