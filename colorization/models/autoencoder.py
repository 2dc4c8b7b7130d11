"""The ResNet-18 autoencoder / VAE of report 004 (sections 4.4 and 5.3).

Report 004 encodes 128x128 L images with "the first 6 layers" of an
ImageNet-trained ResNet-18 (conv1, bn1, relu, maxpool, layer1, layer2: a
stride-8 map of 128 channels), upsamples back to the input size and trains
with MSE on Lab scaled to [-1, 1]. It calls the model a VAE, but what it
describes has no latent distribution, sampling or KL term: a plain
autoencoder. `resnet18_autoencoder(variational=False)` is that model;
`variational=True` is a real VAE (Kingma & Welling 2014) on the same
encoder and decoder.
"""

import os

import keras
import numpy as np
from keras import ops

from colorization.losses.kl import kl_loss
from colorization.models.registry import register_model
from colorization.models.resnet import _check_output_channels
from colorization.models.resnet import _check_positive_int
from colorization.models.resnet import apply_basic_block
from colorization.models.resnet import apply_color_head
from colorization.models.resnet import apply_conv_bn
from colorization.models.resnet import apply_l_normalization
from colorization.models.resnet import apply_resnet_stage

ENCODER_STRIDE = 8
"""conv1 (2) x maxpool (2) x layer2 (2)."""


# Layers


