"""PyTorch twins of Zhang et al.'s two released colorization networks, for conversion tests.

The released weights (`colorization_release_v2-9b330a0b.pth` for ECCV16,
`siggraph17-df00044c.pth` for SIGGRAPH17) are PyTorch state dicts of the
modules `ECCVGenerator` and `SIGGRAPHGenerator` in the authors' `colorizers`
package (github.com/richzhang/colorization, `colorizers/eccv16.py`,
`colorizers/siggraph17.py`, `colorizers/base_color.py`). They cannot be
downloaded here, so these twins are written from the facts of those modules:

- each stage is a `torch.nn.Sequential` attribute (`model1` ... `model8` for
  ECCV16; `model1` ... `model10`, `model8up`, `model9up`, `model10up`,
  `model3short8`, `model2short9`, `model1short10`, `model_class`,
  `model_out` for SIGGRAPH17), so parameter names are
  `<stage>.<index in the Sequential>.<weight|bias|running_mean|...>`, with
  the ReLUs counting as (parameter-free) indices; ECCV16's `model_out` is a
  bare `Conv2d` (`model_out.weight`, no bias);
- every convolution is 3x3 with padding 1 (padding 2 with dilation 2 in
  blocks 5 and 6) and a bias; the transposed convolutions are 4x4, stride 2,
  padding 1; BatchNorm2d (affine, eps 1e-5) ends each encoder block after its
  last ReLU;
- ECCV16 downsamples with stride-2 convolutions (the last conv of blocks
  1-3); SIGGRAPH17 with `[:, :, ::2, ::2]` slicing between blocks 1-4;
- normalisation (`base_color.py`): L -> (L - 50) / 100, ab -> ab / 110, and
  outputs times 110; the mask enters as is;
- ECCV16's output: softmax over 313 channels, the bias-free 1x1
  `model_out` (313 -> 2), bilinear x4 upsampling (`align_corners=False`),
  times 110. No logit scale sits between `model8` and the softmax.
- SIGGRAPH17's output: `model_out` = 1x1 conv (128 -> 2) + tanh, times 110;
  `model_class` (1x1, 256 -> 529 on block 8's output) is part of the state
  dict but not of the automatic output.

Shapes at `width=64` are the release's (e.g. `model1.0.weight`
(64, 1, 3, 3) for ECCV16, (64, 4, 3, 3) for SIGGRAPH17;
`model8.0.weight` (512, 256, 4, 4), `model8.6.weight` (313, 256, 1, 1),
`model_out.weight` (2, 313, 1, 1)). `width` shrinks every channel count for
fast tests, as `colorization.models` do.
"""

import torch
from torch import nn

L_CENTER, L_NORM, AB_NORM = 50.0, 100.0, 110.0


def _scaled(channels, width):
    return max(1, channels * width // 64)


def _conv(c_in, c_out, stride=1, dilation=1):
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation, bias=True)


def _up(c_in, c_out):
    return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=True)


def _encoder_stage(c_in, channels, num_convs, last_stride=1, dilation=1):
    """[conv, ReLU] * num_convs + [BatchNorm]: weights at indices 0, 2, 4, BN at 2 * num_convs."""
    layers = []
    for i in range(num_convs):
        stride = last_stride if i == num_convs - 1 else 1
        layers += [_conv(c_in if i == 0 else channels, channels, stride, dilation), nn.ReLU(True)]
    layers.append(nn.BatchNorm2d(channels))
    return nn.Sequential(*layers)


# (stage, convs, channels at width 64, stride of the last conv, dilation)
_ECCV16_STAGES = (
    (1, 2, 64, 2, 1),
    (2, 2, 128, 2, 1),
    (3, 3, 256, 2, 1),
    (4, 3, 512, 1, 1),
    (5, 3, 512, 1, 2),
    (6, 3, 512, 1, 2),
    (7, 3, 512, 1, 1),
)


class ECCV16Twin(nn.Module):
    """Twin of the released `ECCVGenerator`: L (B, 1, H, W) in [0, 100] -> ab (B, 2, H, W)."""

    def __init__(self, width=64, num_bins=313):
        super().__init__()
        c_in = 1
        for stage, convs, channels, stride, dilation in _ECCV16_STAGES:
            channels = _scaled(channels, width)
            setattr(self, f"model{stage}", _encoder_stage(c_in, channels, convs, stride, dilation))
            c_in = channels
        c8 = _scaled(256, width)
        self.model8 = nn.Sequential(
            _up(c_in, c8),
            nn.ReLU(True),
            _conv(c8, c8),
            nn.ReLU(True),
            _conv(c8, c8),
            nn.ReLU(True),
            nn.Conv2d(c8, num_bins, 1, bias=True),
        )
        self.model_out = nn.Conv2d(num_bins, 2, 1, bias=False)

    def forward(self, L):
        x = (L - L_CENTER) / L_NORM
        for stage in range(1, 9):
            x = getattr(self, f"model{stage}")(x)
        ab = self.model_out(torch.softmax(x, dim=1))
        ab = nn.functional.interpolate(ab, scale_factor=4, mode="bilinear", align_corners=False)
        return ab * AB_NORM


