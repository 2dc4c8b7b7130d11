"""Training throughput and peak memory: the library's networks against plain PyTorch.

Measures images/s of full training steps (forward, rebalanced cross-entropy
against soft-encoded ab targets, backward, Adam update) for

- the classification U-Net of report 000 (`colorization.models.unet`), 64x64, batch 64;
- Zhang et al.'s ECCV16 network (`colorization.models.eccv16`), 256x256, batch 8;

built with this library (Keras 3, on each requested backend) and the same
architectures written in plain PyTorch (`torch.nn`, the same layers, channel
counts, padding, loss and optimizer), measured in the same run on the same
machine. Each measurement runs in its own subprocess, so the peak resident
memory (`ru_maxrss`) is that of one framework and one model. Prints JSON.

    python benchmarks/train.py                 # default, a few minutes on 2 cores
    python benchmarks/train.py --quick         # fewer steps
    python benchmarks/train.py --backends tensorflow,jax --models unet

PyTorch is a benchmark-only dependency (`pip install -e ".[benchmarks]"`).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

CASES = {
    "unet": {"size": 64, "batch": 64, "warmup": 1, "steps": 3},
    "eccv16": {"size": 256, "batch": 8, "warmup": 1, "steps": 1},
}
QUICK_STEPS = {"unet": (1, 1), "eccv16": (1, 1)}
SIGMA = 5.0
NEIGHBORS = 5


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_batch(size, batch, seed=0):
    """Random L in [0, 100] and ab in a plausible range (the content does not change the cost)."""
    rng = np.random.default_rng(seed)
    L = rng.uniform(0, 100, (batch, size, size, 1)).astype("float32")
    ab = np.clip(rng.normal(0, 25, (batch, size, size, 2)), -100, 100).astype("float32")
    return L, ab


def time_steps(step, warmup, steps):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


# ---------------------------------------------------------------- Keras (this library)


def keras_worker(model_name, case, jit_compile):
    import keras

    from colorization.losses import RebalancedCrossEntropy
    from colorization.models import get_model

    baseline = peak_rss_mib()
    keras.utils.set_random_seed(0)
    model = get_model(
        model_name, input_shape=(case["size"], case["size"], 1), head="classification"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=RebalancedCrossEntropy(),
        jit_compile=jit_compile,
    )
    L, ab = make_batch(case["size"], case["batch"])

    def step():
        return float(model.train_on_batch(L, ab))

    seconds = time_steps(step, case["warmup"], case["steps"])
    return {
        "framework": f"keras-{keras.backend.backend()}",
        "jit_compile": jit_compile,
        "parameters": int(model.count_params()),
        "seconds": seconds,
        "images_per_second": case["batch"] * case["steps"] / seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
    }


# ---------------------------------------------------------------- plain PyTorch reference


def torch_models():
    import torch
    from torch import nn

    def conv(c_in, c_out, **kw):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, kw.pop("k", 3), padding=kw.pop("p", 1), **kw), nn.ReLU()
        )

    class UNet(nn.Module):
        """Report 000, Table 1 (3x3 convs, 4x4 stride-2 transposed convs), as models.unet."""

        def __init__(self, q=313):
            super().__init__()
            self.block1 = nn.Sequential(conv(1, 32), nn.Dropout(0.2), conv(32, 32))
            self.down1 = nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01))
            self.block2 = nn.Sequential(conv(32, 64), nn.Dropout(0.2), conv(64, 64))
            self.down2 = nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01))
            self.block3 = nn.Sequential(conv(64, 128), nn.Dropout(0.2), conv(128, 128))
            self.down3 = nn.Sequential(
                nn.MaxPool2d(2), nn.BatchNorm2d(128, eps=1e-3, momentum=0.01)
            )
            self.block4 = nn.Sequential(
                conv(128, 256),
                nn.Dropout(0.2),
                conv(256, 256),
                nn.BatchNorm2d(256, eps=1e-3, momentum=0.01),
            )
            self.up1 = nn.ConvTranspose2d(256, 256, 4, stride=2, padding=1)
            self.block5 = nn.Sequential(
                conv(384, 128),
                nn.Dropout(0.2),
                conv(128, 128),
                nn.BatchNorm2d(128, eps=1e-3, momentum=0.01),
            )
            self.up2 = nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1)
            self.block6 = nn.Sequential(
                conv(192, 64),
                nn.Dropout(0.2),
                conv(64, 64),
                nn.BatchNorm2d(64, eps=1e-3, momentum=0.01),
            )
            self.up3 = nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1)
            self.block7 = nn.Sequential(conv(96, 32), conv(32, 32))
            self.out = nn.Conv2d(32, q, 1)

        def forward(self, L):
            x = L / 100.0 - 0.5
            s1 = self.block1(x)
            s2 = self.block2(self.down1(s1))
            s3 = self.block3(self.down2(s2))
            x = self.block4(self.down3(s3))
            x = self.block5(torch.cat([self.up1(x), s3], 1))
            x = self.block6(torch.cat([self.up2(x), s2], 1))
            x = self.block7(torch.cat([self.up3(x), s1], 1))
            return torch.log_softmax(self.out(x), dim=1)

    class ECCV16(nn.Module):
        """Zhang et al.'s network as in their PyTorch port, as colorization.models.eccv16."""

        def __init__(self, q=313):
            super().__init__()
            layers = []
            c_in = 1
            for n, c, stride, dilation in [
                (2, 64, 2, 1),
                (2, 128, 2, 1),
                (3, 256, 2, 1),
                (3, 512, 1, 1),
                (3, 512, 1, 2),
                (3, 512, 1, 2),
                (3, 512, 1, 1),
            ]:
                for i in range(n):
                    s = stride if i == n - 1 else 1
                    layers.append(conv(c_in, c, stride=s, dilation=dilation, p=dilation))
                    c_in = c
                layers.append(nn.BatchNorm2d(c))
            layers += [
                nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1),
                nn.ReLU(),
                conv(256, 256),
                conv(256, 256),
            ]
            layers.append(nn.Conv2d(256, q, 1))
            self.net = nn.Sequential(*layers)

        def forward(self, L):
            return torch.log_softmax(self.net((L - 50.0) / 100.0), dim=1)

    return {"unet": UNet, "eccv16": ECCV16}


