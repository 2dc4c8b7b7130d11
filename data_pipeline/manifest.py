"""`manifest.json`: what a shard directory holds, written atomically.

Layout::

    {"format": "colorization-lab-tfrecord", "version": 1,
     "splits": {"train": {"status": "complete" | "building",
                          "source": ..., "image_size": 64, "dtype": "float16",
                          "config": {...build settings...},
                          "num_shards": n, "num_examples": ..., "num_skipped": ...,
                          "shards": [{"index", "file", "count", "bytes", "sha256", "positions",
                                      "skipped": [{"id", "reason", "examples"}],
                                      "flagged_grey": [...]}],
                          "skipped": [...every skipped item...],
                          "ab_prior": {...} (once computed)}}}

It holds no timestamps, host names or timings, so a resumed build ends with
a manifest equal to an uninterrupted build's.
"""

import hashlib
import json
import os
import pathlib

MANIFEST_NAME = "manifest.json"
FORMAT = "colorization-lab-tfrecord"
VERSION = 1


def manifest_path(directory):
    """The path of `directory`'s manifest."""
    return pathlib.Path(directory) / MANIFEST_NAME


def load_manifest(directory, required=True):
    """The manifest of `directory`; an empty one if there is none and it is not `required`."""
    path = manifest_path(directory)
    if not path.is_file():
        if required:
            raise FileNotFoundError(
                f"{str(path)!r} not found: {str(directory)!r} is not a shard directory "
                "built by data_pipeline."
            )
        return {"format": FORMAT, "version": VERSION, "splits": {}}
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT:
        raise ValueError(
            f"{str(path)!r} is not a data_pipeline manifest (format={manifest.get('format')!r})."
        )
    return manifest


def save_manifest(directory, manifest):
    """Writes `manifest.json` via a temporary file and an atomic rename."""
    path = manifest_path(directory)
    tmp = path.with_name(f".{MANIFEST_NAME}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_file(path):
    """The sha256 of a file, hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def select_split(manifest, split, directory):
    """The entry of `split` (or of the only split when `split` is None)."""
    splits = manifest.get("splits", {})
    if split is None:
        if len(splits) != 1:
            raise ValueError(
                f"{str(directory)!r} holds splits {sorted(splits)}; pass split=... to choose one."
            )
        split = next(iter(splits))
    if split not in splits:
        raise ValueError(f"{str(directory)!r} has no split {split!r}; it holds {sorted(splits)}.")
    entry = splits[split]
    if entry.get("status") != "complete":
        raise ValueError(
            f"split {split!r} in {str(directory)!r} is not complete "
            f"(status {entry.get('status')!r}); "
            "re-run the same build to finish it."
        )
    return split, entry


def verify_split(directory, split, entry, verify="size"):
    """Checks that the files on disk are the shards the manifest lists.

    `verify="size"` checks each listed shard's byte size and that no unlisted shard of the
    split lies beside them; `"checksum"` also each sha256; `"none"` nothing. Raises
    ValueError naming the first shard that disagrees.
    """
    if verify not in ("none", "size", "checksum"):
        raise ValueError(
            f"verify must be 'none', 'size' or 'checksum'; received verify={verify!r}."
        )
    directory = pathlib.Path(directory)
    paths = []
    for shard in entry["shards"]:
        path = directory / shard["file"]
        paths.append(path)
        if verify == "none":
            continue
        if not path.is_file():
            raise ValueError(
                f"shard {shard['file']!r} listed in the manifest of {str(directory)!r} is missing."
            )
        size = path.stat().st_size
        if size != shard["bytes"]:
            raise ValueError(
                f"shard {shard['file']!r} in {str(directory)!r} has {size} bytes but the manifest "
                f"records {shard['bytes']}."
            )
        if verify == "checksum" and sha256_file(path) != shard["sha256"]:
            raise ValueError(
                f"shard {shard['file']!r} in {str(directory)!r} does not match its manifest sha256."
            )
    if verify != "none":
        listed = {shard["file"] for shard in entry["shards"]}
        for path in sorted(directory.glob(f"{split}-*-of-*.tfrecord")):
            if path.name not in listed:
                raise ValueError(
                    f"shard {path.name!r} in {str(directory)!r} is not listed in its manifest."
                )
    return paths
