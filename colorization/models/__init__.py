"""Model builders, one file per paper network, all listed in the registry."""

from colorization.models.registry import get_model
from colorization.models.registry import list_models
from colorization.models.registry import register_model
