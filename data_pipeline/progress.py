"""Progress with a rate and an ETA, and durations as people read them; used by every command.

On a terminal one line redrawn in place; elsewhere plain lines, at most one every `interval`
seconds. The rate counts only this run's items, so a resumed job's ETA stays honest.
"""

import sys
import time


def format_duration(seconds):
    """`seconds` as `42 s`, `3:07` or `1:02:03`.

    >>> format_duration(42.4), format_duration(187), format_duration(3723)
    ('42 s', '3:07', '1:02:03')
    """
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class Progress:
    """Progress through `total` items with a rate and an ETA, on stderr.

    Args:
        total: the number of items.
        unit: what an item is called (`"images"`).
        enabled: False prints nothing but `note`s.
        interval: seconds between plain lines (not on a terminal); 0 prints
            a line at every `update`.
        prefix: text before every line, e.g. `"[train] "`.
        initial: items already done before this run (not in the rate).

    Example:

    >>> progress = Progress(4, enabled=False)
    >>> progress.update(2, detail=", 1 shard")
    >>> progress.line().split(", ")[:2]
    ['2/4 images (50%)', '1 shard']
    """

    _REDRAW_S = 0.1  # a terminal line is redrawn at most this often

    def __init__(self, total, unit="images", enabled=True, interval=5.0, prefix="", initial=0):
        self.total, self.unit, self.enabled, self.interval, self.prefix = (
            total,
            unit,
            enabled,
            interval,
            prefix,
        )
        self.initial = self.done = initial
        self.detail = ""
        self.start = time.monotonic()
        self._last = None
        self._bar_shown = False

    @staticmethod
    def _terminal():
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def rate(self):
        """Items per second of this run."""
        return (self.done - self.initial) / max(time.monotonic() - self.start, 1e-9)

    def line(self, bar=False):
        """The progress text: counts, percentage (or a bar), rate and ETA."""
        rate = self.rate()
        percent = 100.0 * self.done / self.total if self.total else 100.0
        eta = ""
        if self.done < self.total:
            eta = (
                f", ETA {format_duration((self.total - self.done) / rate)}"
                if rate > 0
                else ", ETA ?"
            )
        if bar:
            filled = int(30 * min(percent, 100) / 100)
            counts = (
                f"{self.done}/{self.total} [{'#' * filled}{'.' * (30 - filled)}] {percent:3.0f}%"
            )
        else:
            counts = f"{self.done}/{self.total} {self.unit} ({percent:.0f}%)"
        return f"{self.prefix}{counts}{self.detail}, {rate:.2f} {self.unit}/s{eta}"

    def update(self, done, detail=None):
        """Moves to `done` items; `detail` (e.g. `", shards 3/~10"`) goes after the counts."""
        self.done = done
        if detail is not None:
            self.detail = detail
        if not self.enabled:
            return
        now = time.monotonic()
        if self._terminal():
            if self._last is None or now - self._last >= self._REDRAW_S or done >= self.total:
                sys.stderr.write("\r\033[K" + self.line(bar=True))
                sys.stderr.flush()
                self._bar_shown, self._last = True, now
        elif self._last is None or now - self._last >= self.interval or done >= self.total:
            print(self.line(), file=sys.stderr, flush=True)
            self._last = now

    def note(self, message):
        """Prints `message` (one line, on stderr) without breaking the bar."""
        if self._bar_shown:
            sys.stderr.write("\r\033[K")
        print(message, file=sys.stderr, flush=True)
        if self._bar_shown:
            sys.stderr.write(self.line(bar=True))
            sys.stderr.flush()

    def close(self):
        """Ends the bar's line."""
        if self._bar_shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._bar_shown = False
