"""Reusable layers shared by the colorization networks."""

from colorization.layers.annealed_mean import AnnealedMean
