"""The progress line of a shard build: images/s, shards done / total, ETA.

One line per interval on stderr (rewritten in place on a terminal), one
closing line when the build ends, and one line saying what a re-run found.
The rate counts the images this run processed, over the time since the
build started (after TensorFlow was imported), so a resumed build is not
credited with the shards an earlier run wrote. The total number of shards
depends on how many inputs turn out to be skipped, so until the build ends
it is an estimate, shown as `~N`: the shards written plus the examples still
expected (the remaining positions times the fraction kept so far) divided by
the shard size.
"""

import math
import sys
import time


def _duration(seconds):
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class BuildProgress:
    """Progress reporting of one split's build.

    Args:
        split: the split's name, the prefix of every line.
        total_items: source items in the build.
        crops_per_image, examples_per_shard: the build settings.
        enabled: print anything at all.
        interval: seconds between progress lines (default: 1 on a
            terminal, 10 otherwise); 0 prints one line per processed block.
        stream: where to print (default `sys.stderr`).
    """

    def __init__(self, split, total_items, crops_per_image, examples_per_shard, enabled=True, interval=None, stream=None):
        self.split, self.total_items = split, total_items
        self.crops, self.per_shard = crops_per_image, examples_per_shard
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = (1.0 if self.tty else 10.0) if interval is None else float(interval)
        self.start = self.last = time.monotonic()
        self.first_item = 0
        self.items = self.shards = self.examples_before = self.kept = self.seen = 0
        self._open_line = False
        self.before_line = None  # called before a progress line (the writer waits for the shards in flight)

    def _write(self, line, final=True):
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if final else ""))
            self._open_line = not final
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def say(self, message):
        """One line of information (what a re-run found, what it resumes)."""
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self._write(f"[{self.split}] {message}")

    def resume_from(self, item, shards, examples):
        """Counts that an earlier run already produced (not part of this run's rate)."""
        self.first_item = self.items = item
        self.shards, self.examples_before = shards, examples
        self.start = self.last = time.monotonic()

    def rate(self):
        return (self.items - self.first_item) / max(time.monotonic() - self.start, 1e-9)

    def estimated_shards(self):
        positions_left = (self.total_items - self.items) * self.crops
        kept_fraction = self.kept / self.seen if self.seen else 1.0
        expected = self.examples_before + self.kept + positions_left * kept_fraction
        return max(self.shards + (1 if positions_left else 0), math.ceil(expected / self.per_shard), 1)

    def shard_written(self, shards):
        """Counts a written shard (no line: lines follow the processed images)."""
        self.shards = shards

    def update(self, items, kept, seen):
        """Records progress: `items` processed so far, `kept` of the `seen` positions this run decided.

        Prints a line when `interval` seconds have passed since the last one.
        """
        self.items, self.kept, self.seen = items, kept, seen
        now = time.monotonic()
        if not self.enabled or now - self.last < self.interval:
            return
        self.last = now
        if self.before_line is not None:
            self.before_line()
        rate = self.rate()
        left = self.total_items - self.items
        eta = _duration(left / rate) if rate > 0 else "?"
        self._write(
            f"[{self.split}] {self.items}/{self.total_items} images, {rate:.0f} images/s, "
            f"shards {self.shards}/~{self.estimated_shards()}, ETA {eta}",
            final=False,
        )

    def finish(self, entry, out_dir):
        """The closing line: what the build wrote, how long this run took, its rate."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        processed = self.items - self.first_item
        rates = f"{processed / elapsed:.0f} images/s"
        if self.crops > 1:
            rates += f", {(entry['num_examples'] - self.examples_before) / elapsed:.0f} examples/s"
        self._write(
            f"[{self.split}] done: {processed} images in {elapsed:.1f}s ({rates}); "
            f"{entry['num_examples']} examples in {entry['num_shards']} shards, {entry['num_skipped']} skipped, in {out_dir}"
        )