@keras.saving.register_keras_serializable(package="colorization")
class GaussianSampling(keras.layers.Layer):
    """Reparameterised sample `z = mean + exp(log_var / 2) * eps` that adds the KL term.

    Called on `[z_mean, z_log_var]`. In training it draws `eps ~ N(0, I)`;
    otherwise it returns `z_mean` (the posterior mean, so inference is
    deterministic). Every call adds
    `beta * mean_batch(KL(N(z_mean, exp(z_log_var)) || N(0, I))) / kl_normalizer`
    to the layer's losses (`add_loss`), which `fit` adds to the compiled loss.

    Args:
        beta: weight of the KL term.
        kl_normalizer: divides the per-example KL (summed over all latent
            units), e.g. the number of output values so that the KL is on the
            scale of a per-value MSE.
        seed: seed of the noise.

    Example:

    >>> import numpy as np
    >>> from colorization.models.autoencoder import GaussianSampling
    >>> layer = GaussianSampling()
    >>> z = layer([np.ones((1, 2), "float32"), np.zeros((1, 2), "float32")])
    >>> [round(float(loss), 3) for loss in layer.losses]  # KL = (1 + 1) / 2
    [1.0]
    """

    def __init__(self, beta=1.0, kl_normalizer=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not float(beta) >= 0:
            raise ValueError(f"`beta` must be non-negative. Received: beta={beta}")
        if not float(kl_normalizer) > 0:
            raise ValueError(f"`kl_normalizer` must be positive. Received: kl_normalizer={kl_normalizer}")
        self.beta = float(beta)
        self.kl_normalizer = float(kl_normalizer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        self.add_loss(kl_loss(z_mean, z_log_var, beta=self.beta, normalizer=self.kl_normalizer))
        if not training:
            return z_mean
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "kl_normalizer": self.kl_normalizer, "seed": self.seed}


# Encoder and ImageNet weights


def resnet18_encoder(input_shape=(128, 128, 1), base_filters=64, name="resnet18_encoder"):
    """The first six layers of ResNet-18 (He et al. 2016, Table 1), for L input.

    conv7x7/2 - BN - ReLU - maxpool3x3/2 - layer1 (2 basic blocks,
    `base_filters`) - layer2 (2 basic blocks, `2 * base_filters`, stride 2).
    L in [0, 100] is mapped to [-1, 1] first. Layer names follow torchvision
    (`layer1_0_conv1` is `layer1.0.conv1`), see `load_resnet18_weights`.

    Args:
        input_shape: (H, W, 1), H and W multiples of 8 (or None).
        base_filters: 64 in ResNet-18 (and for ImageNet weights).
        name: model name.

    Returns:
        A functional `keras.Model`: (B, H, W, 1) -> (B, H/8, W/8, 2 * base_filters).
    """
    _check_positive_int("base_filters", base_filters)
    if len(input_shape) != 3 or input_shape[-1] != 1:
        raise ValueError(f"`input_shape` must be (H, W, 1), an L image. Received: input_shape={input_shape}")
    for size in input_shape[:2]:
        if size is not None and size % ENCODER_STRIDE:
            raise ValueError(
                f"Height and width must be multiples of {ENCODER_STRIDE}. Received: input_shape={input_shape}"
            )
    inputs = keras.Input(input_shape, name="L")
    x = apply_l_normalization(inputs)
    x = apply_conv_bn(x, base_filters, 7, strides=2, name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after ReLU, so zeros act as -inf
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    x = apply_resnet_stage(x, apply_basic_block, base_filters, 2, name="layer1")
    x = apply_resnet_stage(x, apply_basic_block, 2 * base_filters, 2, strides=2, name="layer2")
    return keras.Model(inputs, x, name=name)


_OFFLINE_HELP = (
    "Keras ships no ResNet-18 and nothing can be downloaded here. Export torchvision's weights once, "
    "where the internet is available:\n"
    "    import numpy as np, torchvision\n"
    "    state = torchvision.models.resnet18(weights='IMAGENET1K_V1').state_dict()\n"
    "    np.savez('resnet18_imagenet.npz', **{k: v.numpy() for k, v in state.items()})\n"
    "and pass encoder_weights='resnet18_imagenet.npz'."
)


def _torch_name(layer_name):
    """Maps our layer names to torchvision state-dict prefixes."""
    if layer_name == "conv1":
        return "conv1"
    if layer_name == "conv1_bn":
        return "bn1"
    stage, block, rest = layer_name.split("_", 2)
    prefix = f"{stage}.{block}"
    if rest == "downsample":
        return f"{prefix}.downsample.0"
    if rest == "downsample_bn":
        return f"{prefix}.downsample.1"
    if rest.endswith("_bn"):  # conv1_bn -> bn1
        return f"{prefix}.bn{rest[len('conv'):-len('_bn')]}"
    return f"{prefix}.{rest}"


def load_resnet18_weights(encoder, weights):
    """Loads ImageNet ResNet-18 weights into `resnet18_encoder`'s layers.

    Args:
        encoder: a model from `resnet18_encoder` (`base_filters=64`).
        weights: a path to either
            - a `.npz` of torchvision's `resnet18().state_dict()` arrays
              (names such as `layer1.0.conv1.weight`, convolution kernels
              shaped (out, in, kh, kw); keys of later layers are ignored).
              conv1's three RGB input channels are summed into the single L
              channel, so a grey image R = G = B gets conv1's response; or
            - a `.weights.h5` saved from a `resnet18_encoder` with
              `encoder.save_weights`.
            `"imagenet"` raises an error explaining how to make the `.npz`
            (no download is possible here).

    Raises:
        ValueError / FileNotFoundError naming the file, key or shape at fault.
    """
    if weights == "imagenet":
        raise ValueError(f"encoder_weights='imagenet' cannot be downloaded. {_OFFLINE_HELP}")
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No ResNet-18 weight file at {path!r}. {_OFFLINE_HELP}")
    if path.endswith(".weights.h5"):
        encoder.load_weights(path)
        return
    if not path.endswith(".npz"):
        raise ValueError(
            f"ResNet-18 weights must be a torchvision-layout `.npz` or a Keras `.weights.h5`. Received: {path!r}"
        )
    with np.load(path) as archive:
        state = {key: archive[key] for key in archive.files}
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.Conv2D):
            key = f"{_torch_name(layer.name)}.weight"
            kernel = _get(state, key, path)
            if kernel.ndim != 4:
                raise ValueError(f"{path}: {key} must be 4-D (out, in, kh, kw). Received shape {kernel.shape}")
            kernel = np.transpose(kernel, (2, 3, 1, 0))
            if layer.name == "conv1" and kernel.shape[2] == 3 and layer.kernel.shape[2] == 1:
                kernel = kernel.sum(axis=2, keepdims=True)
            _assign(layer, [kernel], path, key)
        elif isinstance(layer, keras.layers.BatchNormalization):
            prefix = _torch_name(layer.name)
            arrays = [_get(state, f"{prefix}.{k}", path) for k in ("weight", "bias", "running_mean", "running_var")]
            _assign(layer, arrays, path, prefix)


def _get(state, key, path):
    if key not in state:
        raise ValueError(f"{path} has no array {key!r}; is it a torchvision ResNet-18 state dict?")
    return np.asarray(state[key], dtype="float32")


def _assign(layer, arrays, path, key):
    expected = [tuple(w.shape) for w in layer.weights]
    received = [tuple(a.shape) for a in arrays]
    if expected != received:
        raise ValueError(
            f"{path}: {key} has shapes {received}, layer {layer.name!r} expects {expected} "
            "(ImageNet weights need base_filters=64)."
        )
    layer.set_weights(arrays)


# The autoencoder


@keras.saving.register_keras_serializable(package="colorization")
class ResNet18Autoencoder(keras.Model):
    """ResNet-18 encoder + upsampling decoder, optionally variational (report 004 section 5.3).

    Encoder: `resnet18_encoder` (L in [0, 100] -> [-1, 1] -> conv1, bn, relu,
    maxpool, layer1, layer2: H/8 x W/8 x 128). Decoder (the report gives no
    details; the choice follows common ResNet-18 colourisation decoders):
    three times conv3x3 - BN - ReLU - nearest-neighbour 2x upsampling with
    `decoder_filters` channels, then a 3x3 convolution to the colour and a tanh
    scaled to Lab units (ab = 110 tanh) or RGB in [0, 1]. Train with MSE.
    With the defaults (128x128, ab) the autoencoder has 917,442 trainable
    parameters (676,800 in the encoder) and the VAE 950,466.

    `variational=False` is what report 004 describes (it calls it a VAE).
    `variational=True` adds 1x1 convolutions to a Gaussian posterior
    (`latent_channels` per position of the H/8 x W/8 grid), a reparameterised
    `GaussianSampling` layer and the KL term
    `beta * KL / (H * W * output_channels)`, added to the loss through
    `add_loss` and logged as the metric `kl_loss` (the sum of the model's
    `add_loss` terms, of which the KL is the only one; the logged `loss`
    includes it). With MSE in Lab units, `beta = 2 sigma^2` makes the total the
    negative evidence lower bound per output value of a Gaussian decoder with
    noise sigma (Lab units). Inference uses the posterior mean.

    Args:
        input_shape: (H, W, 1), H and W multiples of 8; the VAE needs them
            fixed (the KL normaliser uses them).
        variational: build a VAE.
        base_filters: ResNet-18 width (64).
        decoder_filters: channels of the three upsampling stages.
        latent_channels: channels of the VAE's latent grid (default
            `2 * base_filters`).
        beta: KL weight.
        output_channels: 2 (ab, Lab units) or 3 (RGB in [0, 1], the report's).
        encoder_weights: None, `"imagenet"` (fails offline with instructions)
            or a path for `load_resnet18_weights`.
        seed: seed of the VAE's noise.
        name: model name.

    Example:

    >>> import numpy as np
    >>> from colorization.models import resnet18_autoencoder
    >>> vae = resnet18_autoencoder((32, 32, 1), variational=True, base_filters=4, decoder_filters=(8, 8, 4))
    >>> vae.compile(optimizer="adam", loss="mse")
    >>> L = np.random.uniform(0, 100, (2, 32, 32, 1)).astype("float32")
    >>> logs = vae.fit(L, np.zeros((2, 32, 32, 2), "float32"), verbose=0).history
    >>> sorted(logs)
    ['kl_loss', 'loss']
    """

    def __init__(
        self,
        input_shape=(128, 128, 1),
        variational=False,
        base_filters=64,
        decoder_filters=(128, 64, 32),
        latent_channels=None,
        beta=1.0,
        output_channels=2,
        encoder_weights=None,
        seed=None,
        name="resnet18_autoencoder",
        **kwargs,
    ):
        input_shape = tuple(input_shape)
        decoder_filters = tuple(int(f) for f in decoder_filters)
        _check_output_channels(output_channels)
        if len(decoder_filters) != 3:
            raise ValueError(
                "`decoder_filters` must give three stages (the encoder downsamples 8x). "
                f"Received: decoder_filters={decoder_filters}"
            )
        if latent_channels is None:
            latent_channels = 2 * base_filters
        _check_positive_int("latent_channels", latent_channels)
        if variational and (len(input_shape) != 3 or None in input_shape[:2]):
            raise ValueError(f"The VAE needs a fixed (H, W, 1) input_shape. Received: input_shape={input_shape}")

        # Layers
        encoder = resnet18_encoder(input_shape, base_filters)
        if encoder_weights is not None:
            load_resnet18_weights(encoder, encoder_weights)

        # Functional model
        inputs = keras.Input(input_shape, name="L")
        x = encoder(inputs)
        if variational:
            z_mean = keras.layers.Conv2D(latent_channels, 1, name="z_mean")(x)
            z_log_var = keras.layers.Conv2D(latent_channels, 1, name="z_log_var")(x)
            normalizer = input_shape[0] * input_shape[1] * output_channels
            x = GaussianSampling(beta=beta, kl_normalizer=normalizer, seed=seed, name="sampling")(
                [z_mean, z_log_var]
            )
        for i, filters in enumerate(decoder_filters):
            x = apply_conv_bn(x, filters, 3, name=f"decoder{i + 1}")
            x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder{i + 1}_up")(x)
        x = keras.layers.Conv2D(output_channels, 3, padding="same", name="to_color")(x)
        outputs = apply_color_head(x, output_channels)
        super().__init__(inputs, outputs, name=name, **kwargs)

        # Config
        self.input_shape_ = input_shape
        self.variational = bool(variational)
        self.base_filters = base_filters
        self.decoder_filters = decoder_filters
        self.latent_channels = latent_channels
        self.beta = float(beta)
        self.output_channels = output_channels
        self.encoder_weights = encoder_weights
        self.seed = seed
        self.kl_tracker = keras.metrics.Mean(name="kl_loss") if self.variational else None

    @property
    def encoder(self):
        return self.get_layer("resnet18_encoder")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if self.kl_tracker is not None and self.losses:
            self.kl_tracker.update_state(ops.sum(ops.stack(self.losses)))
        return total

    def get_config(self):
        return {
            "input_shape": self.input_shape_,
            "variational": self.variational,
            "base_filters": self.base_filters,
            "decoder_filters": self.decoder_filters,
            "latent_channels": self.latent_channels,
            "beta": self.beta,
            "output_channels": self.output_channels,
            # Weights travel with the saved model; never reload them from a file.
            "encoder_weights": None,
            "seed": self.seed,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_model(
    "resnet18_autoencoder",
    tiny_kwargs={"input_shape": (32, 32, 1), "base_filters": 4, "decoder_filters": (8, 8, 4)},
)
def resnet18_autoencoder(input_shape=(128, 128, 1), variational=False, **kwargs):
    """Report 004's ResNet-18 autoencoder (`variational=False`) or a real VAE.

    See `ResNet18Autoencoder` for the architecture and every argument.

    Example:

    >>> from colorization.models import resnet18_autoencoder
    >>> model = resnet18_autoencoder((32, 32, 1), base_filters=4, decoder_filters=(8, 8, 4))
    >>> model.output_shape
    (None, 32, 32, 2)
    """
    return ResNet18Autoencoder(input_shape=input_shape, variational=variational, **kwargs)


@register_model(
    "resnet18_vae",
    tiny_kwargs={"input_shape": (32, 32, 1), "base_filters": 4, "decoder_filters": (8, 8, 4)},
)
def resnet18_vae(input_shape=(128, 128, 1), **kwargs):
    """`resnet18_autoencoder(variational=True)`: the VAE variant, registered for the shared tests."""
    return ResNet18Autoencoder(input_shape=input_shape, variational=True, **kwargs)
