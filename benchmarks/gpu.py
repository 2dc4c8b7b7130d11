"""GPU training throughput: the library under JAX (fed from NumPy) vs the same networks in PyTorch.

Measures training images/s for
- eccv16 (Zhang et al.'s network, classification head, rebalanced soft-encoded
  cross-entropy) at 256x256, batch 40 (Zhang's setting), and
- the U-Net of report 000 (regression, MSE) at 64x64, batch 64,
each in float32 and bfloat16 (Keras "mixed_bfloat16"; PyTorch autocast), for
three implementations in the same run: Keras 3 on JAX (`train_on_batch` with
NumPy batches, XLA-compiled), PyTorch eager, and PyTorch `torch.compile`.
Model FLOPs utilisation (MFU) = 3 x forward convolution FLOPs (counted from
the Keras model's layers) x images/s / the device's dense bf16 peak.

Run (the GPU machine has JAX and PyTorch, no TensorFlow):

    KERAS_BACKEND=jax python benchmarks/gpu.py               # full settings, JSON to stdout
    KERAS_BACKEND=jax python benchmarks/gpu.py --smoke       # tiny shapes, runs anywhere (CPU)

Targets (issue 8): Keras/JAX >= 1.0x PyTorch eager; MFU >= 40% for eccv16 in bf16.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the PyTorch twin of ECCV16 (tests/torch_twins.py)

import numpy as np  # noqa: E402

# Before Keras: importing torch or triton (torch.compile) after TensorFlow / jaxlib can segfault.
try:
    import torch  # noqa: E402
except ImportError:
    torch = None
try:
    import triton  # noqa: E402, F401
except ImportError:
    pass

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, in TFLOP/s.
BF16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 80GB HBM3": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
}

SETTINGS = {
    # name: (image size, batch, builder kwargs)
    "eccv16": (256, 40, {}),
    "unet": (64, 64, {}),
}
SMOKE_SETTINGS = {
    "eccv16": (32, 2, {"width": 4}),
    "unet": (32, 2, {"width": 4}),
}


def device_info():
    import jax

    device = jax.devices()[0]
    kind = getattr(device, "device_kind", str(device))
    return {
        "platform": device.platform,
        "kind": kind,
        "count": jax.device_count(),
        "host": platform.node(),
    }


def bf16_peak(kind, override=None):
    if override:
        return float(override) * 1e12
    for name, tflops in sorted(BF16_PEAK_TFLOPS.items(), key=lambda kv: -len(kv[0])):
        if name.lower() in kind.lower():
            return tflops * 1e12
    return None


def forward_flops(model):
    """Multiply-adds x 2 of every convolution and dense layer per image (from the Keras model)."""
    import keras

    flops = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flops += 2 * h * w * kh * kw * layer.input.shape[-1] * c_out // (layer.groups or 1)
        elif isinstance(layer, keras.layers.Dense):
            flops += 2 * int(np.prod(layer.input.shape[1:])) * layer.units
    return int(flops)


def numpy_batches(size, batch, count, seed=0):
    rng = np.random.default_rng(seed)
    L = rng.uniform(0, 100, (count, batch, size, size, 1)).astype(np.float32)
    ab = np.clip(rng.normal(0, 25, (count, batch, size, size, 2)), -110, 110).astype(np.float32)
    return list(zip(L, ab))


def build_keras(name, size, kwargs, precision):
    import keras

    from colorization.losses import RebalancedCrossEntropy
    from colorization.models import get_model

    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        keras.utils.set_random_seed(0)
        model = get_model(name, input_shape=(size, size, 1), **kwargs)
    finally:
        keras.config.set_dtype_policy("float32")
    loss = RebalancedCrossEntropy() if name == "eccv16" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss, jit_compile=True)
    return model


def time_keras(model, batches, warmup, steps):
    for i in range(warmup):
        L, ab = batches[i % len(batches)]
        loss = model.train_on_batch(L, ab)  # returns a Python float: waits for the step
    start = time.perf_counter()
    for i in range(steps):
        L, ab = batches[i % len(batches)]
        loss = model.train_on_batch(L, ab)
    elapsed = time.perf_counter() - start
    return elapsed, float(loss)


# ---------------------------------------------------------------- PyTorch twins


def torch_unet(width=32, dropout=0.2):
    """Report 000's U-Net (Table 1) as in `colorization.models.unet`, regression head."""
    import torch
    from torch import nn

    scale = width / 32.0
    enc = [max(1, round(f * scale)) for f in (32, 64, 128, 256)]
    dec = [max(1, round(f * scale)) for f in (128, 64, 32)]

    def pair(c_in, c_out, drop, bn):
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(True)]
        if drop:
            layers.append(nn.Dropout(drop))
        layers += [nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(True)]
        if bn:
            layers.append(nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01))
        return nn.Sequential(*layers)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.ModuleList()
            c = 1
            for f in enc[:3]:
                self.down.append(pair(c, f, dropout, False))
                c = f
            self.pool_bn = nn.ModuleList(
                nn.BatchNorm2d(f, eps=1e-3, momentum=0.01) for f in enc[:3]
            )
            self.bottom = pair(c, enc[3], dropout, True)
            c = enc[3]
            self.ups, self.blocks = nn.ModuleList(), nn.ModuleList()
            for i, (f, skip) in enumerate(zip(dec, reversed(enc[:3]))):
                self.ups.append(nn.ConvTranspose2d(c, c, 4, stride=2, padding=1))
                last = i == len(dec) - 1
                self.blocks.append(pair(c + skip, f, 0.0 if last else dropout, not last))
                c = f
            self.head = nn.Conv2d(c, 2, 1)

        def forward(self, L):
            x = L / 100.0 - 0.5
            skips = []
            for block, bn in zip(self.down, self.pool_bn):
                x = block(x)
                skips.append(x)
                x = bn(nn.functional.max_pool2d(x, 2))
            x = self.bottom(x)
            for up, block, skip in zip(self.ups, self.blocks, reversed(skips)):
                x = block(torch.cat([up(x), skip], dim=1))
            return self.head(x) * 110.0

    return UNet()


