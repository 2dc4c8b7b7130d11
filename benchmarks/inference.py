"""Inference speed: `colorization.colorize` against the authors' demo procedure, PyTorch twin.

Images per second of the whole colourisation (uint8 sRGB in, uint8 sRGB out
at the photo's size), in one run on the same CPU, for Zhang et al.'s ECCV16
network (`eccv16(head="release")`; `--models eccv16,siggraph17` adds
SIGGRAPH17) with the same random weights on both sides:

- library: `colorize(model, photos, batch_size=...)` on the Keras backend of
  `KERAS_BACKEND` (default here: tensorflow): release preprocessing, the model
  through Keras' compiled predict function (`predict_on_batch`), the
  full-resolution Lab -> sRGB compiled;
- reference: the authors' demo procedure (`demo_release.py` with
  `colorizers/util.py` of github.com/richzhang/colorization), written here as
  in `tests/test_release_preprocessing.py`: photo by photo, Pillow bicubic
  resize of the uint8 RGB to 256x256, scikit-image `rgb2lab` of both, the
  PyTorch twin of `tests/torch_twins.py` (eager, `torch.inference_mode`) on
  the small L, `torch.nn.functional.interpolate` of ab to the photo's size,
  scikit-image `lab2rgb`, times 255.

With `--precisions float32,bfloat16` (the default) the library also runs a
`mixed_precision_copy` of the model (convolutions in bfloat16, head in
float32), and the authors' procedure also runs under
`torch.autocast("cpu", torch.bfloat16)`, so that each precision has a
reference in the same precision; the pictures' differences from float32's are
reported in levels of 255. `--class-gain G` multiplies the 313-bin logits'
weights by G (peakier distributions, bolder colours: a harder case for
rounding).

The figure of merit is `library_over_reference` (limit: >= 1 in float32; the
bfloat16 copy keeps its gain). Photos: real
photographs shipped with scikit-image, resized (Pillow bicubic) to 256x256
and to 1024x768. Timing: one warm-up call (compilation; reported as
`library_first_call_s`), then the best of `--repeats`.

Run: `KERAS_BACKEND=tensorflow .venv/bin/python benchmarks/inference.py` and
`KERAS_BACKEND=jax .venv/bin/python benchmarks/inference.py` (PyTorch comes
from the `benchmarks` extra).
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from skimage import data as skdata  # noqa: E402

from colorization import weights as pretrained  # noqa: E402
from colorization.inference import colorize  # noqa: E402
from colorization.training.mixed_precision import mixed_precision_copy  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from timing import best_time  # noqa: E402
from torch_twins import ECCV16Twin  # noqa: E402
from torch_twins import SIGGRAPH17Twin  # noqa: E402
from torch_twins import randomize  # noqa: E402

NETWORK_SIZE = 256
TWINS = {"eccv16": ECCV16Twin, "siggraph17": SIGGRAPH17Twin}


def photos(count, width, height):
    """`count` real photographs (scikit-image's samples in turn), uint8 RGB at width x height."""
    sources = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    return [
        np.asarray(
            Image.fromarray(sources[i % len(sources)]).resize((width, height), Image.BICUBIC)
        )
        for i in range(count)
    ]


def authors_demo(twin, rgb, precision="float32"):
    """The authors' demo procedure for one uint8 RGB photo -> uint8 sRGB at the photo's size."""
    if precision == "bfloat16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return authors_demo(twin, rgb)
    small = np.asarray(
        Image.fromarray(rgb).resize((NETWORK_SIZE, NETWORK_SIZE), resample=Image.BICUBIC)
    )
    L_original = torch.Tensor(skcolor.rgb2lab(rgb)[:, :, 0])[None, None]
    L_small = torch.Tensor(skcolor.rgb2lab(small)[:, :, 0])[None, None]
    with torch.inference_mode():
        ab = twin(L_small).float()
        if ab.shape[2:] != L_original.shape[2:]:
            ab = torch.nn.functional.interpolate(ab, size=L_original.shape[2:], mode="bilinear")
        lab = torch.cat((L_original, ab), dim=1)
    rgb_out = skcolor.lab2rgb(lab.numpy()[0].transpose(1, 2, 0))
    return (rgb_out * 255).round().astype(np.uint8)


def max_difference(pictures, expected):
    return max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(pictures, expected))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="eccv16", help="comma-separated: eccv16, siggraph17")
    parser.add_argument("--small", type=int, default=8, help="256x256 photos per run")
    parser.add_argument("--large", type=int, default=4, help="1024x768 photos per run")
    parser.add_argument("--batch-size", type=int, default=8, help="colorize's batch_size")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--precisions", default="float32,bfloat16", help="comma-separated: float32, bfloat16"
    )
    parser.add_argument(
        "--class-gain", type=float, default=1.0, help="factor on the 313-bin logits' weights"
    )
    args = parser.parse_args()
    workloads = {"256x256": photos(args.small, 256, 256), "1024x768": photos(args.large, 1024, 768)}
    results = {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "batch_size": args.batch_size,
        "class_gain": args.class_gain,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            twin = randomize(TWINS[name](), seed=0)
            if args.class_gain != 1.0:
                with torch.no_grad():
                    (twin.model8[6] if name == "eccv16" else twin.model_out[0]).weight.mul_(
                        args.class_gain
                    )
            path = pathlib.Path(folder) / f"{name}.pth"
            torch.save(twin.state_dict(), path)
            model = pretrained.load(
                name, path=path, verify=False
            )  # random weights: not the release's digest
            path.unlink()
            models = {"float32": model}
            if "bfloat16" in args.precisions.split(","):
                models["bfloat16"] = mixed_precision_copy(model, "mixed_bfloat16")
            entry = {}
            for label, images in workloads.items():
                float32_pictures = None
                for precision in args.precisions.split(","):
                    library = models[precision]
                    start = time.perf_counter()
                    pictures = colorize(library, images, batch_size=args.batch_size)
                    first_call = time.perf_counter() - start
                    library_s = best_time(
                        lambda library=library, images=images: colorize(
                            library, images, batch_size=args.batch_size
                        ),
                        args.repeats,
                    )
                    reference = []
                    reference_s = best_time(
                        lambda reference=reference, twin=twin, precision=precision, images=images: (
                            reference.append([authors_demo(twin, i, precision) for i in images])
                        ),
                        args.repeats,
                    )
                    row = {
                        "photos": len(images),
                        "library_images_per_s": round(len(images) / library_s, 3),
                        "reference_images_per_s": round(len(images) / reference_s, 3),
                        "library_over_reference": round(reference_s / library_s, 2),
                        "library_first_call_s": round(first_call, 2),
                        "max_abs_rgb_difference_from_reference": max_difference(
                            pictures, reference[-1]
                        ),
                    }
                    if precision == "float32":
                        float32_pictures = pictures
                    elif float32_pictures is not None:
                        differences = np.concatenate(
                            [
                                np.abs(a.astype(int) - b.astype(int)).ravel()
                                for a, b in zip(pictures, float32_pictures)
                            ]
                        )
                        row["levels_from_float32"] = {
                            "max": int(differences.max()),
                            "mean": round(float(differences.mean()), 4),
                            "share_over_1": round(float((differences > 1).mean()), 6),
                        }
                    entry[f"{label} {precision}"] = row
            results["models"][name] = entry
    results["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
