"""A registry of model builders, so every network is swept by the same tests (timm's pattern)."""

_BUILDERS = {}


def register_model(name):
    """Decorator registering a model builder under `name`.

    Example:
    >>> from colorization.models import unet
    >>> register_model("unet")(unet) is unet  # as `models/unet.py` registers it; idempotent
    True
    """

    def decorator(builder):
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(
                f"A model named {name!r} is already registered. Received: name={name!r}"
            )
        _BUILDERS[name] = builder
        return builder

    return decorator


def list_models():
    """Names of all registered models, sorted."""
    return sorted(_BUILDERS)


def get_model(model, /, **kwargs):
    """Builds the registered model `model` with the builder's `kwargs` (`name` included)."""
    if model not in _BUILDERS:
        raise ValueError(
            f"Unknown model. Available models: {', '.join(list_models())}. "
            f"Received: model={model!r}"
        )
    return _BUILDERS[model](**kwargs)
