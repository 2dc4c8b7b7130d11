"""Losses of the reproduced papers, one file each, all usable in `model.compile`."""

from colorization.losses.regularization import ColorRegularizer
from colorization.losses.regularization import color_regularizer
from colorization.losses.coherence import GradientCoherenceLoss
from colorization.losses.coherence import gradient_coherence
from colorization.losses.rebalanced_cross_entropy import RebalancedCrossEntropy
