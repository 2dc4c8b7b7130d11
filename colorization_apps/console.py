"""What the command line shows on a terminal: one-line errors, a progress bar, and no framework chatter.

TensorFlow 2.21 and XLA log from C++ through Abseil before Python can
configure anything: `WARNING: All log messages before absl::InitializeLog()
...`, `I0000 ... oneDNN custom operations are on`, `E0000 ... failed call to
cuInit` on machines without a GPU, and `XLA service ... initialized` at the
first compilation. `TF_CPP_MIN_LOG_LEVEL` no longer silences them, and
Abseil reads no environment variable before it is initialised, so
`framework_logs_hidden` points file descriptor 2 at a scratch file while the
frameworks run and keeps Python's `sys.stderr` (the command line's own
messages, Python warnings, tracebacks) on the real stderr.
"""

import contextlib
import logging
import os
import sys
import tempfile
import time

FRAMEWORK_LOGGERS = ("tensorflow", "absl", "jax", "h5py")


def one_line(text, limit=500):
    """`text` on one line (whitespace runs collapsed), cut to `limit` characters.

    >>> one_line("a\\n  b\\tc")
    'a b c'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error(message):
    """Prints `error: message` as one line on stderr."""
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def _writes_to_descriptor_2(stream):
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False  # e.g. pytest's capture: it is not file descriptor 2


@contextlib.contextmanager
def framework_logs_hidden(verbose=False):
    """Hides what TensorFlow, XLA and Abseil write to file descriptor 2, unless `verbose`.

    Inside the block, descriptor 2 goes to an anonymous scratch file (deleted
    when the block ends); `sys.stderr`, when it wrote to descriptor 2, is
    re-opened on a copy of the real stderr, so Python-level output still
    reaches the user. The frameworks' Python loggers are set to ERROR for the
    block.
    """
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    levels = {name: logging.getLogger(name).level for name in FRAMEWORK_LOGGERS}
    for name in FRAMEWORK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    original_stream = sys.stderr
    try:
        original_stream.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no stderr to protect (a daemon, a closed descriptor)
        saved = None
    if saved is None:
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
        return
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        if _writes_to_descriptor_2(original_stream):
            sys.stderr = open(  # noqa: SIM115  (closed below; the descriptor stays open)
                saved, "w", buffering=1, encoding=getattr(original_stream, "encoding", None) or "utf-8",
                errors="backslashreplace", closefd=False,
            )
        try:
            yield
        finally:
            if sys.stderr is not original_stream:
                sys.stderr.flush()
                sys.stderr.close()
                sys.stderr = original_stream
            os.dup2(saved, 2)
            os.close(saved)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def format_duration(seconds):
    """`seconds` as `42 s`, `3:07` or `1:02:03`.

    >>> format_duration(42.4), format_duration(187), format_duration(3723)
    ('42 s', '3:07', '1:02:03')
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


class Progress:
    """Progress through `total` items with a rate and an ETA, on stderr.

    On a terminal it is one bar redrawn in place; elsewhere (a log file, a
    pipe) plain lines, at most one every `interval` seconds plus the last.
    `note` prints a message above the bar.

    Args:
        total: the number of items.
        unit: what an item is called in the rate (`"images"`).
        enabled: False draws nothing (`note` still prints).
        interval: seconds between plain lines when not on a terminal.
    """

    def __init__(self, total, unit="images", enabled=True, interval=5.0):
        self.total, self.unit, self.enabled, self.interval = total, unit, enabled, interval
        self.done = 0
        self.start = time.monotonic()
        self._last_line = None
        self._bar_shown = False

    @property
    def _terminal(self):
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def _text(self, bar):
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        percent = 100.0 * self.done / self.total if self.total else 100.0
        eta = "" if left is None or self.done >= self.total else f", ETA {format_duration(left)}"
        if bar:
            filled = int(30 * self.done / self.total) if self.total else 30
            return (f"{self.done}/{self.total} [{'#' * filled}{'.' * (30 - filled)}] {percent:3.0f}%, "
                    f"{rate:.2f} {self.unit}/s{eta}")
        return f"{self.done}/{self.total} {self.unit} ({percent:.0f}%), {rate:.2f} {self.unit}/s{eta}"

    def update(self, done):
        """Moves to `done` items."""
        self.done = done
        if not self.enabled:
            return
        if self._terminal:
            sys.stderr.write("\r\033[K" + self._text(bar=True))
            sys.stderr.flush()
            self._bar_shown = True
            return
        now = time.monotonic()
        if self._last_line is None or now - self._last_line >= self.interval or done >= self.total:
            print(self._text(bar=False), file=sys.stderr, flush=True)
            self._last_line = now

    def note(self, message):
        """Prints `message` (one line, on stderr) without breaking the bar."""
        if self._bar_shown:
            sys.stderr.write("\r\033[K")
        print(message, file=sys.stderr, flush=True)
        if self._bar_shown:
            sys.stderr.write(self._text(bar=True))
            sys.stderr.flush()

    def close(self):
        """Ends the bar's line."""
        if self._bar_shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._bar_shown = False
