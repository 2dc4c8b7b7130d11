"""Every registered model, swept by the same checks (timm style): existing code tests a new model.

For each builder's tiny variant: the output is ab (last dim 2) or a distribution
over bins (last dim Q, summing to 1); one `fit` step on `(L, ab)` gives a finite
loss and changes the weights; a `.keras` round trip with `safe_mode=True` gives
identical predictions.
"""

import functools

import keras
import numpy as np
import pytest
from kit import TINY_KWARGS
from kit import assert_bad_argument
from kit import assert_round_trip
from kit import run
from kit import tiny_model_kwargs

import colorization.models  # noqa: F401  (registers the builders)
from colorization.losses import RebalancedCrossEntropy
from colorization.models.registry import get_model
from colorization.models.registry import list_models

pytestmark = pytest.mark.core


def _random_inputs(model, rng, batch=2):
    arrays = []
    for tensor in model.inputs:
        shape = tuple(batch if d is None else d for d in tensor.shape)
        shape = (batch,) + tuple(32 if d is None else d for d in shape[1:])
        arrays.append(rng.uniform(0, 100, shape).astype(np.float32))
    return arrays[0] if len(arrays) == 1 else arrays


def test_registry_lists_the_paper_networks_and_the_kit_covers_them():
    assert {"unet", "eccv16"} <= set(list_models())
    assert set(TINY_KWARGS) == set(list_models())
    with pytest.raises(ValueError, match="Unknown model.*Received: model='nope'"):
        get_model("nope")


@pytest.mark.parametrize("name", list_models())
def test_every_builder_follows_the_contract(name):
    """The same argument names everywhere, with keras-hub-style errors."""
    tiny = tiny_model_kwargs(name)
    build = functools.partial(get_model, name)
    assert_bad_argument(build, "width=0", **{**tiny, "width": 0})
    assert_bad_argument(build, "head='nope'", **{**tiny, "head": "nope"})
    assert_bad_argument(
        build, "input_shape=(32, 32, 1, 1)", **{**tiny, "input_shape": (32, 32, 1, 1)}
    )
    assert get_model(name, **tiny, name="renamed").name == "renamed"


@pytest.mark.parametrize("name", list_models())
def test_registered_model_trains_and_round_trips(name, rng, tmp_path):
    keras.utils.set_random_seed(0)
    model = get_model(name, **tiny_model_kwargs(name))
    inputs = _random_inputs(model, rng)
    output = run(model, inputs)
    assert np.isfinite(output).all()
    channels = output.shape[-1]
    assert channels in (2, 313), f"{name}: output must be ab or a distribution, got {output.shape}"
    if channels == 313:
        np.testing.assert_allclose(output.sum(-1), 1.0, atol=1e-4)
        loss = RebalancedCrossEntropy()
    else:
        loss = "mse"
    first = inputs if not isinstance(inputs, list) else inputs[0]
    ab = rng.normal(0, 20, first.shape[:3] + (2,)).astype(np.float32)
    if channels == 2 and output.shape[1:3] != ab.shape[1:3]:
        ab = ab[:, : output.shape[1], : output.shape[2]]
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    history = model.fit(inputs, ab, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(
        not np.allclose(b, keras.ops.convert_to_numpy(a))
        for b, a in zip(before, model.trainable_weights)
    )

    assert_round_trip(model, inputs, tmp_path)
