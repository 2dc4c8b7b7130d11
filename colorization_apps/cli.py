"""Command line: `colorize`, `evaluate` and `demo`.

    colorization colorize photos/ old/*.png -o out/ --model model.keras [--batch-size 16]
    colorization evaluate --model model.keras --data shards/ [--json scores.json]
    colorization demo [--out outputs/demo] [--epochs N] [--fast]

`python -m colorization_apps` is the same command. `colorize` is also its own
console script (`colorize IN... -o OUTDIR --model MODEL.keras`, or
`--pretrained eccv16|siggraph17` for Zhang et al.'s released weights). Inputs
are image files, folders (their image files, by extension) and glob patterns.
Every input is attempted: a failure is one `error:` line naming the path and
the cause; the exit code is 1 when any input failed, 2 when nothing could run.

This module imports only the standard library at module level: Keras and
TensorFlow load when a command runs, so `--help` and argument errors answer
at once.
"""

import argparse
import collections
import glob
import json
import os
import pathlib
import sys
import time

from colorization.constants import ZHANG_TEMPERATURE
from colorization_apps import console
from colorization_apps import reporting

EXIT_INPUT_ERROR = 1
EXIT_FATAL = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
RESIZE_CHOICES = (
    "bicubic_rgb",
    "bilinear_l",
)  # inference.RESIZE_MODES, named here so --help needs no Keras
PRECISION_CHOICES = ("float32", "bfloat16")


class Skipped(ValueError):
    """An input (or its output) that could not be processed.

    Args:
        path: the file, folder or pattern.
        reason: a short cause, the same for every path it applies to (the
            summary counts them).
        detail: optional specifics (the library's own message).
    """

    def __init__(self, path, reason, detail=None):
        self.path, self.reason, self.detail = str(path), reason, detail
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


# Inputs and outputs


def _has_glob_pattern(text):
    return any(character in text for character in "*?[")