def torch_soft_encoded_cross_entropy(log_probs, ab, bins):
    """Zhang's loss in PyTorch: ab nearest-subsampled to the output grid, 5-NN soft targets."""
    import torch

    factor = ab.shape[-1] // log_probs.shape[-1]
    ab = ab[:, :, ::factor, ::factor]  # (B, 2, h, w)
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    distances = torch.cdist(flat, bins)  # (N, Q)
    nearest, indices = torch.topk(distances, NEIGHBORS, dim=1, largest=False)
    weights = torch.softmax(-(nearest**2) / (2 * SIGMA**2), dim=1)
    log_p = log_probs.permute(0, 2, 3, 1).reshape(-1, bins.shape[0])
    return -(weights * torch.gather(log_p, 1, indices)).sum(1).mean()


def torch_worker(model_name, case, channels_last):
    import torch

    from colorization.quantization import default_ab_bins

    torch.set_num_threads(os.cpu_count())
    baseline = peak_rss_mib()
    torch.manual_seed(0)
    model = torch_models()[model_name]()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    bins = torch.from_numpy(np.asarray(default_ab_bins(), dtype="float32"))
    L, ab = make_batch(case["size"], case["batch"])
    L = torch.from_numpy(L).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)
    ab = torch.from_numpy(ab).permute(0, 3, 1, 2).contiguous()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch_soft_encoded_cross_entropy(model(L), ab, bins)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    seconds = time_steps(step, case["warmup"], case["steps"])
    return {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "channels_last": channels_last,
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters())
        + sum(b.numel() for b in model.buffers() if b.dtype.is_floating_point),
        "seconds": seconds,
        "images_per_second": case["batch"] * case["steps"] / seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
    }


# ---------------------------------------------------------------- driver


def run_worker(args_list, backend):
    # The PyTorch worker runs Keras on its torch backend: importing TensorFlow and torch in one
    # process can crash.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", *args_list],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        lines = [
            line
            for line in result.stderr.splitlines()
            if line.strip() and not line.startswith(("I0000", "W0000"))
        ]
        return {
            "error": f"exit status {result.returncode}: " + (lines[-1] if lines else "no message")
        }
    output = json.loads(result.stdout.strip().splitlines()[-1])
    output["load_average_1min_after"] = os.getloadavg()[0]
    return output


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="unet,eccv16")
    parser.add_argument(
        "--backends", default="tensorflow", help="Keras backends to measure, e.g. tensorflow,jax"
    )
    parser.add_argument(
        "--jit-compile", default="auto", help="Keras compile(jit_compile=...): auto, true or false"
    )
    parser.add_argument(
        "--channels-last", action="store_true", help="PyTorch channels-last memory format"
    )
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, model_name, warmup, steps, option = args.worker
        case = dict(CASES[model_name], warmup=int(warmup), steps=int(steps))
        if kind == "torch":
            result = torch_worker(model_name, case, channels_last=option == "true")
        else:
            jit = {"auto": "auto", "true": True, "false": False}[option]
            result = keras_worker(model_name, case, jit)
        print(json.dumps(result))
        return

    report = {
        "benchmark": "training throughput, classification head, rebalanced cross-entropy, Adam",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_1min_before": os.getloadavg()[0],
        },
        "results": {},
    }
    for model_name in args.models.split(","):
        case = dict(CASES[model_name])
        if args.quick:
            case["warmup"], case["steps"] = QUICK_STEPS[model_name]
        steps = [model_name, str(case["warmup"]), str(case["steps"])]
        entry = {
            "input": f"{case['size']}x{case['size']}",
            "batch": case["batch"],
            "timed_steps": case["steps"],
        }
        entry["pytorch"] = run_worker(
            ["torch", *steps, "true" if args.channels_last else "false"], "torch"
        )
        for backend in args.backends.split(","):
            keras_result = run_worker(["keras", *steps, args.jit_compile.lower()], backend=backend)
            entry[f"keras-{backend}"] = keras_result
            if "images_per_second" in keras_result and "images_per_second" in entry["pytorch"]:
                entry[f"ratio_keras-{backend}_over_pytorch"] = (
                    keras_result["images_per_second"] / entry["pytorch"]["images_per_second"]
                )
        report["results"][model_name] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
