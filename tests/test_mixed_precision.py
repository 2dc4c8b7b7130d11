"""Mixed precision: every registered model trains under "mixed_bfloat16" and "mixed_float16".

For each registered model's tiny variant and each mixed policy: the model
computes in the policy's 16-bit type, its output is float32, every softmax and
annealed mean inside it computes in float32, its predictions with the float32
model's weights stay within a tolerance of the float32 predictions (compared
in Lab units: classification outputs are decoded with a NumPy annealed mean),
and one `fit` step gives a finite loss with the loss scaled under
"mixed_float16" (`LossScaleOptimizer`). The losses and the colour conversion
return float32 and equal their float32 results on the same (16-bit) values.

The global dtype policy is restored to "float32" after every test.
"""

import keras
import numpy as np
import pytest
from kit import tiny_model_kwargs

import colorization.models  # noqa: F401  (registers the builders)
from colorization import color
from colorization.layers import AnnealedMean
from colorization.losses import ColorRegularizer
from colorization.losses import GradientCoherenceLoss
from colorization.losses import RebalancedCrossEntropy
from colorization.models.registry import get_model
from colorization.models.registry import list_models
from colorization.quantization import default_ab_bins

POLICIES = ("mixed_bfloat16", "mixed_float16")
# Largest |mixed - float32| prediction difference, as a fraction of the float32
# output's largest magnitude (measured on the tiny variants: <= 1.5% for bf16,
# <= 0.25% for fp16; bfloat16 keeps 8 significant bits, float16 11).
RELATIVE_TOLERANCE = {"mixed_bfloat16": 0.04, "mixed_float16": 0.008}


@pytest.fixture(autouse=True)
def float32_policy_afterwards():
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def _random_inputs(model, rng, batch=2):
    arrays = []
    for tensor in model.inputs:
        shape = (batch,) + tuple(32 if d is None else d for d in tuple(tensor.shape)[1:])
        arrays.append(rng.uniform(0, 100, shape).astype(np.float32))
    return arrays[0] if len(arrays) == 1 else arrays


def _numpy_annealed_mean(probs, temperature=0.38):
    logits = np.log(np.maximum(probs.astype(np.float64), 1e-30)) / temperature
    logits -= logits.max(-1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(-1, keepdims=True)
    return weights @ default_ab_bins().astype(np.float64)


def _as_lab(output):
    output = np.asarray(output, dtype=np.float32)
    return _numpy_annealed_mean(output) if output.shape[-1] == 313 else output


def _all_layers(model):
    yield from model._flatten_layers(include_self=False, recursive=True)


def _build(name, policy):
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        return get_model(name, **tiny_model_kwargs(name))
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("name", list_models())
def test_model_trains_under_mixed_policies(name, rng):
    reference = _build(name, "float32")
    inputs = _random_inputs(reference, rng)
    expected = _as_lab(reference(inputs, training=False))
    scale = float(np.abs(expected).max())
    first = inputs if not isinstance(inputs, list) else inputs[0]
    output_channels = reference.outputs[0].shape[-1] if hasattr(reference, "outputs") else None
    ab = rng.normal(0, 20, first.shape[:3] + (2,)).astype(np.float32)
    for policy in POLICIES:
        model = _build(name, policy)
        half = policy.removeprefix("mixed_")
        assert model.dtype_policy.name == policy
        convolutions = [
            layer for layer in _all_layers(model) if isinstance(layer, keras.layers.Conv2D)
        ]
        assert convolutions and all(layer.compute_dtype == half for layer in convolutions[:-1]), (
            f"{name}: the inner convolutions should compute in {half} under {policy}"
        )
        for layer in _all_layers(model):
            if isinstance(layer, (keras.layers.Softmax, AnnealedMean)):
                assert layer.compute_dtype == "float32", (
                    f"{name}: layer {layer.name!r} computes in {layer.compute_dtype}"
                )
            for weight in layer.weights:
                assert weight.dtype == "float32", (
                    f"{name}: variable {weight.path} is {weight.dtype}, not float32"
                )
        model.set_weights(reference.get_weights())
        output = model(inputs, training=False)
        assert keras.backend.standardize_dtype(output.dtype) == "float32", (
            f"{name} under {policy}: output is {output.dtype}"
        )
        error = float(np.abs(_as_lab(output) - expected).max())
        assert error <= RELATIVE_TOLERANCE[policy] * scale + 1e-3, (
            f"{name} under {policy}: predictions differ from float32 by {error:.4f} "
            f"(largest |output| {scale:.3f})"
        )

        loss = RebalancedCrossEntropy() if np.asarray(output).shape[-1] == 313 else "mse"
        target = ab
        if np.asarray(output).shape[-1] == 2 and np.asarray(output).shape[1:3] != ab.shape[1:3]:
            target = ab[:, : output.shape[1], : output.shape[2]]
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, run_eagerly=True)
        if policy == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer), (
                f"{name}: loss scaling is off"
            )
        before = [np.array(w) for w in model.trainable_weights]
        history = model.fit(inputs, target, batch_size=2, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"]).all(), (
            f"{name} under {policy}: {history.history}"
        )
        after = [np.array(w) for w in model.trainable_weights]
        assert all(np.isfinite(w).all() for w in after)
        changed = any(not np.array_equal(b, a) for b, a in zip(before, after))
        if policy == "mixed_float16" and not changed:
            # A dynamic loss scale skips a step whose scaled gradients overflow, halving the scale.
            assert float(model.optimizer.dynamic_scale) < 2.0**15, (
                f"{name}: weights unchanged and no overflow"
            )
        else:
            assert changed, f"{name} under {policy}: one fit step left the weights unchanged"
    assert output_channels is None or output_channels in (2, 313)


