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

from data_pipeline import manifest as manifest_lib
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

    config = writer.make_config(
        image_size, examples_per_shard, crops_per_image, crop, crop_scale, grey, grey_threshold,
        allow_upscale, compression, seed,
    )
    build = writer.prepare_build(source, out_dir, config, split=split, overwrite=overwrite, data_dir=data_dir, download=download)
    if build.complete:
        return build.entry
    done = sorted(build.done.values(), key=lambda record: record["index"])

    options = PipelineOptions(list(pipeline_args or []))
    with beam.Pipeline(options=options) as pipeline:
        _ = (
            pipeline
            | "ShardIndices" >> beam.Create(build.pending)
            | "Spread" >> beam.Reshuffle()
            | "BuildShard" >> beam.Map(_BuildShard(build.source, config, build.num_shards, str(build.out_dir)))
            | "Collect" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(_WriteManifest(str(build.out_dir), build.split, build.identity, done))
        )
    return manifest_lib.load_manifest(build.out_dir)["splits"][build.split]
