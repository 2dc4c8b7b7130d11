"""The pix2pix conditional GAN (Isola et al. 2017) of report 004, sections 4.3 and 5.2.

The report's open choices follow Isola et al.'s appendix 6.1 and code: 4x4 stride-2
convolutions, weights from N(0, 0.02), no bias in the convolutional blocks.
"""

import keras
from keras import ops

import colorization.models.contract as contract
from colorization.constants import AB_SCALE
from colorization.layers import SYMMETRIC
from colorization.layers import TORCH_BN_EPSILON
from colorization.layers import apply_color_head
from colorization.layers import apply_l_normalization
from colorization.layers import color_channels
from colorization.losses.adversarial import PIX2PIX_L1_WEIGHT
from colorization.losses.adversarial import discriminator_loss
from colorization.losses.adversarial import generator_adversarial_loss
from colorization.losses.adversarial import scaled_l1
from colorization.models.registry import register_model


def _init():
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


# Inference-time layers


@keras.saving.register_keras_serializable(package="colorization")
class BatchStatisticsNormalization(keras.layers.BatchNormalization):
    """BatchNormalization that normalises with the batch's own statistics in inference mode too.

    Isola et al. 3.3 test "in exactly the same manner as during the training phase"; training calls
    are plain `BatchNormalization`.

    Args:
        **kwargs: those of `keras.layers.BatchNormalization`.
    """

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable:
            return super().call(inputs, training=training, mask=mask)
        compute_dtype = keras.backend.result_type(inputs.dtype, "float32")
        inputs = ops.cast(inputs, compute_dtype)  # float32 moments, as the parent layer
        mean, variance = self._moments(inputs, mask)
        outputs = ops.batch_normalization(
            x=inputs,
            mean=mean,
            variance=variance,
            axis=self.axis,
            offset=ops.cast(self.beta, inputs.dtype) if self.center else None,
            scale=ops.cast(self.gamma, inputs.dtype) if self.scale else None,
            epsilon=self.epsilon,
        )
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="colorization")
class InferenceDropout(keras.layers.Dropout):
    """Dropout that also drops in inference mode: Isola et al.'s noise source (section 3.3).

    Args:
        **kwargs: those of `keras.layers.Dropout`.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def _normalization(batch_statistics_at_inference, name):
    layer = (
        BatchStatisticsNormalization
        if batch_statistics_at_inference
        else keras.layers.BatchNormalization
    )
    return layer(epsilon=TORCH_BN_EPSILON, name=name)


# Blocks


def apply_pix2pix_down(
    x, filters, batch_norm=True, batch_statistics_at_inference=True, name="down"
):
    """Encoder block: conv4x4 stride 2 without bias - [BatchNorm] - LeakyReLU(0.2)."""
    x = keras.layers.Conv2D(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=_init(),
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = _normalization(batch_statistics_at_inference, f"{name}_bn")(x)
    return keras.layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x)


def apply_pix2pix_up(
    x,
    filters,
    dropout=0.0,
    batch_statistics_at_inference=True,
    dropout_at_inference=False,
    name="up",
):
    """Decoder block: transposed conv4x4 stride 2 - BatchNorm - [Dropout] - ReLU."""
    x = keras.layers.Conv2DTranspose(
        filters,
        4,
        strides=2,
        padding="same",
        use_bias=False,
        kernel_initializer=_init(),
        name=f"{name}_conv",
    )(x)
    x = _normalization(batch_statistics_at_inference, f"{name}_bn")(x)
    if dropout > 0:
        dropout_layer = InferenceDropout if dropout_at_inference else keras.layers.Dropout
        x = dropout_layer(dropout, name=f"{name}_dropout")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


# Generator


@register_model("pix2pix_generator")
def pix2pix_generator(
    input_shape=(128, 128, 1),
    width=64,
    head="regression",
    num_downsamples=7,
    max_filters_multiplier=8,
    dropout=0.5,
    num_dropout_blocks=3,
    batch_statistics_at_inference=True,
    dropout_at_inference=False,
    name="pix2pix_generator",
):
    """The pix2pix U-Net generator (Isola et al. 2017 appendix 6.1.1; report 004 section 5.2).

    `apply_pix2pix_down` blocks of `width * (1, 2, 4, 8, 8, ...)` channels (no BatchNorm in the
    first and innermost), `apply_pix2pix_up` blocks with skips, a tanh transposed conv. Open
    choices: 7 levels at 128 px (report 004's "7 encoders and 7 decoders"); pix2pix's one output
    layer for the report's "two convolutional layers at the end".

    Args:
        input_shape: `(H, W, C)`, H and W divisible by `2 ** num_downsamples`; C = 1 for L.
        width: channels of the first encoder block.
        head: `"regression"` (ab in Lab units, tanh times `AB_SCALE`) or `"rgb"` (RGB in [0, 1]).
        num_downsamples: encoder depth, at least 2 (7 at 128 px, 8 at 256 px).
        max_filters_multiplier: channel cap, as a multiple of `width`.
        dropout, num_dropout_blocks: the dropout rate of the first decoder blocks, and how many.
        batch_statistics_at_inference: normalise with the batch's statistics in inference (3.3).
        dropout_at_inference: keep dropout active in inference mode (the paper's noise).

    Returns:
        A functional `keras.Model` from `(B, H, W, C)` to ab `(B, H, W, 2)` or RGB.

    Example:
    >>> pix2pix_generator((32, 32, 1), width=4, num_downsamples=5).output_shape
    (None, 32, 32, 2)
    """
    num_downsamples = contract.check_positive_int("num_downsamples", num_downsamples)
    width = contract.check_positive_int("width", width)
    contract.check_positive_int("max_filters_multiplier", max_filters_multiplier)
    output_channels = color_channels(head)
    if num_downsamples < 2:
        raise ValueError(
            f"`num_downsamples` must be at least 2. Received: num_downsamples={num_downsamples}"
        )
    contract.check_rate("dropout", dropout)
    input_shape = contract.check_input_shape(
        input_shape, "pix2pix_generator", multiple=2**num_downsamples, channels=None
    )

    filters = [width * min(2**i, max_filters_multiplier) for i in range(num_downsamples)]
    inputs = keras.Input(input_shape, name="L")
    x = apply_l_normalization(inputs, SYMMETRIC, name="l_normalization")
    skips = []
    for i, f in enumerate(filters):
        batch_norm = 0 < i < num_downsamples - 1
        x = apply_pix2pix_down(
            x,
            f,
            batch_norm=batch_norm,
            batch_statistics_at_inference=batch_statistics_at_inference,
            name=f"down{i + 1}",
        )
        skips.append(x)
    for j, i in enumerate(reversed(range(num_downsamples - 1))):
        rate = dropout if j < num_dropout_blocks else 0.0
        x = apply_pix2pix_up(
            x,
            filters[i],
            dropout=rate,
            batch_statistics_at_inference=batch_statistics_at_inference,
            dropout_at_inference=dropout_at_inference,
            name=f"up{j + 1}",
        )
        x = keras.layers.Concatenate(name=f"skip{j + 1}")([x, skips[i]])
    x = keras.layers.Conv2DTranspose(
        output_channels, 4, strides=2, padding="same", kernel_initializer=_init(), name="to_color"
    )(x)
    outputs = apply_color_head(x, head)
    return keras.Model(inputs, outputs, name=name)


# Discriminator


def patchgan_discriminator(
    input_shape=(128, 128, 1),
    width=64,
    head="regression",
    num_layers=3,
    name="patchgan_discriminator",
):
    """The PatchGAN discriminator conditioned on L (Isola et al. 2017 3.2.2, appendix 6.1.2).

    L and the colour, scaled to [-1, 1], go through C64 (bias, LeakyReLU(0.2)), `num_layers - 1`
    conv4x4/2 - BatchNorm - LeakyReLU blocks, one stride-1 block and a conv to one logit per patch;
    each conv pads 1 (the authors' code), so `num_layers=3` is the 70x70 PatchGAN.

    Args:
        input_shape: `(H, W, C)` of the condition (L: C = 1).
        width: channels of the first layer.
        head: the generator's head: `"regression"` (ab) or `"rgb"`.
        num_layers: number of stride-2 layers.

    Returns:
        A functional `keras.Model` from `[condition, color]` to logits `(B, h, w, 1)`.

    Example:
    >>> patchgan_discriminator((32, 32, 1), width=4).output_shape
    (None, 2, 2, 1)
    """
    width = contract.check_positive_int("width", width)
    num_layers = contract.check_positive_int("num_layers", num_layers)
    target_channels = color_channels(head)
    input_shape = contract.check_input_shape(input_shape, "patchgan_discriminator", channels=None)
    min_size = 2 ** (num_layers + 2)
    for size in input_shape[:2]:
        if size is not None and size < min_size:
            raise ValueError(
                f"A PatchGAN with num_layers={num_layers} needs inputs of at least {min_size} px. "
                f"Received: input_shape={input_shape}"
            )

    condition = keras.Input(input_shape, name="L")
    target = keras.Input(tuple(input_shape[:2]) + (target_channels,), name="color")
    c = apply_l_normalization(condition, SYMMETRIC, name="condition_normalization")
    if target_channels == 2:
        t = keras.layers.Rescaling(1.0 / AB_SCALE, name="target_normalization")(target)
    else:
        t = keras.layers.Rescaling(2.0, offset=-1.0, name="target_normalization")(target)
    x = keras.layers.Concatenate(name="pair")([c, t])

    def conv(x, filters, strides, use_bias, name):
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        return keras.layers.Conv2D(
            filters, 4, strides=strides, use_bias=use_bias, kernel_initializer=_init(), name=name
        )(x)

    x = conv(x, width, 2, True, "conv1")
    x = keras.layers.LeakyReLU(negative_slope=0.2, name="conv1_lrelu")(x)
    for i in range(1, num_layers + 1):
        filters = width * min(2**i, 8)
        strides = 2 if i < num_layers else 1
        x = conv(x, filters, strides, False, f"conv{i + 1}")
        x = keras.layers.BatchNormalization(epsilon=TORCH_BN_EPSILON, name=f"conv{i + 1}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.2, name=f"conv{i + 1}_lrelu")(x)
    logits = conv(x, 1, 1, True, "logits")
    # float32 logits (also under a mixed-precision policy), so the BCE terms are computed in
    # float32.
    logits = keras.layers.Activation("linear", name="logits_float32", dtype="float32")(logits)
    return keras.Model([condition, target], logits, name=name)


# The GAN


class _OptimizerPair(keras.optimizers.Optimizer):
    """Both GAN optimizers as one `optimizer`, for Keras' JAX trainer (the generator's first)."""

    def __init__(self, g_optimizer, d_optimizer):
        super().__init__(learning_rate=0.0, name="pix2pix_optimizers")
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def build(self, var_list):
        self.built = True  # The two optimizers are built by `Pix2Pix.compile`.

    @property
    def variables(self):
        return self.g_optimizer.variables + self.d_optimizer.variables

    @property
    def iterations(self):
        return self.g_optimizer.iterations

    @property
    def learning_rate(self):
        raise AttributeError(
            "Pix2Pix has two learning rates: use `model.g_optimizer.learning_rate` "
            "and `model.d_optimizer.learning_rate`."
        )

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError(
            "Pix2Pix has two learning rates: set `model.g_optimizer.learning_rate` "
            "and `model.d_optimizer.learning_rate`."
        )

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError("Pix2Pix applies `g_optimizer` and `d_optimizer` itself.")


@keras.saving.register_keras_serializable(package="colorization")
class Pix2Pix(keras.Model):
    """Trains a generator and a conditional discriminator on pix2pix's objective (Isola eq. 4).

    Each step runs G once, updates D on G's detached output, then G judged by the updated D (the
    authors' order), logging every loss term (`g_l1_loss` unweighted). Calling it runs G.

    Args:
        generator: a model L `(B, H, W, 1)` -> ab `(B, H, W, 2)`.
        discriminator: a model `[L, ab]` -> logits.
        l1_weight: lambda (100).
        target_scale: divides the L1 term (`AB_SCALE` for ab).

    Example:
    >>> import numpy as np
    >>> gan = Pix2Pix(pix2pix_generator((32, 32, 1), width=4, num_downsamples=5),
    ...               patchgan_discriminator((32, 32, 1), width=4))
    >>> gan.compile()
    >>> L = np.random.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    >>> ab = np.random.uniform(-50, 50, (2, 32, 32, 2)).astype("float32")
    >>> history = gan.fit(L, ab, batch_size=2, verbose=0)
    >>> sorted(history.history)
    ['d_fake_loss', 'd_loss', 'd_real_loss', 'g_gan_loss', 'g_l1_loss', 'g_loss']
    """

    def __init__(
        self,
        generator,
        discriminator,
        l1_weight=PIX2PIX_L1_WEIGHT,
        target_scale=AB_SCALE,
        name="pix2pix",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not float(l1_weight) >= 0:
            raise ValueError(f"`l1_weight` must be non-negative. Received: l1_weight={l1_weight}")
        if not float(target_scale) > 0:
            raise ValueError(
                f"`target_scale` must be positive. Received: target_scale={target_scale}"
            )
        if len(discriminator.inputs) != 2:
            raise ValueError(
                "The discriminator must take two inputs, [condition, color]. "
                f"Received a model with {len(discriminator.inputs)} input(s)."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.target_scale = float(target_scale)
        self.built = True  # The sub-models are built by construction.
        self._trackers = {
            name: keras.metrics.Mean(name=name)
            for name in (
                "g_loss",
                "g_gan_loss",
                "g_l1_loss",
                "d_loss",
                "d_real_loss",
                "d_fake_loss",
            )
        }
        self.g_optimizer = None
        self.d_optimizer = None

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def build(self, input_shape=None):
        # Both sub-models are built by construction.
        self.built = True

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Sets the optimizers: Adam(2e-4, beta_1=0.5) by default (Isola et al. section 3.3).

        Under "mixed_float16" both are wrapped in a `LossScaleOptimizer`.

        Args:
            g_optimizer: optimizer (or its name/config) of the generator.
            d_optimizer: optimizer of the discriminator, a different object.
            **kwargs: passed to `keras.Model.compile`, except `loss`, `optimizer` and `metrics`.
        """
        for key in ("loss", "optimizer", "metrics"):
            if key in kwargs:
                raise ValueError(
                    "`Pix2Pix.compile` sets its own losses and takes `g_optimizer` and "
                    "`d_optimizer`. "
                    f"Received: {key}={kwargs[key]!r}"
                )
        g_optimizer = self._make_optimizer(g_optimizer)
        d_optimizer = self._make_optimizer(d_optimizer)
        if g_optimizer is d_optimizer:
            raise ValueError(
                "`g_optimizer` and `d_optimizer` must be two different optimizer objects."
            )
        if "mixed_float16" in (
            self.generator.dtype_policy.name,
            self.discriminator.dtype_policy.name,
        ):
            scaled = keras.optimizers.LossScaleOptimizer
            g_optimizer, d_optimizer = (
                opt if isinstance(opt, scaled) else scaled(opt)
                for opt in (g_optimizer, d_optimizer)
            )
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        super().compile(
            optimizer=_OptimizerPair(g_optimizer, d_optimizer), auto_scale_loss=False, **kwargs
        )

    @staticmethod
    def _make_optimizer(optimizer):
        if optimizer is None:
            return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)
        return keras.optimizers.get(optimizer)

    # Losses and logs, shared by every backend

    def _discriminator_objective(self, real_logits, fake_logits):
        d_loss, d_real, d_fake = discriminator_loss(real_logits, fake_logits)
        return d_loss, {"d_loss": d_loss, "d_real_loss": d_real, "d_fake_loss": d_fake}

    def _generator_objective(self, ab, fake, fake_logits):
        g_gan = generator_adversarial_loss(fake_logits)
        g_l1 = scaled_l1(ab, fake, self.target_scale)
        g_loss = g_gan + self.l1_weight * g_l1
        return g_loss, {"g_loss": g_loss, "g_gan_loss": g_gan, "g_l1_loss": g_l1}

    def _logs(self, values):
        for name, value in values.items():
            self._trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    @staticmethod
    def _unpack(data):
        L, ab, _ = keras.utils.unpack_x_y_sample_weight(data)
        if ab is None:
            raise ValueError("Pix2Pix trains on (L, ab) pairs; the data has no targets.")
        return ops.cast(L, "float32"), ops.cast(ab, "float32")

    # Training and evaluation: Keras's JAX trainer calls `step(state, data)`, the others
    # `step(data)`.

    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "tensorflow":
            return self._tensorflow_train_step(*args)
        if backend == "torch":
            return self._torch_train_step(*args)
        raise NotImplementedError(
            f"Pix2Pix.fit supports the tensorflow, jax and torch backends. Received: {backend!r}"
        )

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        (data,) = args
        L, ab = self._unpack(data)
        fake = self.generator(L, training=False)
        real_logits = self.discriminator([L, ab], training=False)
        fake_logits = self.discriminator([L, fake], training=False)
        _, d_logs = self._discriminator_objective(real_logits, fake_logits)
        _, g_logs = self._generator_objective(ab, fake, fake_logits)
        return self._logs({**g_logs, **d_logs})

    def _tensorflow_train_step(self, data):
        import tensorflow as tf  # Imported here: the core is backend-agnostic at module level.

        L, ab = self._unpack(data)
        with tf.GradientTape() as g_tape:
            fake = self.generator(L, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    real_logits = self.discriminator([L, ab], training=True)
                    fake_logits = self.discriminator([L, ops.stop_gradient(fake)], training=True)
                    d_loss, d_logs = self._discriminator_objective(real_logits, fake_logits)
                    # The identity except under loss scaling, where apply_gradients unscales
                    # the gradients and skips a step that overflowed.
                    d_scaled = self.d_optimizer.scale_loss(d_loss)
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_scaled, d_vars), d_vars))
            fake_logits = self.discriminator([L, fake], training=True)
            g_loss, g_logs = self._generator_objective(ab, fake, fake_logits)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_scaled, g_vars), g_vars))
        return self._logs({**g_logs, **d_logs})

    def _torch_train_step(self, data):
        import torch  # Only on this backend.

        L, ab = self._unpack(data)
        fake = self.generator(L, training=True)
        d_vars = self.discriminator.trainable_variables
        real_logits = self.discriminator([L, ab], training=True)
        fake_logits = self.discriminator([L, fake.detach()], training=True)
        d_loss, d_logs = self._discriminator_objective(real_logits, fake_logits)
        d_grads = torch.autograd.grad(
            self.d_optimizer.scale_loss(d_loss), [v.value for v in d_vars]
        )
        with torch.no_grad():
            self.d_optimizer.apply(list(d_grads), d_vars)
        g_vars = self.generator.trainable_variables
        fake_logits = self.discriminator([L, fake], training=True)
        g_loss, g_logs = self._generator_objective(ab, fake, fake_logits)
        g_grads = torch.autograd.grad(
            self.g_optimizer.scale_loss(g_loss), [v.value for v in g_vars]
        )
        with torch.no_grad():
            self.g_optimizer.apply(list(g_grads), g_vars)
        return self._logs({**g_logs, **d_logs})

    def _jax_train_step(self, state, data):
        import jax  # Only on this backend.

        trainable, non_trainable, optimizer_values, metric_values = state
        g_trainable, d_trainable = self._split(trainable, "trainable_variables")
        g_non_trainable, d_non_trainable = self._split(non_trainable, "non_trainable_variables")
        num_g_optimizer = len(self.g_optimizer.variables)
        g_opt_values, d_opt_values = (
            optimizer_values[:num_g_optimizer],
            optimizer_values[num_g_optimizer:],
        )
        L, ab = self._unpack(data)

        # G runs once; `pullback` carries a gradient with respect to its output back to its weights.
        def run_generator(g_trainable):
            return self.generator.stateless_call(g_trainable, g_non_trainable, L, training=True)

        fake, pullback, g_non_trainable_after = jax.vjp(run_generator, g_trainable, has_aux=True)

        def d_objective(d_trainable, d_non_trainable):
            real_logits, d_non_trainable = self.discriminator.stateless_call(
                d_trainable, d_non_trainable, [L, ab], training=True
            )
            fake_logits, d_non_trainable = self.discriminator.stateless_call(
                d_trainable, d_non_trainable, [L, jax.lax.stop_gradient(fake)], training=True
            )
            d_loss, d_logs = self._discriminator_objective(real_logits, fake_logits)
            return self._stateless_scale_loss(self.d_optimizer, d_opt_values, d_loss), (
                d_logs,
                d_non_trainable,
            )

        (_, (d_logs, d_non_trainable)), d_grads = jax.value_and_grad(d_objective, has_aux=True)(
            d_trainable, d_non_trainable
        )
        d_trainable, d_opt_values = self.d_optimizer.stateless_apply(
            d_opt_values, d_grads, d_trainable
        )

        def g_objective(fake, d_non_trainable):
            fake_logits, d_non_trainable = self.discriminator.stateless_call(
                d_trainable, d_non_trainable, [L, fake], training=True
            )
            g_loss, g_logs = self._generator_objective(ab, fake, fake_logits)
            return self._stateless_scale_loss(self.g_optimizer, g_opt_values, g_loss), (
                g_logs,
                d_non_trainable,
            )

        (_, (g_logs, d_non_trainable)), fake_grad = jax.value_and_grad(g_objective, has_aux=True)(
            fake, d_non_trainable
        )
        (g_grads,) = pullback(fake_grad)
        g_trainable, g_opt_values = self.g_optimizer.stateless_apply(
            g_opt_values, g_grads, g_trainable
        )

        logs, metric_values = self._stateless_logs(metric_values, {**g_logs, **d_logs})
        state = (
            self._join(g_trainable, d_trainable, "trainable_variables"),
            self._join(g_non_trainable_after, d_non_trainable, "non_trainable_variables"),
            list(g_opt_values) + list(d_opt_values),
            metric_values,
        )
        return logs, state

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metric_values = state
        g_trainable, d_trainable = self._split(trainable, "trainable_variables")
        g_non_trainable, d_non_trainable = self._split(non_trainable, "non_trainable_variables")
        L, ab = self._unpack(data)
        fake, _ = self.generator.stateless_call(g_trainable, g_non_trainable, L, training=False)
        real_logits, _ = self.discriminator.stateless_call(
            d_trainable, d_non_trainable, [L, ab], training=False
        )
        fake_logits, _ = self.discriminator.stateless_call(
            d_trainable, d_non_trainable, [L, fake], training=False
        )
        _, d_logs = self._discriminator_objective(real_logits, fake_logits)
        _, g_logs = self._generator_objective(ab, fake, fake_logits)
        logs, metric_values = self._stateless_logs(metric_values, {**g_logs, **d_logs})
        return logs, (trainable, non_trainable, metric_values)

    # Stateless helpers (JAX)

    def _split(self, values, kind):
        """Splits values ordered as `self.<kind>` into the generator's and the discriminator's."""
        position = {id(v): i for i, v in enumerate(getattr(self, kind))}
        networks = (self.generator, self.discriminator)
        return tuple(
            [values[position[id(v)]] for v in getattr(network, kind)] for network in networks
        )

    def _join(self, g_values, d_values, kind):
        by_id = {id(v): value for v, value in zip(getattr(self.generator, kind), g_values)}
        by_id.update(
            {id(v): value for v, value in zip(getattr(self.discriminator, kind), d_values)}
        )
        return [by_id[id(v)] for v in getattr(self, kind)]

    @staticmethod
    def _stateless_scale_loss(optimizer, optimizer_values, loss):
        # A LossScaleOptimizer reads its current scale from its variables.
        with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, optimizer_values))):
            return optimizer.scale_loss(loss)

    def _stateless_logs(self, metric_values, values):
        with keras.StatelessScope(
            state_mapping=list(zip(self.metrics_variables, metric_values))
        ) as scope:
            logs = self._logs(values)
        updated = [scope.get_current_value(v) for v in self.metrics_variables]
        return logs, [old if new is None else new for old, new in zip(metric_values, updated)]

    # Config

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "l1_weight": self.l1_weight,
            "target_scale": self.target_scale,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
        )
