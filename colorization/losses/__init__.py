"""Losses of the reproduced papers, one file each, all usable in `model.compile`."""

from colorization.losses.adversarial import AdversarialBCE
from colorization.losses.adversarial import ScaledL1
from colorization.losses.adversarial import discriminator_loss
from colorization.losses.adversarial import generator_adversarial_loss
from colorization.losses.coherence import GradientCoherenceLoss
from colorization.losses.coherence import gradient_coherence
from colorization.losses.kl import GaussianKL
from colorization.losses.kl import gaussian_kl_divergence
from colorization.losses.rebalanced_cross_entropy import RebalancedCrossEntropy
from colorization.losses.regularization import ColorRegularizer
from colorization.losses.regularization import color_regularizer

__all__ = [
    "AdversarialBCE",
    "ScaledL1",
    "discriminator_loss",
    "generator_adversarial_loss",
    "GradientCoherenceLoss",
    "gradient_coherence",
    "GaussianKL",
    "gaussian_kl_divergence",
    "RebalancedCrossEntropy",
    "ColorRegularizer",
    "color_regularizer",
]
