"""Model builders, one file per paper network, all listed in the registry (`list_models()`).

The builder contract: `input_shape` (`(height, width, channels)`, L in [0, 100]; `None` sides
where any size works), `width` (the first layer's channels; the others scale with it), `head`
(`"regression"`: ab in Lab units; `"classification"`: probabilities over `num_bins` ab bins;
`"rgb"`: RGB in [0, 1]; or the network's own), `num_bins`, `name`, then its own arguments. Each
returns a functional `keras.Model` that normalises L (subclassed only for a training step).

Example:
>>> get_model("unet", input_shape=(32, 32, 1), width=4, head="classification").output_shape
(None, 32, 32, 313)
"""

from colorization.models.autoencoder import resnet18_autoencoder
from colorization.models.autoencoder import resnet18_vae
from colorization.models.coherent import coherent
from colorization.models.eccv16 import eccv16
from colorization.models.eccv16_release import eccv16_release
from colorization.models.koalarization import koalarization
from colorization.models.pix2pix import Pix2Pix
from colorization.models.pix2pix import patchgan_discriminator
from colorization.models.pix2pix import pix2pix_generator
from colorization.models.registry import get_model
from colorization.models.registry import list_models
from colorization.models.registry import register_model
from colorization.models.resnet import resnet_colorizer
from colorization.models.siggraph17 import siggraph17
from colorization.models.unet import unet

__all__ = [
    "resnet18_autoencoder",
    "resnet18_vae",
    "coherent",
    "eccv16",
    "eccv16_release",
    "koalarization",
    "Pix2Pix",
    "patchgan_discriminator",
    "pix2pix_generator",
    "get_model",
    "list_models",
    "register_model",
    "resnet_colorizer",
    "siggraph17",
    "unet",
]
