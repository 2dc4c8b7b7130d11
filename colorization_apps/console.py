"""What the command line shows on a terminal: one-line errors, a progress bar, no framework logs.

TensorFlow and XLA log from C++ through Abseil before Python can configure
anything, and `TF_CPP_MIN_LOG_LEVEL` does not silence all of it, so
`framework_logs_hidden` points file descriptor 2 at a scratch file while the
frameworks run and keeps Python's `sys.stderr` (the command's own messages,
warnings, tracebacks) on the real stderr.
"""

import contextlib
import logging
import os
import sys
import tempfile

from data_pipeline.progress import Progress  # noqa: F401 (the commands' progress and durations)
from data_pipeline.progress import format_duration  # noqa: F401 (the commands' progress and durations)

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
    except (
        AttributeError,
        OSError,
        ValueError,
    ):  # no stderr to protect (a daemon, a closed descriptor)
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
                saved,
                "w",
                buffering=1,
                encoding=getattr(original_stream, "encoding", None) or "utf-8",
                errors="backslashreplace",
                closefd=False,
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
