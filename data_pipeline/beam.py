"""Shard building on Apache Beam: the same shards and manifest as `write_shards`, on any Beam runner.

`build_shard` is a pure function of (source, build settings, shard index), so
the pipeline is a map over shard indices:

    Create(pending indices) -> Reshuffle -> Map(build_shard) -> ToList -> write manifest

The driver plans the build (settings, number of shards, which shards a
previous run already finished and checksummed) exactly as `write_shards`
does; the workers each build whole shards (written under a temporary name and
renamed, so a retried or speculative task leaves no partial file); one final
task writes `manifest.json` from the shard records. The result is
byte-identical to the local build: same shard files, same manifest.

Runners: the DirectRunner runs locally (the default); the same code runs on
Dataflow, Flink or Spark with their pipeline options. The workers write with
`tf.io.TFRecordWriter`, `os.replace` and local paths, so the output directory
must be a filesystem every worker mounts at the same path (NFS, Filestore, a
FUSE-mounted bucket), and the source must be readable from every worker.

Example::

    python -m data_pipeline build --runner beam --source folder:/mnt/photos --out /mnt/shards --size 256 \\
        -- --runner=DirectRunner --direct_num_workers=4 --direct_running_mode=multi_processing

Needs the `beam` extra (`pip install "colorization[beam]"`, i.e. apache-beam).
"""

from data_pipeline import features
from data_pipeline import manifest as manifest_lib
from data_pipeline import sources as sources_lib
from data_pipeline import writer


def _import_beam():
    try:
        import apache_beam
    except ImportError:
        raise ImportError(
            "the Beam runner needs apache-beam: pip install apache-beam (or the colorization[beam] extra)."
        ) from None
    return apache_beam


class _BuildShard:
    """The Beam task: build one shard (picklable; the source travels with it)."""

    def __init__(self, source, config, num_shards, out_dir):
        self.source, self.config, self.num_shards, self.out_dir = source, config, num_shards, out_dir

    def __call__(self, index):
        return writer.build_shard(self.source, self.config, int(index), self.num_shards, self.out_dir)


class _WriteManifest:
    """The final Beam task: merge the finished shards' records into `manifest.json`."""

    def __init__(self, out_dir, split, identity, done):
        self.out_dir, self.split, self.identity, self.done = out_dir, split, identity, done

    def __call__(self, records):
        shards = {r["index"]: r for r in self.done}
        shards.update({r["index"]: r for r in records})
        missing = sorted(set(range(self.identity["num_shards"])) - set(shards))
        if missing:
            raise RuntimeError(f"Beam build of split {self.split!r}: shards {missing} were not built.")
        manifest = manifest_lib.load_manifest(self.out_dir, required=False)
        entry = dict(self.identity, status="building", shards=list(shards.values()))
        manifest["splits"][self.split] = writer._finalise(entry)
        manifest_lib.save_manifest(self.out_dir, manifest)
        return len(shards)


def write_shards_beam(
    source,
    out_dir,
    image_size=64,
    examples_per_shard=128,
    *,
    split=None,
    crops_per_image=1,
    crop=None,
    crop_scale=(0.25, 1.0),
    grey="skip",
    grey_threshold=2.0,
    allow_upscale=False,
    compression=None,
    seed=0,
    overwrite=False,
    data_dir=None,
    download=True,
    pipeline_args=None,
):
    """`write_shards` on Apache Beam; same arguments, same files, same manifest.

    Args:
        source, out_dir, image_size, examples_per_shard, split,
            crops_per_image, crop, crop_scale, grey, grey_threshold,
            allow_upscale, compression, seed, overwrite, data_dir, download:
            as for `data_pipeline.write_shards`.
        pipeline_args: Beam pipeline options as command-line strings, e.g.
            `["--runner=DataflowRunner", "--project=...", "--region=..."]`;
            default: the DirectRunner.

    Returns:
        The split's manifest entry (a dict), read back from `manifest.json`.

    Example (needs apache-beam):

    >>> import tempfile  # doctest: +SKIP
    >>> from data_pipeline.beam import write_shards_beam  # doctest: +SKIP
    >>> write_shards_beam("samples:validation", tempfile.mkdtemp(), image_size=32)["num_examples"]  # doctest: +SKIP
    3
    """
    beam = _import_beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    config = writer.BuildConfig(
        image_size=int(image_size),
        examples_per_shard=int(examples_per_shard),
        crops_per_image=int(crops_per_image),
        crop=crop or ("center" if int(crops_per_image) == 1 else "random"),
        crop_scale=tuple(crop_scale),
        grey=grey,
        grey_threshold=float(grey_threshold),
        allow_upscale=bool(allow_upscale),
        compression=compression.upper() if isinstance(compression, str) else compression,
        seed=int(seed),
    )
    source = sources_lib.from_spec(source, split=split, data_dir=data_dir, download=download)
    out_dir = writer._check_writable(out_dir)
    total, num_shards = writer.plan(source, config)
    if total == 0:
        raise ValueError(f"source {source.spec!r} has no items.")
    split = source.split
    # The same identity, resume and overwrite rules as writer.write_shards.
    identity = {
        "source": source.spec,
        "image_size": config.image_size,
        "dtype": features.STORAGE_DTYPE_NAME,
        "config": config.to_json(),
        "num_shards": num_shards,
        "num_planned": total,
    }
    manifest = manifest_lib.load_manifest(out_dir, required=False)
    entry = manifest["splits"].get(split)
    if entry is not None and any(entry.get(k) != v for k, v in identity.items()):
        if not overwrite:
            raise ValueError(
                f"{str(out_dir)!r} already holds split {split!r} built from {entry.get('source')!r} with other "
                "settings; pass overwrite=True (--overwrite) or choose another directory."
            )
        for path in out_dir.glob(f"{split}-*-of-*.tfrecord"):
            path.unlink()
        entry = None
    if entry is not None and entry.get("status") == "complete":
        manifest_lib.verify_split(out_dir, split, entry, verify="checksum")
        return entry
    for path in [*out_dir.glob(f".{split}-*.tfrecord.tmp-*"), *out_dir.glob(f".{manifest_lib.MANIFEST_NAME}.tmp-*")]:
        path.unlink(missing_ok=True)
    done = []
    for record in (entry or {}).get("shards", []):
        path = out_dir / record["file"]
        if path.is_file() and path.stat().st_size == record["bytes"] and manifest_lib.sha256_file(path) == record["sha256"]:
            done.append(record)
    manifest["splits"][split] = dict(identity, status="building", shards=sorted(done, key=lambda s: s["index"]))
    manifest_lib.save_manifest(out_dir, manifest)
    pending = sorted(set(range(num_shards)) - {r["index"] for r in done})

    options = PipelineOptions(list(pipeline_args or []))
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | "ShardIndices" >> beam.Create(pending)
            | "Spread" >> beam.Reshuffle()
            | "BuildShard" >> beam.Map(_BuildShard(source, config, num_shards, str(out_dir)))
            | "Collect" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(_WriteManifest(str(out_dir), split, identity, done))
        )
    return manifest_lib.load_manifest(out_dir)["splits"][split]