class _ECCV16Logits:
    """ECCV16Twin (the released network's layers) up to the 313 logits at 1/4 resolution."""

    @staticmethod
    def build(width):
        import torch
        from torch import nn
        from torch_twins import ECCV16Twin

        class Logits(nn.Module):
            def __init__(self):
                super().__init__()
                self.twin = ECCV16Twin(width=width)

            def forward(self, L):
                x = (L - 50.0) / 100.0
                for stage in range(1, 9):
                    x = getattr(self.twin, f"model{stage}")(x)
                return x

        del torch
        return Logits()


def torch_soft_targets(ab, bins, sigma=5.0, k=5):
    """Zhang's soft encoding (5 nearest bins, sigma 5): ab `(B, 2, h, w)` -> `(B, Q, h, w)`."""
    import torch

    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, bins).square()
    dist, idx = torch.topk(d2, k, dim=1, largest=False)
    w = torch.exp(-dist / (2 * sigma**2))
    w = w / w.sum(1, keepdim=True)
    target = torch.zeros(flat.shape[0], bins.shape[0], device=ab.device).scatter_(1, idx, w)
    B, _, h, wd = ab.shape
    return target.reshape(B, h, wd, -1).permute(0, 3, 1, 2)


def time_torch(name, size, kwargs, batches, precision, compiled, warmup, steps):
    import torch

    from colorization.quantization import default_ab_bins

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    if name == "eccv16":
        net = _ECCV16Logits.build(kwargs.get("width", 64))
    else:
        net = torch_unet(**kwargs)
    net = net.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    bins = torch.as_tensor(default_ab_bins(), device=device)
    model = torch.compile(net) if compiled else net
    autocast = torch.autocast(
        device_type=device, dtype=torch.bfloat16, enabled=precision == "bfloat16"
    )

    def step(L_np, ab_np):
        L = (
            torch.from_numpy(L_np)
            .to(device, non_blocking=True)
            .permute(0, 3, 1, 2)
            .contiguous(memory_format=torch.channels_last)
        )
        ab = torch.from_numpy(ab_np).to(device, non_blocking=True).permute(0, 3, 1, 2)
        with autocast:
            out = model(L)
        out = out.float()
        if name == "eccv16":
            target = torch_soft_targets(torch.nn.functional.avg_pool2d(ab, 4), bins)
            loss = -(target * torch.log_softmax(out, dim=1)).sum(1).mean()
        else:
            loss = torch.nn.functional.mse_loss(out, ab)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for i in range(warmup):
        loss = step(*batches[i % len(batches)])
    sync()
    start = time.perf_counter()
    for i in range(steps):
        loss = step(*batches[i % len(batches)])
    sync()
    return time.perf_counter() - start, float(loss)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny shapes and few steps (CPU check of the script)"
    )
    parser.add_argument("--models", default="eccv16,unet")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 50; smoke 2)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps incl. compilation (default 5; smoke 1)",
    )
    parser.add_argument("--no-torch", action="store_true", help="only the Keras/JAX measurement")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="override the device's dense bf16 peak"
    )
    args = parser.parse_args(argv)

    import keras

    if keras.backend.backend() != "jax":
        raise SystemExit(
            "benchmarks/gpu.py measures the JAX backend; set KERAS_BACKEND=jax "
            f"(got {keras.backend.backend()!r})."
        )
    steps = args.steps or (2 if args.smoke else 50)
    warmup = args.warmup or (1 if args.smoke else 5)
    settings = SMOKE_SETTINGS if args.smoke else SETTINGS
    info = device_info()
    peak = bf16_peak(info["kind"], args.peak_tflops)
    report = {
        "device": info,
        "bf16_peak_tflops": None if peak is None else peak / 1e12,
        "smoke": args.smoke,
        "steps": steps,
        "warmup": warmup,
        "results": [],
    }
    report["torch"] = (
        None if torch is None else {"version": torch.__version__, "cuda": torch.cuda.is_available()}
    )

    for name in args.models.split(","):
        size, batch, kwargs = settings[name]
        batches = numpy_batches(size, batch, count=4)
        for precision in args.precisions.split(","):
            row = {"model": name, "image_size": size, "batch": batch, "precision": precision}
            model = build_keras(name, size, kwargs, precision)
            train_flops = 3 * forward_flops(model) * batch
            row["train_gflops_per_step"] = train_flops / 1e9
            elapsed, loss = time_keras(model, batches, warmup, steps)
            row["keras_jax"] = {"images_per_s": steps * batch / elapsed, "final_loss": loss}
            if peak:
                row["keras_jax"]["mfu"] = train_flops * steps / elapsed / peak
            del model
            if torch is not None and not args.no_torch:
                for label, compiled in (("torch_eager", False), ("torch_compile", True)):
                    if compiled and args.no_compile:
                        continue
                    try:
                        elapsed, loss = time_torch(
                            name, size, kwargs, batches, precision, compiled, warmup, steps
                        )
                        row[label] = {"images_per_s": steps * batch / elapsed, "final_loss": loss}
                        if peak:
                            row[label]["mfu"] = train_flops * steps / elapsed / peak
                    except Exception as error:  # e.g. torch.compile without a C++ compiler
                        row[label] = {
                            "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                        }
                eager = row.get("torch_eager", {}).get("images_per_s")
                if eager:
                    row["keras_vs_torch_eager"] = row["keras_jax"]["images_per_s"] / eager
            report["results"].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
