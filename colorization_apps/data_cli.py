"""The `colorization-data` command (or `python -m colorization_apps.data_cli`): `build`, `inspect`.

Examples::

    colorization-data build --source samples --split train --out data/samples --size 64 \
        --crops-per-image 64
    colorization-data build --source tfds:cifar10 --split train --out data/cifar10 --size 32
    colorization-data build --source folder:~/photos --out data/photos --size 256 --prior
    colorization-data build --source npy:gray_scale.npy,ab1.npy,ab2.npy,ab3.npy --out data/kaggle \
        --size 224
    colorization-data build --runner beam --source folder:/mnt/photos --out /mnt/shards --size 256 \
        -- --runner=DirectRunner --direct_num_workers=4   (after --: Beam pipeline options)
    colorization-data inspect data/samples
"""

import argparse
import json
import pathlib
import sys

import numpy as np


def prog_name(argv0=None):
    """The command as typed: `colorization-data`, or `python -m colorization_apps.data_cli`."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = pathlib.Path(argv0 or "").name
    if not name or name in ("data_cli.py", "-c") or name.startswith("python"):
        return "python -m colorization_apps.data_cli"
    return name


def _parser(prog=None):
    from data_pipeline.writer import usable_cores

    parser = argparse.ArgumentParser(prog=prog or prog_name(), description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser(
        "build",
        help="write CIELAB TFRecord shards and manifest.json",
        description="Write CIELAB TFRecord shards of exactly --examples-per-shard examples (all "
        "but the last) and manifest.json. Re-running the same command resumes an interrupted "
        "build and leaves a finished one alone.",
    )
    build.add_argument(
        "--source",
        required=True,
        help="tfds:NAME[:SPLIT], folder:PATH, npy:L.npy,AB.npy, samples[:SPLIT]",
    )
    build.add_argument(
        "--split",
        default=None,
        help="split to read (TFDS, samples) and to name the shards (default train)",
    )
    build.add_argument("--out", required=True, help="output directory")
    build.add_argument(
        "--size", type=int, default=64, help="square example size in pixels (default 64)"
    )
    build.add_argument(
        "--examples-per-shard",
        type=int,
        default=128,
        help="examples in every shard but the last (default 128, as report 000); skipped inputs "
        "are filled from the next ones",
    )
    build.add_argument(
        "--crops-per-image",
        type=int,
        default=1,
        help="examples cut from each source image (default 1)",
    )
    build.add_argument(
        "--crop",
        choices=["center", "random"],
        default=None,
        help="default: center for 1 crop, random for more",
    )
    build.add_argument(
        "--grey",
        choices=["skip", "flag", "keep"],
        default="skip",
        help="greyscale examples (default skip)",
    )
    build.add_argument(
        "--grey-threshold",
        type=float,
        default=2.0,
        help="an example is grey when the 99th percentile of its chroma sqrt(a^2+b^2) is below "
        "this (Lab units, default 2.0)",
    )
    build.add_argument(
        "--allow-upscale",
        action="store_true",
        help="upscale images smaller than --size instead of skipping them",
    )
    build.add_argument(
        "--compression",
        choices=["GZIP"],
        default=None,
        help="compress the shards (default: none; readers detect it)",
    )
    build.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the random crops; with the source and settings it fixes every byte "
        "(default 0)",
    )
    build.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that decode, crop and convert images while this one writes (default: the "
        f"usable cores, here {usable_cores()}); 1 does everything in one process; the shards are "
        "the same for any value",
    )
    build.add_argument(
        "--runner",
        choices=["local", "beam"],
        default="local",
        help="local (worker processes, default) or beam (Apache Beam; its options go after --)",
    )
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing build of this split made with other settings",
    )
    build.add_argument("--prior", action="store_true", help="compute the ab prior after building")
    build.add_argument("--data-dir", default=None, help="TFDS data_dir")
    build.add_argument(
        "--no-download", action="store_true", help="TFDS: use only an already prepared data_dir"
    )
    build.add_argument("--quiet", action="store_true", help="no progress lines")
    build.add_argument(
        "--progress-interval",
        type=float,
        default=None,
        help="seconds between progress lines (default 1 on a terminal, 10 otherwise)",
    )

    inspect = commands.add_parser(
        "inspect", help="counts, skipped items, prior plot and sample grid"
    )
    inspect.add_argument("dir", help="a shard directory (holding manifest.json)")
    inspect.add_argument("--split", default=None, help="default: every split")
    inspect.add_argument(
        "--plots", default=None, help="where to write the PNGs (default: the shard directory)"
    )
    inspect.add_argument("--no-prior", action="store_true", help="do not compute a missing prior")
    inspect.add_argument("--grid", type=int, default=8, help="examples in the sample grid")
    inspect.add_argument(
        "--max-skipped", type=int, default=20, help="skipped items listed per split"
    )
    return parser


def _build(args, beam_args=()):
    from data_pipeline.prior import compute_prior

    settings = dict(
        image_size=args.size,
        examples_per_shard=args.examples_per_shard,
        split=args.split,
        crops_per_image=args.crops_per_image,
        crop=args.crop,
        grey=args.grey,
        grey_threshold=args.grey_threshold,
        allow_upscale=args.allow_upscale,
        compression=args.compression,
        seed=args.seed,
        overwrite=args.overwrite,
        data_dir=args.data_dir,
        download=not args.no_download,
    )
    if args.runner == "beam":
        from data_pipeline.beam import write_shards_beam

        entry = write_shards_beam(args.source, args.out, pipeline_args=list(beam_args), **settings)
    else:
        from data_pipeline.writer import write_shards

        if beam_args:
            raise ValueError(
                "arguments after -- are Beam pipeline options; pass --runner beam. "
                f"Received: {list(beam_args)}"
            )
        entry = write_shards(
            args.source,
            args.out,
            workers=args.workers,
            progress=not args.quiet,
            progress_interval=args.progress_interval,
            **settings,
        )
    split = entry["shards"][0]["file"].rsplit("-", 3)[0] if entry["shards"] else args.split
    if args.prior:
        compute_prior(args.out, split=split)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "split": split,
                "num_examples": entry["num_examples"],
                "num_shards": entry["num_shards"],
                "num_skipped": entry["num_skipped"],
            }
        )
    )
    return 0


def sample_grid(directory, split, path, count=8):
    """A PNG of `count` examples (a seeded shuffle): colour on top, their L channel below."""
    from PIL import Image

    from colorization.color import l_ab_to_rgb_uint8
    from data_pipeline import iterate_numpy

    L, ab = next(
        iterate_numpy(directory, count, shuffle=True, seed=0, shuffle_buffer=1024, split=split)
    )
    colour = l_ab_to_rgb_uint8(L, ab)
    grey = np.repeat(np.clip(np.round(L * 2.55), 0, 255).astype(np.uint8), 3, axis=-1)
    size, gap = colour.shape[1], 2
    canvas = np.full((2 * size + 3 * gap, len(colour) * (size + gap) + gap, 3), 255, np.uint8)
    for i in range(len(colour)):
        x = gap + i * (size + gap)
        canvas[gap : gap + size, x : x + size] = colour[i]
        canvas[2 * gap + size : 2 * gap + 2 * size, x : x + size] = grey[i]
    scale = max(1, 96 // size)
    Image.fromarray(canvas).resize(
        (canvas.shape[1] * scale, canvas.shape[0] * scale), Image.Resampling.NEAREST
    ).save(path)
    return path


def _inspect(args):
    from data_pipeline import manifest as manifest_lib
    from data_pipeline.prior import compute_prior
    from data_pipeline.prior import plot_prior

    directory = pathlib.Path(args.dir)
    manifest = manifest_lib.load_manifest(directory)
    splits = [args.split] if args.split else sorted(manifest["splits"])
    plots = pathlib.Path(args.plots) if args.plots else directory
    plots.mkdir(parents=True, exist_ok=True)
    for split in splits:
        entry = manifest["splits"].get(split)
        if entry is None:
            raise SystemExit(
                f"error: {str(directory)!r} has no split {split!r}; "
                f"it holds {sorted(manifest['splits'])}."
            )
        counts = [s["count"] for s in entry["shards"]]
        print(
            f"== {split}: {entry['status']}, source {entry['source']}, "
            f"{entry['image_size']}px {entry['dtype']}"
        )
        of = (
            f"{len(counts)} of {entry['num_shards']}"
            if "num_shards" in entry
            else f"{len(counts)} finished"
        )
        print(
            f"   {sum(counts)} examples in {of} shards "
            f"(per shard: min {min(counts, default=0)}, max {max(counts, default=0)})"
        )
        skipped = [item for s in entry["shards"] for item in s["skipped"]]
        print(f"   skipped: {len(skipped)} items ({sum(i['examples'] for i in skipped)} examples)")
        for item in skipped[: args.max_skipped]:
            print(f"     {item['id']}: {item['reason']}")
        if len(skipped) > args.max_skipped:
            print(f"     ... and {len(skipped) - args.max_skipped} more (see manifest.json)")
        flagged = sum(len(s["flagged_grey"]) for s in entry["shards"])
        if flagged:
            print(f"   flagged grey: {flagged} examples")
        if entry["status"] != "complete":
            print("   (incomplete: re-run the same build to finish it)")
            continue
        prior = entry.get("ab_prior", {}).get("prior")
        if prior is None and not args.no_prior:
            prior = compute_prior(directory, split=split)
        if prior is not None:
            prior = np.asarray(prior)
            top = np.argsort(prior)[::-1][:3]
            print(
                f"   ab prior: {int((prior > 1e-4).sum())} of {len(prior)} bins above 1e-4; "
                f"most frequent bins {top.tolist()}"
            )
            print(f"   wrote {plot_prior(prior, plots / f'{split}_prior.png', title=split)}")
        if sum(counts):
            grid = min(args.grid, sum(counts))
            print(f"   wrote {sample_grid(directory, split, plots / f'{split}_samples.png', grid)}")
    return 0


def main(argv=None):
    """Entry point of the `colorization-data` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:  # build --runner beam ... -- <Beam pipeline options>
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = _parser().parse_args(argv)
    if extra and args.command != "build":
        raise SystemExit(
            "error: arguments after -- (Beam pipeline options) are only accepted by "
            "build --runner beam."
        )
    try:
        return _build(args, extra) if args.command == "build" else _inspect(args)
    except (FileNotFoundError, PermissionError, ValueError, RuntimeError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
