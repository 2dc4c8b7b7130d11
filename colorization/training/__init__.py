"""Training: every report's recipe, callbacks, distribution and mixed precision."""

from colorization.training.callbacks import SampleColorizationLogger
from colorization.training.initializers import initialize_bias_from_prior
from colorization.training.mixed_precision import mixed_precision_copy
from colorization.training.recipes import Recipe
from colorization.training.recipes import all_recipes
from colorization.training.recipes import get_recipe

__all__ = [
    "SampleColorizationLogger",
    "initialize_bias_from_prior",
    "mixed_precision_copy",
    "Recipe",
    "all_recipes",
    "get_recipe",
]
