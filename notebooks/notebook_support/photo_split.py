"""The documented split of a folder of real photos into training and validation photos.

The notebooks use `../shared/photos/imagenet-800`, 800 ImageNet photographs, one per class.
Sorted by file name (WordNet id first), the photo at index `i` is a validation photo when
`i % 7 == 0` (115 photos, 112 in colour), else a training photo (685, 667 in colour); so the
validation photos are of classes never trained on. The shard builder skips greyscale photos.

`load_split` builds the split's shards with `write_shards` and returns NumPy arrays.
"""

import os
import pathlib
import tempfile

import numpy as np

from data_pipeline import sources

VALIDATION_EVERY = 7
PHOTOS_ENV = "COLORIZATION_PHOTOS"
SPLITS = sources.EveryNth.SPLITS


def default_photo_folder():
    """`$COLORIZATION_PHOTOS`, else `../shared/photos/imagenet-800` beside the repository."""
    if os.environ.get(PHOTOS_ENV):
        return pathlib.Path(os.environ[PHOTOS_ENV]).expanduser()
    return pathlib.Path(__file__).resolve().parents[3] / "shared" / "photos" / "imagenet-800"


def find_photo_folder(folder=None):
    """The photo folder if it exists and holds images, else None."""
    folder = pathlib.Path(folder).expanduser() if folder is not None else default_photo_folder()
    if folder.is_dir() and any(folder.glob("*.jpg")):
        return folder
    return None


def photo_source(split, folder=None, limit=None, every=VALIDATION_EVERY):
    """The training or validation photos of the folder as a `write_shards` source.

    Args:
        split: "train" or "validation".
        folder: the photo folder (default `default_photo_folder()`).
        limit: keep only the first `limit` photos of the split (SMOKE runs).
        every: one photo in `every` (by sorted name) is a validation photo.

    Raises:
        FileNotFoundError: naming the folder and how to point to another one.
    """
    found = find_photo_folder(folder)
    if found is None:
        where = folder if folder is not None else default_photo_folder()
        raise FileNotFoundError(
            f"photo folder {str(where)!r} is absent or holds no .jpg photos; "
            f"set {PHOTOS_ENV} to a folder of colour photos."
        )
    source = sources.every_nth(sources.image_folder(found), split, every)
    return source if limit is None else sources.first_n(source, limit, split=split)


def load_split(
    split,
    image_size,
    folder=None,
    limit=None,
    crops_per_image=1,
    crop=None,
    crop_scale=(0.25, 1.0),
    seed=0,
    shard_dir=None,
):
    """The split's photos as CIELAB arrays `(L, ab, ids)`, through the shard builder.

    Args:
        split: "train" or "validation".
        image_size: side of the square crops, resized (e.g. 64 for report 000).
        folder, limit: see `photo_source`.
        crops_per_image, crop, crop_scale, seed: see `write_shards`.
        shard_dir: where the shards go (default: a new temporary folder); an existing build
            with the same settings is reused.

    Returns:
        `L` float32 `(N, S, S, 1)`, `ab` float32 `(N, S, S, 2)` and the ids (file names).

    Example:

    >>> from notebook_support import photo_split
    >>> if photo_split.find_photo_folder():  # needs ../shared/photos
    ...     L, ab, ids = photo_split.load_split("validation", 32, limit=3)
    ...     print(L.shape, ab.shape, ids[0])
    (3, 32, 32, 1) (3, 32, 32, 2) n01443537_goldfish.jpg
    """
    from data_pipeline import iterate_numpy
    from data_pipeline import write_shards

    shard_dir = (
        pathlib.Path(shard_dir)
        if shard_dir is not None
        else pathlib.Path(tempfile.mkdtemp(prefix="photos_"))
    )
    write_shards(
        photo_source(split, folder=folder, limit=limit),
        shard_dir,
        image_size=image_size,
        crops_per_image=crops_per_image,
        crop=crop,
        crop_scale=crop_scale,
        seed=seed,
        split=split,
    )
    L, ab, ids = [], [], []
    for batch_L, batch_ab, batch_ids in iterate_numpy(
        shard_dir, 256, shuffle=False, split=split, with_ids=True
    ):
        L.append(batch_L), ab.append(batch_ab), ids.extend(batch_ids)
    return np.concatenate(L), np.concatenate(ab), ids
