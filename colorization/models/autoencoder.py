"""Report 004's ResNet-18 autoencoder (4.4, 5.3; its "VAE" has no KL term), and a real VAE."""

import keras

import colorization.models.contract as contract
from colorization.layers import SYMMETRIC
from colorization.layers import GaussianSampling
from colorization.layers import apply_basic_block
from colorization.layers import apply_color_head
from colorization.layers import apply_conv_bn
from colorization.layers import apply_l_normalization
from colorization.layers import apply_resnet_stage
from colorization.layers import color_channels
from colorization.models.registry import register_model

# conv1 (2) x maxpool (2) x layer2 (2).
ENCODER_STRIDE = 8
IMAGENET = "imagenet"


def resnet18_encoder(input_shape=(128, 128, 1), width=64, name="resnet18_encoder"):
    """The first six layers of ResNet-18 (He et al. 2016, Table 1) on L: report 004's encoder.

    L to [-1, 1], conv7x7/2 - BN - ReLU - maxpool3x3/2 - layer1 (2 basic blocks, `width`) - layer2
    (2 basic blocks, `2 * width`, stride 2); torchvision's layer names, for ImageNet weights.

    Args:
        input_shape: `(H, W, 1)`, H and W multiples of 8 (or `None`).
        width: 64 in ResNet-18 (and for ImageNet weights).

    Returns:
        A functional `keras.Model`: `(B, H, W, 1)` -> `(B, H/8, W/8, 2 * width)`.

    Example:
    >>> resnet18_encoder((32, 32, 1), width=4).output_shape
    (None, 4, 4, 8)
    """
    input_shape = contract.check_input_shape(
        input_shape, "resnet18_encoder", multiple=ENCODER_STRIDE
    )
    width = contract.check_positive_int("width", width)
    inputs = keras.Input(input_shape, name="L")
    x = apply_l_normalization(inputs, SYMMETRIC, name="l_normalization")
    x = apply_conv_bn(x, width, 7, strides=2, name="conv1")
    x = keras.layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after ReLU, so zeros act as -inf
    x = keras.layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    x = apply_resnet_stage(x, apply_basic_block, width, 2, name="layer1")
    x = apply_resnet_stage(x, apply_basic_block, 2 * width, 2, strides=2, name="layer2")
    return keras.Model(inputs, x, name=name)


def _load_encoder_weights(encoder, encoder_weights):
    """Fills `encoder` from `"imagenet"` (torchvision's), a state dict file or a `.weights.h5`."""
    from colorization import weights

    if str(encoder_weights).endswith(".weights.h5"):
        encoder.load_weights(encoder_weights)
        return
    path = None if encoder_weights == IMAGENET else encoder_weights
    state_dict, path = weights.state_dict("resnet18_imagenet", path, verify=False)
    weights.resnet18.convert(encoder, state_dict, path)


def _build(
    input_shape,
    width,
    head,
    decoder_filters,
    encoder_weights,
    name,
    variational=False,
    latent_channels=None,
    beta=0.0,
    seed=None,
):
    input_shape = contract.check_input_shape(
        input_shape, name, multiple=ENCODER_STRIDE, fixed=variational
    )
    channels = color_channels(head)
    decoder_filters = tuple(
        contract.check_positive_int("decoder_filters", f) for f in decoder_filters
    )
    if len(decoder_filters) != 3:
        raise ValueError(
            "`decoder_filters` must give three stages (the encoder downsamples 8x). "
            f"Received: decoder_filters={decoder_filters}"
        )
    encoder = resnet18_encoder(input_shape, width)
    if encoder_weights is not None:
        _load_encoder_weights(encoder, encoder_weights)

    inputs = keras.Input(input_shape, name="L")
    x = encoder(inputs)
    if variational:
        latent_channels = contract.check_positive_int(
            "latent_channels", latent_channels or 2 * width
        )
        z_mean = keras.layers.Conv2D(latent_channels, 1, name="z_mean")(x)
        z_log_var = keras.layers.Conv2D(latent_channels, 1, name="z_log_var")(x)
        normalizer = input_shape[0] * input_shape[1] * channels
        x = GaussianSampling(beta=beta, kl_normalizer=normalizer, seed=seed, name="sampling")(
            [z_mean, z_log_var]
        )
    for i, filters in enumerate(decoder_filters):
        x = apply_conv_bn(x, filters, 3, name=f"decoder{i + 1}")
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder{i + 1}_up")(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", name="to_color")(x)
    return keras.Model(inputs, apply_color_head(x, head), name=name)


@register_model("resnet18_autoencoder")
def resnet18_autoencoder(
    input_shape=(128, 128, 1),
    width=64,
    head="regression",
    decoder_filters=(128, 64, 32),
    encoder_weights=None,
    name="resnet18_autoencoder",
):
    """Report 004's ResNet-18 autoencoder (section 5.3): `resnet18_encoder` + upsampling decoder.

    The report gives no decoder: three conv3x3 - BN - ReLU - nearest x2 stages of `decoder_filters`
    channels, a 3x3 convolution and the tanh colour head.

    Args:
        input_shape: `(H, W, 1)`, H and W multiples of 8.
        width: ResNet-18 width (64).
        head: `"regression"` (ab in Lab units) or `"rgb"` (RGB in [0, 1], the report's).
        decoder_filters: channels of the three upsampling stages.
        encoder_weights: `None`, `"imagenet"` (torchvision's), a state dict or `.weights.h5` path.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` to ab or RGB at full resolution.

    Example:
    >>> resnet18_autoencoder((32, 32, 1), width=4, decoder_filters=(8, 8, 4)).output_shape
    (None, 32, 32, 2)
    """
    return _build(input_shape, width, head, decoder_filters, encoder_weights, name)


@register_model("resnet18_vae")
def resnet18_vae(
    input_shape=(128, 128, 1),
    width=64,
    head="regression",
    decoder_filters=(128, 64, 32),
    latent_channels=None,
    beta=1.0,
    encoder_weights=None,
    seed=None,
    name="resnet18_vae",
):
    """A real VAE (Kingma & Welling 2014) on report 004's autoencoder, trained with MSE + KL.

    1x1 convs to a Gaussian posterior on the H/8 x W/8 grid, `GaussianSampling` (adding `beta *
    KL / (H * W * channels)`; the posterior mean in inference), the autoencoder's decoder. With MSE
    in Lab units, `beta = 2 sigma^2` gives 2 sigma^2 x the per-value negative ELBO (+ a constant)
    of a Gaussian decoder of noise sigma.

    Args:
        input_shape: `(H, W, 1)`, fixed, H and W multiples of 8.
        width, head, decoder_filters, encoder_weights, name: as `resnet18_autoencoder`.
        latent_channels: channels of the latent grid (default `2 * width`).
        beta: KL weight.
        seed: seed of the sampling noise.

    Returns:
        A functional `keras.Model` from L `(B, H, W, 1)` to ab or RGB at full resolution.

    Example:
    >>> resnet18_vae((32, 32, 1), width=4, decoder_filters=(8, 8, 4)).output_shape
    (None, 32, 32, 2)
    """
    return _build(
        input_shape,
        width,
        head,
        decoder_filters,
        encoder_weights,
        name,
        variational=True,
        latent_channels=latent_channels,
        beta=beta,
        seed=seed,
    )
