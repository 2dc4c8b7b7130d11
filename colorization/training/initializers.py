"""Data-grounded initialisation: start a classification head at the colour prior."""

import keras
import numpy as np


def _logits_layer(model, num_bins):
    """The last convolution or dense layer with `num_bins` outputs and a bias."""
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model):
            found = _logits_layer(layer, num_bins)
            if found is not None:
                return found
        units = getattr(layer, "filters", None) or getattr(layer, "units", None)
        if units == num_bins and getattr(layer, "use_bias", False):
            return layer
    return None


def initialize_bias_from_prior(model, prior, layer_name=None, floor=1e-8):
    """Sets a classification head's output bias to `log(prior)` (centred).

    An untrained network then predicts the data's colours, not the uniform distribution, whose
    annealed mean is the bins' centroid (a, b) ~ (16, 7), a reddish cast. This helps short runs;
    it is not a step of the reproduced papers.

    Args:
        model: a model whose output is a distribution over `len(prior)` bins.
        prior: `(Q,)` distribution over the bins (e.g. `data_pipeline.compute_prior`).
        layer_name: the logits layer; by default the last layer with Q outputs and a bias.
        floor: smallest probability used, so unseen bins get a finite bias.

    Returns:
        The layer whose bias was set.

    Example:
    >>> from colorization.models import unet
    >>> model = unet(input_shape=(32, 32, 1), head="classification", width=4)
    >>> prior = np.random.default_rng(0).dirichlet(np.ones(313))
    >>> initialize_bias_from_prior(model, prior).name
    'logits'
    """
    prior = np.asarray(prior, dtype=np.float64)
    if prior.ndim != 1 or np.any(prior < 0) or prior.sum() <= 0:
        raise ValueError(
            "`prior` must be a non-negative vector with a positive sum. Received shape "
            f"{prior.shape}."
        )
    layer = model.get_layer(layer_name) if layer_name else _logits_layer(model, len(prior))
    if layer is None:
        raise ValueError(
            f"No layer with {len(prior)} outputs and a bias in model {model.name!r}; pass "
            "`layer_name`."
        )
    weights = layer.get_weights()
    bias = np.log(np.maximum(prior / prior.sum(), floor))
    if weights[-1].shape != bias.shape:
        raise ValueError(
            f"Layer {layer.name!r} has a bias of shape {weights[-1].shape}, not {bias.shape}."
        )
    layer.set_weights(weights[:-1] + [(bias - bias.mean()).astype(weights[-1].dtype)])
    return layer