def _loss_cases(rng):
    ab_true = rng.normal(0, 25, (2, 16, 16, 2)).astype(np.float32)
    logits = rng.normal(0, 3, (2, 4, 4, 313)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ab_pred = rng.normal(0, 25, (2, 16, 16, 2)).astype(np.float32)
    other = rng.dirichlet(np.ones(313), (2, 4, 4)).astype(np.float32)
    return [
        (RebalancedCrossEntropy(class_weights=rng.uniform(0.5, 2.0, 313)), ab_true, probs),
        (GradientCoherenceLoss(), ab_true, ab_pred),
        (ColorRegularizer(), other, probs),
    ]


@pytest.mark.parametrize("policy", POLICIES)
def test_losses_compute_in_float32(policy, rng):
    half = policy.removeprefix("mixed_")
    keras.config.set_dtype_policy(policy)
    for loss, y_true, y_pred in _loss_cases(rng):
        # The 16-bit values a mixed model would hand the loss, and the same values in float32.
        y_pred_half = keras.ops.cast(y_pred, half)
        y_pred_exact = np.asarray(keras.ops.cast(y_pred_half, "float32"))
        value = loss(y_true, y_pred_half)
        assert keras.backend.standardize_dtype(value.dtype) == "float32", type(loss).__name__
        keras.config.set_dtype_policy("float32")
        reference = float(loss(y_true, y_pred_exact))
        keras.config.set_dtype_policy(policy)
        np.testing.assert_allclose(float(value), reference, rtol=1e-6, err_msg=type(loss).__name__)


@pytest.mark.parametrize("policy", POLICIES)
def test_annealed_mean_and_colour_conversion_compute_in_float32(policy, rng):
    half = policy.removeprefix("mixed_")
    keras.config.set_dtype_policy(policy)
    probs = rng.dirichlet(np.full(313, 0.05), (2, 3)).astype(np.float32)
    probs_half = np.asarray(keras.ops.cast(keras.ops.cast(probs, half), "float32"))
    layer = AnnealedMean()
    assert layer.compute_dtype == "float32"
    out = layer(keras.ops.cast(probs_half, half))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    # Independent float64 NumPy annealed mean of the same 16-bit probabilities.
    np.testing.assert_allclose(np.asarray(out), _numpy_annealed_mean(probs_half), atol=2e-3)

    rgb = rng.uniform(0, 1, (4, 4, 3)).astype(np.float32)
    rgb_half = keras.ops.cast(rgb, half)
    lab = color.rgb_to_lab(rgb_half)
    assert keras.backend.standardize_dtype(lab.dtype) == "float32"
    from skimage.color import rgb2lab

    np.testing.assert_allclose(
        np.asarray(lab),
        rgb2lab(np.asarray(keras.ops.cast(rgb_half, "float32"), np.float64)),
        atol=2e-3,
    )
    back = color.lab_to_rgb(keras.ops.cast(lab, half))
    assert keras.backend.standardize_dtype(back.dtype) == "float32"


@pytest.mark.core
@pytest.mark.parametrize("policy", POLICIES)
def test_pix2pix_gan_trains_with_loss_scaling(policy, rng):
    """Both networks take a step under each mixed policy; under "mixed_float16" loss scaling works.

    With float16 the two optimizers are LossScaleOptimizers: each network
    either steps or, if its scaled gradients overflow float16, keeps its
    weights and halves its scale; with a scale of 2 ** 4 every weight of both
    moves; with 1e38 (overflow) none does, and each scale is halved and its
    count of good steps reset.
    """
    from colorization.models.pix2pix import Pix2Pix
    from colorization.models.pix2pix import patchgan_discriminator
    from colorization.models.pix2pix import pix2pix_generator

    if policy == "mixed_float16" and keras.backend.backend() == "torch":
        import torch

        if not torch.cuda.is_available():
            pytest.skip(
                "PyTorch's CPU convolution backward rejects float16 "
                "(slow_conv2d: grad_weight must be contiguous); float16 training needs a GPU"
            )
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    generator = pix2pix_generator(input_shape=(32, 32, 1), width=4, num_downsamples=5)
    discriminator = patchgan_discriminator(input_shape=(32, 32, 1), width=4, num_layers=2)
    gan = Pix2Pix(generator, discriminator)
    gan.compile()
    scaled = policy == "mixed_float16"
    optimizers = (gan.g_optimizer, gan.d_optimizer)
    for optimizer in optimizers:
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == scaled
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    ab = rng.normal(0, 20, (2, 32, 32, 2)).astype(np.float32)
    assert keras.backend.standardize_dtype(discriminator([L, ab]).dtype) == "float32"

    def weights():
        return [
            [keras.ops.convert_to_numpy(w) for w in net.trainable_weights]
            for net in (generator, discriminator)
        ]

    def fit_one_step():
        before = weights()
        history = gan.fit(L, ab, batch_size=2, epochs=1, verbose=0).history
        assert all(np.isfinite(v).all() for v in history.values()), history
        after = weights()
        assert all(np.isfinite(w).all() for net in after for w in net)
        return [sum(not np.array_equal(b, a) for b, a in zip(*pair)) for pair in zip(before, after)]

    if scaled:
        # The initial scale, 2 ** 15, may overflow float16 gradients (G's loss is about 30 with
        # lambda = 100): each network then skips the step and halves its scale, or else steps.
        for optimizer, moved in zip(optimizers, fit_one_step()):
            skipped = float(optimizer.dynamic_scale) == 2.0**14
            assert (moved, int(optimizer.step_counter)) == ((0, 0) if skipped else (moved, 1)) and (
                skipped or moved
            )
            optimizer.dynamic_scale.assign(2.0**4)
    for name, network, moved in zip(("G", "D"), (generator, discriminator), fit_one_step()):
        total = len(network.trainable_weights)
        assert moved == total, f"{name}: {moved} of {total} weights moved under {policy}"
    if not scaled:
        return
    for optimizer in optimizers:
        assert float(optimizer.dynamic_scale) == 2.0**4 and int(optimizer.step_counter) >= 1
        optimizer.dynamic_scale.assign(1e38)  # the scaled losses (about 1 and 30) overflow float32
    assert fit_one_step() == [0, 0]
    for optimizer in optimizers:
        np.testing.assert_allclose(float(optimizer.dynamic_scale), 5e37, rtol=1e-6)
        assert int(optimizer.step_counter) == 0
