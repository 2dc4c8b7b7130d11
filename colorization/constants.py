"""Constants shared across the library, each defined once with its source.

Example:
>>> from colorization import constants
>>> constants.ZHANG_TEMPERATURE, constants.AB_SCALE
(0.38, 110.0)
"""

# ab is quantised on a grid of 10 (Zhang et al. Sec. 2.1); Q = 313 cells are in gamut.
GRID_SPACING = 10.0
NUM_AB_BINS = 313
# Gaussian width (ab units) of the soft encoding over the 5 nearest bins and of the prior
# smoothing (Sec. 2.1-2.2).
ZHANG_SIGMA = 5.0
ZHANG_NEIGHBORS = 5
# lambda of the class rebalancing, mixing the uniform distribution into the prior (Sec. 2.2).
ZHANG_GAMMA = 0.5
# Annealed-mean temperature (Sec. 2.3).
ZHANG_TEMPERATURE = 0.38
# ab of in-gamut sRGB colours lies within about +-110: networks predict ab / AB_SCALE in [-1, 1],
# as Zhang et al.'s released models do.
AB_SCALE = 110.0
