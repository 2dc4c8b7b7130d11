"""The shared test kit: tiny configurations of every registered model and shared helpers."""

import keras
import numpy as np
import pytest

# Tiny variants (a few thousand parameters, 32 px) of every registered builder, for the sweep.
TINY_KWARGS = {
    "unet": {"input_shape": (32, 32, 1), "width": 4},
    "eccv16": {"input_shape": (32, 32, 1), "width": 4},
    "eccv16_release": {"input_shape": (32, 32, 1), "width": 4},
    "siggraph17": {"input_shape": (32, 32, 1), "width": 4},
    "koalarization": {"input_shape": (32, 32, 1), "width": 4, "feature_extractor": "tiny"},
    "resnet_colorizer": {"input_shape": (32, 32, 1), "width": 2, "stage_blocks": (1, 1, 1, 1)},
    "pix2pix_generator": {"input_shape": (32, 32, 1), "width": 4, "num_downsamples": 5},
    "resnet18_autoencoder": {"input_shape": (32, 32, 1), "width": 4, "decoder_filters": (8, 8, 4)},
    "resnet18_vae": {"input_shape": (32, 32, 1), "width": 4, "decoder_filters": (8, 8, 4)},
    "coherent": {"input_shape": (32, 32, 1), "width": 4, "branch_filters": 4, "refine_filters": 8},
}


def tiny_model_kwargs(name):
    """The keyword arguments of the tiny test variant of the registered model `name`."""
    return dict(TINY_KWARGS[name])


def run(model, x, training=False):
    """Calls the model directly, without `predict` (which compiles a function first)."""
    outputs = model(x, training=training)
    if isinstance(outputs, (list, tuple)):
        return [keras.ops.convert_to_numpy(output) for output in outputs]
    if isinstance(outputs, dict):
        return {key: keras.ops.convert_to_numpy(output) for key, output in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


def round_trip(model, tmp_path, filename="model.keras"):
    """Saves `model` to a `.keras` file and loads it back with `safe_mode=True`."""
    path = tmp_path / filename
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


def assert_round_trip(model, inputs, tmp_path, atol=1e-5):
    """Asserts that the `.keras` round trip predicts as `model` on `inputs`; returns the copy."""
    restored = round_trip(model, tmp_path)
    expected, received = run(model, inputs), run(restored, inputs)
    if isinstance(expected, list):
        for e, r in zip(expected, received):
            np.testing.assert_allclose(r, e, atol=atol)
    else:
        np.testing.assert_allclose(received, expected, atol=atol)
    return restored


def assert_bad_argument(builder, received, error=ValueError, **kwargs):
    """Asserts `builder(**kwargs)` raises `error` whose message contains "Received: <received>"."""
    with pytest.raises(error) as raised:
        builder(**kwargs)
    assert f"Received: {received}" in str(raised.value), str(raised.value)
    return raised.value
