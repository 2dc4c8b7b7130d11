"""Model builders, one file per paper network, all listed in the registry."""

from colorization.models.registry import get_model
from colorization.models.registry import list_models
from colorization.models.registry import register_model
from colorization.models.unet import unet
from colorization.models.eccv16 import eccv16
from colorization.models.resnet import resnet_colorizer
from colorization.models.pix2pix import Pix2Pix
from colorization.models.pix2pix import patchgan_discriminator
from colorization.models.pix2pix import pix2pix_generator
from colorization.models.autoencoder import resnet18_autoencoder
from colorization.models.siggraph17 import siggraph17
from colorization.models.koalarization import koalarization
from colorization.models.coherent import coherent
from colorization.models.eccv16_release import eccv16_release
