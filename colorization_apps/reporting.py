"""Plain-text tables and JSON-safe values for the scores the command line and the demo print.

Both `colorization_apps.cli` (`evaluate`) and `colorization_apps.demo` report metric
rows keyed by model name; they share these helpers so that imports run one
way: the command line on top, the demo below it, this module at the bottom.
"""

import math

METRIC_COLUMNS = ("auc", "auc_rebalanced", "psnr", "ssim", "colorfulness", "colorfulness_true")


def json_safe(value):
    """`value`, with a non-finite float replaced by None (JSON has no NaN or infinity).

    >>> json_safe(float("nan")) is None, json_safe(0.5)
    (True, 0.5)
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_safe_rows(rows):
    """`{name: {metric: value}}` with every non-finite float replaced by None."""
    return {
        name: {key: json_safe(value) for key, value in row.items()} for name, row in rows.items()
    }


def format_table(rows, columns=METRIC_COLUMNS):
    """A plain-text table of metric dicts keyed by model name.

    Columns absent from every row are left out; a value missing from one row
    (or None) shows as `-`.

    >>> print(format_table({"a": {"auc": 0.5}, "bb": {"auc": None, "psnr": 20.0}}))
    model                auc               psnr
    a                 0.5000                  -
    bb                     -            20.0000
    """
    columns = [c for c in columns if any(c in r for r in rows.values())]
    width = max([len("model")] + [len(name) for name in rows])
    lines = ["  ".join([f"{'model':<{width}}"] + [f"{c:>17}" for c in columns])]
    for name, row in rows.items():
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append(f"{'-':>17}" if v is None else f"{v:>17.4f}")
        lines.append("  ".join([f"{name:<{width}}"] + cells))
    return "\n".join(lines)