# (stage, convs, channels at width 64, dilation)
_SIGGRAPH17_ENCODER = (
    (1, 2, 64, 1),
    (2, 2, 128, 1),
    (3, 3, 256, 1),
    (4, 3, 512, 1),
    (5, 3, 512, 2),
    (6, 3, 512, 2),
    (7, 3, 512, 1),
)


class SIGGRAPH17Twin(nn.Module):
    """Twin of the released `SIGGRAPHGenerator`: (L, ab hints, mask) -> ab (B, 2, H, W)."""

    def __init__(self, width=64, num_classes=529):
        super().__init__()
        c_in = 4
        for stage, convs, channels, dilation in _SIGGRAPH17_ENCODER:
            channels = _scaled(channels, width)
            setattr(self, f"model{stage}", _encoder_stage(c_in, channels, convs, 1, dilation))
            c_in = channels
        c1, c2, c3 = _scaled(64, width), _scaled(128, width), _scaled(256, width)
        c8, c9, c10 = _scaled(256, width), _scaled(128, width), _scaled(128, width)
        self.model8up = nn.Sequential(_up(c_in, c8))
        self.model3short8 = nn.Sequential(_conv(c3, c8))
        # [ReLU, conv, ReLU, conv, ReLU, BN]: convs at 1 and 3, BN at 5.
        self.model8 = nn.Sequential(
            nn.ReLU(True),
            _conv(c8, c8),
            nn.ReLU(True),
            _conv(c8, c8),
            nn.ReLU(True),
            nn.BatchNorm2d(c8),
        )
        self.model9up = nn.Sequential(_up(c8, c9))
        self.model2short9 = nn.Sequential(_conv(c2, c9))
        self.model9 = nn.Sequential(nn.ReLU(True), _conv(c9, c9), nn.ReLU(True), nn.BatchNorm2d(c9))
        self.model10up = nn.Sequential(_up(c9, c10))
        self.model1short10 = nn.Sequential(_conv(c1, c10))
        self.model10 = nn.Sequential(nn.ReLU(True), _conv(c10, c10), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(c8, num_classes, 1, bias=True))
        self.model_out = nn.Sequential(nn.Conv2d(c10, 2, 1, bias=True), nn.Tanh())

    def forward(self, L, ab=None, mask=None, return_classes=False):
        if ab is None:
            ab = torch.zeros_like(L).repeat(1, 2, 1, 1)
        if mask is None:
            mask = torch.zeros_like(L)
        x = torch.cat([(L - L_CENTER) / L_NORM, ab / AB_NORM, mask], dim=1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        x = self.model4(conv3[:, :, ::2, ::2])
        x = self.model7(self.model6(self.model5(x)))
        conv8 = self.model8(self.model8up(x) + self.model3short8(conv3))
        x = self.model9(self.model9up(conv8) + self.model2short9(conv2))
        x = self.model10(self.model10up(x) + self.model1short10(conv1))
        ab_out = self.model_out(x) * AB_NORM
        if return_classes:
            return ab_out, torch.softmax(self.model_class(conv8), dim=1)
        return ab_out


def randomize(model, seed=0):
    """Fixed-seed random weights, with BatchNorm statistics and affine terms far from identity.

    Convolutions keep PyTorch's default initialisation (activations stay of
    order 1 through the deep stacks); every BatchNorm gets random gamma, beta,
    running mean and running variance, so a wrong mapping of any of the four
    changes the output.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.reset_parameters()
            if module.bias is not None:
                with torch.no_grad():
                    module.bias.uniform_(-0.1, 0.1, generator=generator)
        elif isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.01 + 0.2 * torch.rand(n, generator=generator))
    if isinstance(model, ECCV16Twin):
        # Peaked distributions over the bins and a projection of Lab-sized colours, so the
        # output spans tens of ab units like the release's rather than a near-uniform average.
        with torch.no_grad():
            model.model8[6].weight.mul_(20.0)
            model.model_out.weight.uniform_(-1.0, 1.0, generator=generator)
    return model.eval()


def calibrate_batch_norm(model, inputs):
    """Sets every BatchNorm's running statistics to those of `model`'s activations on `inputs`.

    With `randomize`'s arbitrary statistics a deep twin's output hardly
    depends on its input (activations die or saturate on the way); with
    statistics measured on real inputs each block passes on a normalised
    signal, so ab follows the photo's content as a trained network's does,
    which tests of input preparation need. `inputs` are the forward
    arguments (one tensor or a tuple); affine terms are kept.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.BatchNorm2d)]
    momenta = [module.momentum for module in norms]
    for module in norms:
        module.reset_running_stats()
        module.momentum = None  # a cumulative average: exactly the statistics of `inputs`
    model.train()
    with torch.no_grad():
        model(*inputs) if isinstance(inputs, tuple) else model(inputs)
    for module, momentum in zip(norms, momenta):
        module.momentum = momentum
    return model.eval()
