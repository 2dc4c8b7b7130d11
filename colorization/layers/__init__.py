"""Reusable layers and blocks shared by the colorization networks, one idea per file."""

from colorization.layers.annealed_mean import AnnealedMean
from colorization.layers.color_head import COLOR_HEADS
from colorization.layers.color_head import apply_color_head
from colorization.layers.color_head import color_channels
from colorization.layers.conv_bn import TORCH_BN_EPSILON
from colorization.layers.conv_bn import apply_conv_bn
from colorization.layers.gaussian_sampling import GaussianSampling
from colorization.layers.lightness import CENTERED
from colorization.layers.lightness import SYMMETRIC
from colorization.layers.lightness import apply_l_normalization
from colorization.layers.residual import apply_basic_block
from colorization.layers.residual import apply_bottleneck_block
from colorization.layers.residual import apply_resnet_stage

__all__ = [
    "AnnealedMean",
    "COLOR_HEADS",
    "apply_color_head",
    "color_channels",
    "TORCH_BN_EPSILON",
    "apply_conv_bn",
    "GaussianSampling",
    "CENTERED",
    "SYMMETRIC",
    "apply_l_normalization",
    "apply_basic_block",
    "apply_bottleneck_block",
    "apply_resnet_stage",
]
