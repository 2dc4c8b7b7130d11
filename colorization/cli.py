"""Command line: `colorize`, `evaluate` and `demo`.

    python -m colorization colorize photo.jpg old/*.png -o out/ --model model.keras
    python -m colorization evaluate --model model.keras --data shards/ [--json scores.json]
    python -m colorization demo [--out outputs/demo] [--epochs N] [--fast]

`colorize` is also installed as its own console script (`colorize IN... -o
OUTDIR --model MODEL.keras`, or `--pretrained eccv16|siggraph17` for Zhang et
al.'s released weights, downloaded once or read from `--weights FILE.pth`).
Every input is attempted: a missing or unreadable file is reported on stderr
by name and the others are still written; the exit code is 1 when any input
failed, 2 when nothing could run (a model that cannot be loaded or is not a
colorizer).
"""

import argparse
import json
import math
import os
import pathlib
import sys

EXIT_INPUT_ERROR = 1
EXIT_FATAL = 2


def _error(message):
    print(f"error: {message}", file=sys.stderr, flush=True)


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load_model(path):
    """Loads a `.keras` colorization model safely, or raises ValueError naming the file."""
    import keras

    import colorization  # noqa: F401  (registers the library's layers and losses)
    import colorization.models  # noqa: F401
    from colorization.inference import check_model

    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"model file not found: {path}")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # keras raises many types for a bad file
        raise ValueError(f"cannot load model {path}: {type(error).__name__}: {error}") from None
    try:
        check_model(model)
    except ValueError as error:
        raise ValueError(f"incompatible model {path}: {error}") from None
    return model


def load_pretrained(name, weights=None):
    """Zhang et al.'s released `name` model (downloaded, or read from `weights`); errors as ValueError."""
    from colorization import pretrained

    try:
        return pretrained.load(name, path=weights)
    except (OSError, ImportError) as error:
        raise ValueError(str(error)) from None


def read_image(path):
    """Reads an image file as uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA."""
    import numpy as np
    from PIL import Image
    from PIL import ImageOps
    from PIL import UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"input not found: {path}")
    if path.is_dir():
        raise ValueError(f"input is a directory, not an image: {path}")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("L" if image.mode in ("1", "LA", "I", "I;16", "F") else "RGB")
            return np.asarray(image, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"not a readable image: {path} ({error})") from None


def _output_path(out_dir, source, used):
    stem = pathlib.Path(source).stem or "image"
    name, n = f"{stem}.png", 1
    while name in used:
        name, n = f"{stem}_{n}.png", n + 1
    used.add(name)
    return out_dir / name


# colorize


