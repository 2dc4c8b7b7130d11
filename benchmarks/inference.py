"""Benchmark: `colorize` with the converted released networks against their PyTorch twins.

Prints one JSON object. For ECCV16 and SIGGRAPH17 (full size, the release's
layers; random weights converted from the PyTorch twins of
`tests/torch_twins.py`, since speed does not depend on the values), images per
second of the whole colourisation of

- a batch of 256x256 photos (`--batch`, default 4), and
- one 1024x768 photo (run at the models' 256x256 input, ab upsampled),

by `colorization.colorize` (Keras, the backend of `KERAS_BACKEND`) and by
the authors' demo procedure around the PyTorch twin, measured in the same
run on the same CPU: sRGB -> Lab with scikit-image, L resized to 256x256,
the network, ab upsampled bilinearly (`torch.nn.functional.interpolate`) to
the photo's size, joined to the original L, Lab -> sRGB with scikit-image.
The ratio `keras / torch` is the figure of merit (target >= 1.0).

Run: `.venv/bin/python benchmarks/inference.py [--batch 4] [--repeats 2]`
(PyTorch comes from the `benchmarks` extra).
"""

import argparse
import json
import os
import pathlib
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from skimage import data as skdata  # noqa: E402
from skimage.transform import resize as skresize  # noqa: E402

from colorization import pretrained  # noqa: E402
from colorization.inference import colorize  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from torch_twins import ECCV16Twin  # noqa: E402
from torch_twins import SIGGRAPH17Twin  # noqa: E402
from torch_twins import randomize  # noqa: E402
from timing import best_time  # noqa: E402

SIZE = 256
TWINS = {"eccv16": ECCV16Twin, "siggraph17": SIGGRAPH17Twin}


def photos(batch):
    """Real photographs shipped with scikit-image: `batch` at 256x256 and one at 1024x768 (uint8)."""
    sources = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    small = [
        (skresize(sources[i % len(sources)], (SIZE, SIZE), anti_aliasing=True) * 255).round().astype(np.uint8)
        for i in range(batch)
    ]
    large = (skresize(skdata.astronaut(), (768, 1024), anti_aliasing=False) * 255).round().astype(np.uint8)
    return small, large


def torch_colorize(twin, images):
    """The authors' demo procedure around a PyTorch network, for a list of uint8 RGB photos."""
    labs = [skcolor.rgb2lab(image).astype(np.float32) for image in images]
    small = np.stack(
        [
            lab[..., 0]
            if lab.shape[:2] == (SIZE, SIZE)
            else skresize(lab[..., 0], (SIZE, SIZE), anti_aliasing=True).astype(np.float32)
            for lab in labs
        ]
    )
    with torch.inference_mode():
        ab = twin(torch.from_numpy(small[:, None]))
        out = []
        for i, lab in enumerate(labs):
            ab_full = torch.nn.functional.interpolate(ab[i : i + 1], size=lab.shape[:2], mode="bilinear")
            joined = np.concatenate([lab[..., :1], ab_full[0].numpy().transpose(1, 2, 0)], axis=-1)
            out.append((np.clip(skcolor.lab2rgb(joined), 0, 1) * 255).round().astype(np.uint8))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4, help="256x256 photos per colorize call")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    small, large = photos(args.batch)
    results = {
        "backend": keras.backend.backend(),
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg()[0],
        "batch": args.batch,
        "models": {},
    }
    folder = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "colorization_benchmark"
    folder.mkdir(parents=True, exist_ok=True)
    for name, cls in TWINS.items():
        twin = randomize(cls(), seed=0)
        path = folder / f"{name}.pth"
        torch.save(twin.state_dict(), path)
        model = pretrained.load(name, path=path)
        entry = {}
        for label, images in (("256x256", small), ("1024x768", [large])):
            keras_s = best_time(lambda: colorize(model, images, batch_size=len(images)), args.repeats)
            torch_s = best_time(lambda: torch_colorize(twin, images), args.repeats)
            entry[label] = {
                "keras_images_per_s": round(len(images) / keras_s, 3),
                "torch_images_per_s": round(len(images) / torch_s, 3),
                "keras_over_torch": round(torch_s / keras_s, 3),
            }
        # The two pictures agree: same weights, same procedure up to the resize of L.
        keras_rgb = colorize(model, small[:1], batch_size=1)[0].astype(int)
        torch_rgb = torch_colorize(twin, small[:1])[0].astype(int)
        entry["max_abs_rgb_difference_256"] = int(np.abs(keras_rgb - torch_rgb).max())
        results["models"][name] = entry
        path.unlink()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