def _image_files_in(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand_inputs(arguments):
    """Image paths from files, folders and glob patterns, in order, each once.

    A folder gives its image files (by extension, not recursive); a pattern
    that is not an existing path is expanded with `glob` (`**` recurses).

    Returns:
        `(paths, skipped)`: a list of `pathlib.Path` and a list of `Skipped`
        for arguments that name nothing usable.
    """
    paths, skipped, seen = [], [], set()

    def add(path):
        key = os.path.normcase(os.path.abspath(path))
        if key not in seen:
            seen.add(key)
            paths.append(path)

    for argument in arguments:
        path = pathlib.Path(argument)
        if path.is_dir():
            found = _image_files_in(path)
            if not found:
                skipped.append(
                    Skipped(
                        path,
                        "folder holds no image files",
                        f"looked for {', '.join(IMAGE_SUFFIXES)}",
                    )
                )
            for item in found:
                add(item)
        elif path.exists():
            add(path)
        elif _has_glob_pattern(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            files = [pathlib.Path(m) for m in matches if os.path.isfile(m)]
            for folder in (pathlib.Path(m) for m in matches if os.path.isdir(m)):
                files.extend(_image_files_in(folder))
            if not files:
                skipped.append(Skipped(argument, "no file matches this pattern"))
            for item in files:
                add(item)
        else:
            skipped.append(Skipped(path, "input not found"))
    return paths, skipped


def prepare_output_folder(path):
    """Creates the output folder if needed; raises `Skipped` naming why it cannot be used."""
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise Skipped(path, "cannot use as output folder: a file of that name exists")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        cause = error.strerror or type(error).__name__
        where = (
            f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
        )
        raise Skipped(path, f"cannot create output folder: {cause.lower()}{where}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise Skipped(path, "cannot write into output folder: permission denied")
    return path


def read_image(path):
    """Reads an image as uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; raises `Skipped`."""
    import numpy as np
    from PIL import Image
    from PIL import ImageOps
    from PIL import UnidentifiedImageError

    path = pathlib.Path(path)
    if not path.exists():
        raise Skipped(path, "input not found")
    if path.is_dir():
        raise Skipped(path, "input is a folder, not an image")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode not in ("L", "RGB", "RGBA"):
                image = image.convert("L" if image.mode in ("1", "LA", "I", "I;16", "F") else "RGB")
            return np.asarray(image, dtype=np.uint8).copy()
    except UnidentifiedImageError:
        raise Skipped(path, "not a readable image", "not a format Pillow recognises") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise Skipped(path, "not a readable image", f"{type(error).__name__}: {error}") from None


def _output_path(out_dir, source, used):
    stem = pathlib.Path(source).stem or "image"
    name, n = f"{stem}.png", 1
    while name in used:
        name, n = f"{stem}_{n}.png", n + 1
    used.add(name)
    return out_dir / name


# Models


def load_model(path):
    """Loads a `.keras` colorization model safely, or raises ValueError naming the file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(
            f"model file not found: {path}" if not path.exists() else f"model is not a file: {path}"
        )
    import keras

    import colorization.layers  # noqa: F401  (registers the library's layers, losses and models)
    import colorization.losses  # noqa: F401
    import colorization.models  # noqa: F401
    from colorization.inference import check_model

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # keras raises many types for a bad file
        raise ValueError(f"cannot load model {path}: {type(error).__name__}: {error}") from None
    try:
        check_model(model)
    except ValueError as error:
        raise ValueError(f"incompatible model {path}: {error}") from None
    return model


def load_pretrained(name, weights=None, verify=True):
    """Zhang et al.'s released `name` model (downloaded, or read from `weights`), or ValueError.

    `verify=False` skips the checksum of a `weights` file (`--no-verify`).
    """
    from colorization import weights as pretrained

    try:
        return pretrained.load(name, path=weights, verify=verify)
    except (OSError, ImportError) as error:
        raise ValueError(str(error)) from None


# colorize


def _colorize_parser(prog):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Colorize grey (or colour, turned grey first) photographs at full resolution.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="image files, folders (their image files) or glob patterns such as 'scans/**/*.jpg'",
    )
    parser.add_argument(
        "-o",
        "--output",
        "--out",
        dest="output",
        required=True,
        metavar="OUTDIR",
        help="folder for the colorized PNGs (created if needed)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", metavar="MODEL.keras", help="a trained colorization model")
    source.add_argument(
        "--pretrained",
        choices=("eccv16", "siggraph17"),
        help="Zhang et al.'s released weights (downloaded once; PyTorch reads them: the "
        "`pretrained` extra)",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE.pth",
        help="with --pretrained: a local copy of the released weights file instead of downloading",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="with --pretrained: skip the weights file's SHA-256 check (for your own state dicts)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=ZHANG_TEMPERATURE,
        help=f"annealed-mean temperature for classification models (default {ZHANG_TEMPERATURE})",
    )
    parser.add_argument(
        "--batch-size", type=int, default=8, metavar="N", help="photos per forward pass (default 8)"
    )
    parser.add_argument(
        "--resize",
        choices=RESIZE_CHOICES,
        default=None,
        help="how the network input is made: bicubic_rgb resizes the RGB photo then takes L "
        "(the authors' release procedure), bilinear_l resizes L (default: bicubic_rgb for "
        "Zhang et al.'s released networks, bilinear_l for the others)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="float32",
        help="float32 (default) gives the release's pictures; bfloat16 computes the convolutions "
        "in 16 bits: faster on GPUs and on CPUs with AMX or AVX-512 BF16, colours within a few "
        "levels of float32's",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every file written and the frameworks' own logs",
    )
    return parser


def _check_colorize_arguments(args):
    """Argument errors that need no framework; returns a message or None."""
    if not args.temperature > 0:
        return f"--temperature must be > 0. Received: temperature={args.temperature}"
    if args.batch_size < 1:
        return f"--batch-size must be >= 1. Received: batch_size={args.batch_size}"
    if args.weights and not args.pretrained:
        return "--weights goes with --pretrained eccv16|siggraph17"
    if args.no_verify and not args.pretrained:
        return "--no-verify goes with --pretrained eccv16|siggraph17"
    if args.weights and not pathlib.Path(args.weights).is_file():
        return f"weights file not found: {args.weights}"
    if args.model and not pathlib.Path(args.model).exists():
        return f"model file not found: {args.model}"
    return None


def _colorize_batch(colorize, model, images, options):
    """Colorizes `images` together; on a bad image, one at a time so the others still come out."""
    try:
        return colorize(model, images, **options)
    except (ValueError, TypeError):
        results = []
        for image in images:
            try:
                results.append(colorize(model, image, **options))
            except (ValueError, TypeError) as error:
                results.append(error)
        return results


def colorize_command(args):
    """Runs `colorize` on parsed arguments; returns the exit code."""
    start = time.monotonic()
    problem = _check_colorize_arguments(args)
    if problem:
        console.error(problem)
        return EXIT_FATAL
    inputs, skipped = expand_inputs(args.inputs)
    for item in skipped:
        console.error(str(item))
    total = len(inputs) + len(skipped)
    if not inputs:
        console.error(
            f"nothing to colorize: none of the {len(args.inputs)} input argument(s) names an image"
        )
        return EXIT_FATAL
    try:
        out_dir = prepare_output_folder(args.output)
    except Skipped as error:
        console.error(str(error))
        return EXIT_FATAL
    with console.framework_logs_hidden(args.verbose):
        return _colorize_files(args, inputs, skipped, total, out_dir, start)


def _colorize_files(args, inputs, skipped, total, out_dir, start):
    from PIL import Image

    try:
        if args.pretrained:
            model = load_pretrained(args.pretrained, args.weights, verify=not args.no_verify)
        else:
            model = load_model(args.model)
    except ValueError as error:
        # The library's weight-file errors say what is wrong on their first line, details after.
        summary, _, details = str(error).partition("\n")
        console.error(summary)
        if args.verbose and details.strip():
            print(details.strip(), file=sys.stderr, flush=True)
        return EXIT_FATAL
    from colorization.inference import colorize

    if args.precision == "bfloat16":
        from colorization.training.mixed_precision import mixed_precision_copy

        try:
            model = mixed_precision_copy(model, "mixed_bfloat16")
        except ValueError as error:
            console.error(f"--precision bfloat16: {error}")
            return EXIT_FATAL
    loaded = time.monotonic()
    options = {"temperature": args.temperature, "batch_size": args.batch_size}
    if args.resize is not None:
        options["resize"] = args.resize
    progress = console.Progress(len(inputs), enabled=len(inputs) > 1)
    failures, used, done, attempted = list(skipped), set(), 0, 0

    def report(problem):
        failures.append(problem)
        progress.note(f"error: {console.one_line(str(problem))}")

    for first in range(0, len(inputs), args.batch_size):
        chunk = inputs[first : first + args.batch_size]
        sources, images = [], []
        for path in chunk:
            try:
                images.append(read_image(path))
                sources.append(path)
            except Skipped as problem:
                report(problem)
        results = _colorize_batch(colorize, model, images, options) if images else []
        for source, result in zip(sources, results):
            if isinstance(result, Exception):
                report(Skipped(source, "cannot colorize", str(result)))
                continue
            target = _output_path(out_dir, source, used)
            if target.resolve() == pathlib.Path(source).resolve():
                report(
                    Skipped(
                        source,
                        "output would overwrite its input",
                        f"choose another -o than {out_dir}",
                    )
                )
                continue
            try:
                Image.fromarray(result).save(target)
            except OSError as error:
                report(
                    Skipped(
                        target,
                        f"cannot write output: {(error.strerror or type(error).__name__).lower()}",
                    )
                )
                continue
            done += 1
            if args.verbose:
                progress.note(f"{source} -> {target}")
        attempted += len(chunk)
        progress.update(attempted)
    progress.close()
    elapsed = time.monotonic() - start
    working = time.monotonic() - loaded
    loading = console.format_duration(loaded - start)
    rate = f", {done / working:.2f} images/s after {loading} loading the model" if done else ""
    took = console.format_duration(elapsed)
    print(
        f"colorized {done} of {total} images into {out_dir} in {took}{rate}",
        flush=True,
    )
    if failures:
        reasons = collections.Counter(problem.reason for problem in failures)
        print(
            f"skipped {len(failures)}: "
            + ", ".join(f"{count} {reason}" for reason, count in reasons.items()),
            flush=True,
        )
    return EXIT_INPUT_ERROR if failures else 0


# evaluate


def _evaluate_parser(prog):
    parser = argparse.ArgumentParser(
        prog=prog, description="Score a model and the grey baseline on TFRecord shards."
    )
    parser.add_argument("--model", required=True, metavar="MODEL.keras")
    parser.add_argument(
        "--data",
        required=True,
        metavar="DIR",
        help="a shard folder written by data_pipeline.write_shards",
    )
    parser.add_argument(
        "--split",
        default=None,
        help="the split to read (default: the folder's only/validation split)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=ZHANG_TEMPERATURE)
    parser.add_argument(
        "--prior",
        metavar="PRIOR.npy",
        help="a training bin prior (313,): adds auc_rebalanced_training_prior, the inverse-prior "
        "form (auc_rebalanced always weights by the evaluated pixels' own colour distribution)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the grey baseline")
    parser.add_argument(
        "--json", metavar="FILE", help="where to write the scores (default: evaluation.json)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the frameworks' own logs"
    )
    return parser


def evaluate_command(args):
    """Runs `evaluate` on parsed arguments; returns the exit code."""
    data = pathlib.Path(args.data)
    if not pathlib.Path(args.model).exists():
        console.error(f"model file not found: {args.model}")
        return EXIT_FATAL
    if not data.is_dir():
        console.error(f"data folder not found: {data}")
        return EXIT_FATAL
    if args.prior and not pathlib.Path(args.prior).is_file():
        console.error(f"prior file not found: {args.prior}")
        return EXIT_FATAL
    with console.framework_logs_hidden(args.verbose):
        return _evaluate(args, data)


def _evaluate(args, data):
    import numpy as np

    from colorization import metrics

    try:
        import data_pipeline
    except ImportError as error:
        console.error(
            f"`evaluate` reads shards with `data_pipeline`, which cannot be imported: {error}"
        )
        return EXIT_FATAL
    try:
        model = load_model(args.model)
    except ValueError as error:
        console.error(str(error))
        return EXIT_FATAL
    read_kwargs = {"batch_size": args.batch_size}
    if args.split is not None:
        read_kwargs["split"] = args.split
    try:
        dataset = data_pipeline.read_shards(str(data), shuffle=False, **read_kwargs)
    except TypeError:
        dataset = data_pipeline.read_shards(str(data), **read_kwargs)
    except Exception as error:
        console.error(f"cannot read shards from {data}: {error}")
        return EXIT_FATAL
    prior = None
    if args.prior:
        try:
            prior = np.load(args.prior)
        except Exception as error:
            console.error(f"cannot read prior {args.prior}: {error}")
            return EXIT_FATAL
    rows = {
        pathlib.Path(args.model).stem: metrics.evaluate(
            model, dataset, temperature=args.temperature, prior=prior
        )
    }
    if not args.no_baseline:
        rows["grey baseline (ab = 0)"] = metrics.evaluate_grey_baseline(dataset, prior=prior)
    print(reporting.format_table(rows))
    target = pathlib.Path(args.json or "evaluation.json")
    payload = {
        "model": str(args.model),
        "data": str(data),
        "temperature": args.temperature,
        "results": reporting.json_safe_rows(rows),
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(payload, indent=2) + "\n")
    except OSError as error:
        console.error(
            f"{target}: cannot write the scores: {(error.strerror or type(error).__name__).lower()}"
        )
        return EXIT_FATAL
    print(f"scores written to {target}")
    return 0


# entry points

USAGE = (
    "usage: colorization {colorize,evaluate,demo} ...\n\n"
    "  colorize IN... -o OUTDIR (--model MODEL.keras\n"
    "                           | --pretrained eccv16|siggraph17 [--weights FILE.pth])\n"
    "           [--batch-size N] [--resize bicubic_rgb|bilinear_l] [--temperature T] [--verbose]\n"
    "           IN: image files, folders, glob patterns\n"
    "  evaluate --model MODEL.keras --data DIR [--json FILE]\n"
    "  demo [--out outputs/demo] [--epochs N] [--fast]\n\n"
    "`colorization COMMAND --help` describes each command; `python -m colorization_apps` is the\n"
    "same command."
)


def _guarded(command, args):
    """Runs a command; an unexpected exception becomes one line (the traceback with --verbose)."""
    try:
        return command(args)
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except Exception as error:
        if getattr(args, "verbose", False) or (
            isinstance(args, list) and {"-v", "--verbose"} & set(args)
        ):
            raise
        console.error(
            f"unexpected {type(error).__name__}: {error} "
            "(run again with --verbose for the traceback)"
        )
        return EXIT_FATAL


def _closed_pipe_is_quiet(entry):
    """`colorize --help | head -1` ends without a BrokenPipeError traceback."""

    def run(argv=None):
        try:
            return entry(argv)
        except BrokenPipeError:
            os.dup2(
                os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno()
            )  # Python's advice for SIGPIPE
            return EXIT_INPUT_ERROR

    run.__name__, run.__doc__ = entry.__name__, entry.__doc__
    return run


@_closed_pipe_is_quiet
def colorize_main(argv=None):
    """Console script `colorize IN... -o OUTDIR (--model MODEL.keras | --pretrained NAME)`."""
    args = _colorize_parser("colorize").parse_args(argv)
    return _guarded(colorize_command, args)


@_closed_pipe_is_quiet
def main(argv=None):
    """Console script `colorization {colorize,evaluate,demo} ...`; `python -m colorization_apps`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"colorize", "evaluate", "demo"}
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_FATAL
    if argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        console.error(f"unknown command {argv[0]!r}")
        return EXIT_FATAL
    command, rest = argv[0], argv[1:]
    if command == "colorize":
        return _guarded(
            colorize_command, _colorize_parser("colorization colorize").parse_args(rest)
        )
    if command == "evaluate":
        return _guarded(
            evaluate_command, _evaluate_parser("colorization evaluate").parse_args(rest)
        )
    from colorization_apps import demo

    return _guarded(demo.main, rest)
