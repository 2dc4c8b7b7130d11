"""Model builders, one file per paper network, all listed in the registry.

The builder contract. Every registered builder (`list_models()`) takes the
same keyword arguments, in this order:

- `input_shape`: `(height, width, channels)` of the input, L in [0, 100]
  (`None` sides where the network allows any size);
- `width`: the channels of the first layer at the paper's scale (every
  other layer scales with it);
- `head`: what the model outputs: `"regression"` (ab in Lab units),
  `"classification"` (probabilities over `num_bins` ab bins), `"rgb"`
  (RGB in [0, 1], report 004), or a network's own (`"release"`,
  `"regression_and_classification"`);
- `num_bins`: Q of a classification head, where the network has one;
- `name`: the model's name;

then the network's own arguments. Each returns a functional `keras.Model`
(a subclass only where training needs its own step: `Pix2Pix`,
`CoherentColorizer`) that normalises L in its first layer.

Example:

>>> from colorization.models import get_model
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