def _colorize_parser(prog):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Colorize grey (or colour, turned grey first) photographs at full resolution.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files (PNG, JPEG, ...)")
    parser.add_argument("-o", "--output", "--out", dest="output", required=True, metavar="OUTDIR",
                        help="folder for the colorized PNGs (created if needed)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="MODEL.keras", help="a trained colorization model")
    source.add_argument("--pretrained", choices=("eccv16", "siggraph17"),
                        help="Zhang et al.'s released weights (downloaded once; needs PyTorch: the `pretrained` extra)")
    parser.add_argument("--weights", metavar="FILE.pth",
                        help="with --pretrained: a local copy of the released weights file instead of downloading")
    parser.add_argument("--temperature", type=float, default=0.38,
                        help="annealed-mean temperature for classification models (default 0.38)")
    return parser


def colorize_command(args):
    from PIL import Image

    from colorization.inference import colorize

    if not args.temperature > 0:
        _error(f"--temperature must be > 0; received {args.temperature}")
        return EXIT_FATAL
    if args.weights and not args.pretrained:
        _error("--weights goes with --pretrained eccv16|siggraph17")
        return EXIT_FATAL
    try:
        model = load_pretrained(args.pretrained, args.weights) if args.pretrained else load_model(args.model)
    except ValueError as error:
        _error(str(error))
        return EXIT_FATAL
    out_dir = pathlib.Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures, used = 0, set()
    for source in args.inputs:
        try:
            image = read_image(source)
            result = colorize(model, image, temperature=args.temperature)
        except (ValueError, TypeError) as error:
            _error(str(error) if str(source) in str(error) else f"{source}: {error}")
            failures += 1
            continue
        target = _output_path(out_dir, source, used)
        Image.fromarray(result).save(target)
        print(f"{source} -> {target}", flush=True)
    done = len(args.inputs) - failures
    print(f"colorized {done} of {len(args.inputs)} images into {out_dir}", flush=True)
    return EXIT_INPUT_ERROR if failures else 0


# evaluate


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_table(rows, columns=("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "colorfulness_true")):
    """A plain-text table of metric dicts keyed by model name."""
    columns = [c for c in columns if any(c in r for r in rows.values())]
    width = max([len("model")] + [len(name) for name in rows])
    lines = ["  ".join([f"{'model':<{width}}"] + [f"{c:>17}" for c in columns])]
    for name, row in rows.items():
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append(f"{'-':>17}" if v is None else f"{v:>17.4f}")
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)


def _evaluate_parser(prog):
    parser = argparse.ArgumentParser(prog=prog, description="Score a model and the grey baseline on TFRecord shards.")
    parser.add_argument("--model", required=True, metavar="MODEL.keras")
    parser.add_argument("--data", required=True, metavar="DIR", help="a shard folder written by data_pipeline.write_shards")
    parser.add_argument("--split", default=None, help="the split to read (default: the folder's only/validation split)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.38)
    parser.add_argument("--prior", metavar="PRIOR.npy",
                        help="bin prior (313,) for the rebalanced AuC (default: computed from the data)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the grey baseline")
    parser.add_argument("--json", metavar="FILE", help="where to write the scores (default: evaluation.json)")
    return parser


def evaluate_command(args):
    import numpy as np

    from colorization import metrics

    try:
        import data_pipeline
    except ImportError as error:
        _error(f"`evaluate` reads shards with the `data_pipeline` package, which cannot be imported: {error}")
        return EXIT_FATAL
    try:
        model = load_model(args.model)
    except ValueError as error:
        _error(str(error))
        return EXIT_FATAL
    data = pathlib.Path(args.data)
    if not data.is_dir():
        _error(f"data folder not found: {data}")
        return EXIT_FATAL
    read_kwargs = {"batch_size": args.batch_size}
    if args.split is not None:
        read_kwargs["split"] = args.split
    try:
        dataset = data_pipeline.read_shards(str(data), shuffle=False, **read_kwargs)
    except TypeError:
        dataset = data_pipeline.read_shards(str(data), **read_kwargs)
    except Exception as error:
        _error(f"cannot read shards from {data}: {error}")
        return EXIT_FATAL
    if args.prior:
        try:
            prior = np.load(args.prior)
        except Exception as error:
            _error(f"cannot read prior {args.prior}: {error}")
            return EXIT_FATAL
    else:
        prior = np.asarray(data_pipeline.compute_prior(str(data)))
    rows = {pathlib.Path(args.model).stem: metrics.evaluate(model, dataset, temperature=args.temperature, prior=prior)}
    if not args.no_baseline:
        rows["grey baseline (ab = 0)"] = metrics.evaluate_grey_baseline(dataset, prior=prior)
    print(format_table(rows))
    target = pathlib.Path(args.json or "evaluation.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": str(args.model),
        "data": str(data),
        "temperature": args.temperature,
        "results": {k: {m: _json_safe(v) for m, v in row.items()} for k, row in rows.items()},
    }
    target.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"scores written to {target}")
    return 0


# entry points


def colorize_main(argv=None):
    """Console script `colorize IN... -o OUTDIR (--model MODEL.keras | --pretrained NAME)`."""
    _quiet_tensorflow()
    args = _colorize_parser("colorize").parse_args(argv)
    return colorize_command(args)


def main(argv=None):
    """`python -m colorization {colorize,evaluate,demo} ...`."""
    _quiet_tensorflow()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"colorize", "evaluate", "demo"}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(
            "usage: python -m colorization {colorize,evaluate,demo} ...\n\n"
            "  colorize IN... -o OUTDIR (--model MODEL.keras | --pretrained eccv16|siggraph17 [--weights FILE.pth])\n"
            "           [--temperature T]\n"
            "  evaluate --model MODEL.keras --data DIR [--json FILE]\n"
            "  demo [--out outputs/demo] [--epochs N] [--fast]",
            file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout,
        )
        if argv and argv[0] not in ("-h", "--help"):
            _error(f"unknown command {argv[0]!r}")
            return EXIT_FATAL
        return 0 if argv else EXIT_FATAL
    command, rest = argv[0], argv[1:]
    if command == "colorize":
        return colorize_command(_colorize_parser("python -m colorization colorize").parse_args(rest))
    if command == "evaluate":
        return evaluate_command(_evaluate_parser("python -m colorization evaluate").parse_args(rest))
    from colorization import demo

    return demo.main(rest)
