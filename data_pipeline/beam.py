"""Shard building on Apache Beam: the shards and manifest of `write_shards`, on any Beam runner.

The steps of `data_pipeline.writer` (read its docstring), as a Beam pipeline:

    Create(item ranges) -> Reshuffle -> FlatMap(item outcomes)     [each item once, in parallel]
    outcomes -> (position, kept?) -> ToList -> plan the cut         [one small task]
    outcomes -> key by shard (plan: side input) -> GroupByKey
             -> write                                               [each shard once, in parallel]
    records -> ToList -> rename the staged shards, write manifest   [one task]

The driver plans with `writer.prepare_build` and the tasks call the local build's functions,
so the files are byte-identical to a local build's. Workers write with `os.replace` on local
paths, so the output directory must be mounted at one path on every worker (NFS, a
FUSE-mounted bucket), and the source readable from every worker. Needs the `beam` extra.

Example::

    colorization-data build --runner beam --source folder:/mnt/photos --out /mnt/shards \\
        --size 256 -- --runner=DirectRunner --direct_num_workers=4 \\
        --direct_running_mode=multi_processing
"""

import bisect

from data_pipeline import examples
from data_pipeline import manifest as manifest_lib
from data_pipeline import writer
from data_pipeline.examples import BuildConfig
from data_pipeline.examples import Example
from data_pipeline.examples import Skipped


class _ItemOutcomes:
    """Beam task: `(position, outcome)` of the items `[first, end)`, from the resume position on."""

    def __init__(self, source, config, start):
        self.source, self.config, self.start = source, config, start

    def __call__(self, item_range):
        first, end = item_range
        out = []
        for index, (item_id, payload) in enumerate(self.source.iter_range(first, end), first):
            outcomes = examples.item_examples(item_id, payload, self.config)
            out += [
                pair
                for pair in writer.positioned(index, outcomes, self.config.crops_per_image)
                if pair[0] >= self.start
            ]
        return out


class _PlanShards:
    """Beam task: the cut, `[(index, lo, hi), ...]`, from each position's kept-or-skipped."""

    def __init__(self, config, first_index, start, total):
        self.config, self.first_index, self.start, self.total = config, first_index, start, total

    def __call__(self, decisions):
        stream = (
            (p, Example(None, None, False) if kept else Skipped(None, None, 0))
            for p, kept in sorted(decisions)
        )
        cut = writer.cut_shards(
            stream, self.config.examples_per_shard, self.first_index, self.start, self.total
        )
        return [(index, lo, hi) for index, lo, hi, _ in cut]


class _KeyByShard:
    """Beam task: `(shard index, (position, outcome))` for the shard covering the position."""

    def __init__(self):
        self._plan = self._starts = None

    def __call__(self, pair, plan):
        if self._plan is not plan:
            self._plan, self._starts = plan, [lo for _, lo, _ in plan]
        return plan[bisect.bisect_right(self._starts, pair[0]) - 1][0], pair


class _WriteShard:
    """Beam task: writes one shard from its `(position, outcome)` pairs."""

    def __init__(self, config, out_dir, split):
        self.config, self.out_dir, self.split = config, out_dir, split

    def __call__(self, keyed, plan):
        index, pairs = keyed
        _, lo, hi = next(spec for spec in plan if spec[0] == index)
        outcomes = [outcome for _, outcome in sorted(pairs, key=lambda pair: pair[0])]
        return writer.write_shard(self.out_dir, self.split, self.config, index, lo, hi, outcomes)


class _WriteManifest:
    """The last Beam task: renames the staged shards and writes `manifest.json`."""

    def __init__(self, out_dir, split, identity, done):
        self.out_dir, self.split, self.identity, self.done = out_dir, split, identity, done

    def __call__(self, records, plan):
        shards = {r["index"]: r for r in [*self.done, *records]}
        missing = sorted({index for index, _, _ in plan} - set(shards))
        if missing:
            raise RuntimeError(
                f"Beam build of split {self.split!r}: shards {missing} were not built."
            )
        return writer.finish_build(self.out_dir, self.split, self.identity, list(shards.values()))[
            "num_shards"
        ]


def write_shards_beam(
    source,
    out_dir,
    image_size=64,
    examples_per_shard=128,
    *,
    split=None,
    overwrite=False,
    data_dir=None,
    download=True,
    pipeline_args=None,
    **settings,
):
    """`write_shards` on Apache Beam: the same arguments (but `workers`), files and manifest.

    Args:
        source, out_dir, image_size, examples_per_shard, split, overwrite,
            data_dir, download, **settings: as for `data_pipeline.write_shards`.
        pipeline_args: Beam pipeline options as command-line strings, e.g.
            `["--runner=DataflowRunner", "--project=...", "--region=..."]`;
            default: the DirectRunner.

    Returns:
        The split's manifest entry (a dict).

    Example (needs apache-beam):

    >>> import tempfile  # doctest: +SKIP
    >>> out = tempfile.mkdtemp()  # doctest: +SKIP
    >>> entry = write_shards_beam("samples:validation", out, image_size=32)  # doctest: +SKIP
    >>> entry["num_examples"]  # doctest: +SKIP
    3
    """
    try:
        import apache_beam as beam
    except ImportError:
        raise ImportError(
            "the Beam runner needs apache-beam: pip install 'colorization[beam]'."
        ) from None
    from apache_beam.options.pipeline_options import PipelineOptions

    config = BuildConfig(image_size=image_size, examples_per_shard=examples_per_shard, **settings)
    build = writer.prepare_build(
        source,
        out_dir,
        config,
        split=split,
        overwrite=overwrite,
        data_dir=data_dir,
        download=download,
    )
    if build.complete:
        return build.entry
    done, out_dir = list(build.done), str(build.out_dir)
    per_task = max(1, config.examples_per_shard // config.crops_per_image)
    first = build.position // config.crops_per_image
    item_ranges = [
        (start, min(start + per_task, len(build.source)))
        for start in range(first, len(build.source), per_task)
    ]
    with beam.Pipeline(options=PipelineOptions(list(pipeline_args or []))) as pipeline:
        outcomes = (
            pipeline
            | "ItemRanges" >> beam.Create(item_ranges)
            | "Spread" >> beam.Reshuffle()
            | "ItemOutcomes" >> beam.FlatMap(_ItemOutcomes(build.source, config, build.position))
        )
        plan = beam.pvalue.AsSingleton(
            outcomes
            | "Decisions" >> beam.Map(lambda pair: (pair[0], isinstance(pair[1], Example)))
            | "AllDecisions" >> beam.combiners.ToList()
            | "Cut" >> beam.Map(_PlanShards(config, len(done), build.position, build.total))
        )
        _ = (
            outcomes
            | "KeyByShard" >> beam.Map(_KeyByShard(), plan=plan)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.Map(_WriteShard(config, out_dir, build.split), plan=plan)
            | "Records" >> beam.combiners.ToList()
            | "Finish"
            >> beam.Map(_WriteManifest(out_dir, build.split, build.identity, done), plan=plan)
        )
    return manifest_lib.load_manifest(build.out_dir)["splits"][build.split]
