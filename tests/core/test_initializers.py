"""The prior bias initialisation makes a head with a zero kernel output the prior exactly."""

import keras
import numpy as np
import pytest

from colorization.models import eccv16
from colorization.models import unet
from colorization.training.initializers import initialize_bias_from_prior

pytestmark = pytest.mark.core


@pytest.mark.parametrize("builder, layer_name", [(unet, "logits"), (eccv16, "conv8_313")])
def test_zero_kernel_head_outputs_the_prior(builder, layer_name, rng):
    model = builder(input_shape=(32, 32, 1), head="classification", width=4)
    prior = rng.dirichlet(np.ones(313) * 0.3)
    prior[:3] = 0.0
    prior /= prior.sum()
    layer = initialize_bias_from_prior(model, prior)
    assert layer.name == layer_name
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), bias])
    probs = keras.ops.convert_to_numpy(
        model(rng.uniform(0, 100, (1, 32, 32, 1)).astype("float32"), training=False)
    )
    expected = np.maximum(prior, 1e-8) / np.maximum(prior, 1e-8).sum()
    np.testing.assert_allclose(probs[0, 0, 0], expected, rtol=1e-4, atol=1e-9)


def test_errors_name_the_problem():
    model = unet(input_shape=(32, 32, 1), head="regression", width=4)
    with pytest.raises(ValueError, match="No layer with 313 outputs"):
        initialize_bias_from_prior(model, np.ones(313) / 313)
    with pytest.raises(ValueError, match="non-negative"):
        initialize_bias_from_prior(model, -np.ones(313))
