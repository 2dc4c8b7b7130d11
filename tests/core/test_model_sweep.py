"""Every registered model, swept by the same checks (timm style): a new model is tested by existing code.

For each builder's tiny variant: the output is ab (last dim 2) or a distribution
over bins (last dim Q, summing to 1); one `fit` step on `(L, ab)` gives a finite
loss and changes the weights; a `.keras` round trip with `safe_mode=True` gives
identical predictions.
"""

import keras
import numpy as np
import pytest

import colorization.models  # noqa: F401  (registers the builders)
from colorization.losses import RebalancedCrossEntropy
from colorization.models.registry import get_model
from colorization.models.registry import list_models
from colorization.models.registry import tiny_model_kwargs

pytestmark = pytest.mark.core


def _random_inputs(model, rng, batch=2):
    arrays = []
    for tensor in model.inputs:
        shape = tuple(batch if d is None else d for d in tensor.shape)
        shape = (batch,) + tuple(32 if d is None else d for d in shape[1:])
        arrays.append(rng.uniform(0, 100, shape).astype(np.float32))
    return arrays[0] if len(arrays) == 1 else arrays


def test_registry_lists_the_paper_networks():
    assert {"unet", "eccv16"} <= set(list_models())
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        get_model("nope")


@pytest.mark.parametrize("name", list_models())
def test_registered_model_trains_and_round_trips(name, rng, tmp_path):
    keras.utils.set_random_seed(0)
    model = get_model(name, **tiny_model_kwargs(name))
    inputs = _random_inputs(model, rng)
    output = keras.ops.convert_to_numpy(model(inputs, training=False))
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
    assert any(not np.allclose(b, keras.ops.convert_to_numpy(a)) for b, a in zip(before, model.trainable_weights))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(inputs, training=False)),
        keras.ops.convert_to_numpy(model(inputs, training=False)),
        atol=1e-5,
    )
