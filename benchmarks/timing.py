"""Timing shared by the benchmark scripts (run as `python benchmarks/NAME.py`)."""

import time


def best_time(fn, repeats=5):
    """Best wall time of `repeats` calls of `fn` after a warm-up call (compilation, caches)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
