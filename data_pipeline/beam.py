"""Shard building on Apache Beam: the same shards and manifest as `write_shards`, on any Beam runner.

It follows the design of `data_pipeline.writer` (read its docstring): blocks
of `examples_per_shard` planned positions are processed independently, and
the kept examples are then cut into shards of exactly `examples_per_shard`.
On Beam that is

    Create(pending blocks) -> Reshuffle -> FlatMap(block outcomes)        [every block once, in parallel]
    outcomes -> (position, kept?) -> ToList -> plan the cut                [one small task]
    outcomes -> key by shard (plan as side input) -> GroupByKey -> write   [every shard once, in parallel]
    records -> ToList -> rename staged shards, write manifest              [one task]

The driver plans the build (settings, which shards a previous run already
finished and checksummed, where to resume) exactly as `write_shards` does,
with the same `prepare_build`, and every task calls the same functions
(`writer.block_outcomes`, `writer.cut_shards`, `writer.write_shard`,
`writer.finish_build`), so the result is byte-identical to the local build:
same shard files, same manifest. Shards are written under a temporary name
and renamed, so a retried or speculative task leaves no partial file. The
serialised examples pass through one shuffle (GroupByKey), as in TFDS's
Beam builders.

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

import bisect

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


class _BlockOutcomes:
    """Beam task: the outcomes (kept examples, skipped inputs) of one block, from the resume position on."""

    def __init__(self, source, config, start):
        self.source, self.config, self.start = source, config, start

    def __call__(self, block):
        return [o for o in writer.block_outcomes(self.source, self.config, int(block)) if o.position >= self.start]


class _PlanShards:
    """Beam task: the cut, `[(index, lo, hi), ...]`, from every position's kept/skipped decision."""

    def __init__(self, config, first_index, start, total):
        self.config, self.first_index, self.start, self.total = config, first_index, start, total

    def __call__(self, decisions):
        stream = (
            writer.Kept(position, None, None, False) if kept else writer.Skipped(position, None)
            for position, kept in sorted(decisions)
        )
        cut = writer.cut_shards(stream, self.config.examples_per_shard, self.first_index, self.start, self.total)
        return [(index, lo, hi) for index, lo, hi, _ in cut]


class _KeyByShard:
    """Beam task: `(shard index, outcome)` for the shard whose positions cover the outcome's."""

    def __init__(self):
        self._starts = None

    def __call__(self, outcome, plan):
        if self._starts is None or len(self._starts) != len(plan):
            self._starts = [lo for _, lo, _ in plan]
        return plan[bisect.bisect_right(self._starts, outcome.position) - 1][0], outcome


class _WriteShard:
    """Beam task: write one shard from its outcomes (sorted by position)."""

    def __init__(self, config, out_dir, split):
        self.config, self.out_dir, self.split = config, out_dir, split

    def __call__(self, keyed, plan):
        index, outcomes = keyed
        _, lo, hi = next(spec for spec in plan if spec[0] == index)
        outcomes = sorted(outcomes, key=lambda outcome: outcome.position)
        return writer.write_shard(self.out_dir, self.split, self.config, index, lo, hi, outcomes)


class _WriteManifest:
    """The final Beam task: rename the staged shards and write `manifest.json`."""

    def __init__(self, out_dir, split, identity, done):
        self.out_dir, self.split, self.identity, self.done = out_dir, split, identity, done

    def __call__(self, records, plan):
        shards = {r["index"]: r for r in self.done}
        shards.update({r["index"]: r for r in records})
        missing = sorted({index for index, _, _ in plan} - set(shards))
        if missing:
            raise RuntimeError(f"Beam build of split {self.split!r}: shards {missing} were not built.")
        return writer.finish_build(self.out_dir, self.split, self.identity, list(shards.values()))["num_shards"]


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
    done = list(build.done)
    out_dir = str(build.out_dir)
    options = PipelineOptions(list(pipeline_args or []))
    with beam.Pipeline(options=options) as pipeline:
        outcomes = (
            pipeline
            | "Blocks" >> beam.Create(list(range(build.first_block, build.num_blocks)))
            | "Spread" >> beam.Reshuffle()
            | "BlockOutcomes" >> beam.FlatMap(_BlockOutcomes(build.source, config, build.position))
        )
        plan = (
            outcomes
            | "Decisions" >> beam.Map(lambda outcome: (outcome.position, isinstance(outcome, writer.Kept)))
            | "AllDecisions" >> beam.combiners.ToList()
            | "Cut" >> beam.Map(_PlanShards(config, len(done), build.position, build.total))
        )
        plan_view = beam.pvalue.AsSingleton(plan)
        _ = (
            outcomes
            | "KeyByShard" >> beam.Map(_KeyByShard(), plan=plan_view)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.Map(_WriteShard(config, out_dir, build.split), plan=plan_view)
            | "Records" >> beam.combiners.ToList()
            | "Finish" >> beam.Map(_WriteManifest(out_dir, build.split, build.identity, done), plan=plan_view)
        )
    return manifest_lib.load_manifest(build.out_dir)["splits"][build.split]
