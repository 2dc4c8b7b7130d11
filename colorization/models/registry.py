"""A registry of model builders, so every network is swept by the same tests.

Each builder registers itself with a tiny configuration (a few thousand to a
few hundred thousand parameters, 32-64 px inputs) that the shared tests build,
run, train for one step and round-trip through a `.keras` file.
"""

_BUILDERS = {}
_TINY_KWARGS = {}


def register_model(name, tiny_kwargs=None):
    """Decorator registering a model builder under `name`.

    Args:
        name: the public name, e.g. `"unet"`.
        tiny_kwargs: keyword arguments that make a tiny variant for tests.

    Example:

    >>> from colorization.models.registry import register_model
    >>> @register_model("my_net_doc_example", tiny_kwargs={"width": 4})
    ... def my_net(width=64):
    ...     ...
    """

    def decorator(builder):
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"A model named {name!r} is already registered.")
        _BUILDERS[name] = builder
        _TINY_KWARGS[name] = dict(tiny_kwargs or {})
        return builder

    return decorator


def list_models():
    """Names of all registered models, sorted."""
    return sorted(_BUILDERS)


def get_model(name, **kwargs):
    """Builds the registered model `name` with `kwargs`."""
    if name not in _BUILDERS:
        raise ValueError(f"Unknown model {name!r}. Available models: {', '.join(list_models())}.")
    return _BUILDERS[name](**kwargs)


def tiny_model_kwargs(name):
    """The keyword arguments of the tiny test variant of `name`."""
    if name not in _BUILDERS:
        raise ValueError(f"Unknown model {name!r}. Available models: {', '.join(list_models())}.")
    return dict(_TINY_KWARGS[name])
