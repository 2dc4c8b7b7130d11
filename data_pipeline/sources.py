"""Sources of images: each is a sorted, indexable list of items with stable ids.

A source knows its `split`, its length, a canonical `spec` string (recorded in the manifest)
and `iter_range(start, stop)`, which yields `(item_id, payload)` for items `start..stop-1`. A
payload is an encoded image (path), an RGB array, a `LabImage`, or a `SkipItem` with the reason
the item cannot be used. Items are addressed by index, so a build reads only what it needs.

Spec strings (used by `write_shards` and the CLI):
`tfds:NAME[:SPLIT]`, `folder:PATH`, `npy:L.npy,AB.npy[,AB2.npy...]`,
`samples[:SPLIT]`.
"""

import dataclasses
import os
import pathlib
import re
import threading

import numpy as np


class SkipItem(Exception):
    """An item that cannot become an example, and why; a source may yield one as a payload."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class LabImage:
    """An image already in CIELAB units, float32 `(H, W, 3)`."""

    lab: np.ndarray


class ImageFolder:
    """Every image file under `path`, recursively, sorted by relative path.

    Files are chosen by any extension Pillow registers; hidden files and folders are ignored.
    An unreadable image is skipped at build time with its reason.
    """

    def __init__(self, path, split="train"):
        from PIL import Image

        self.root = pathlib.Path(path).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"image folder source: {str(self.root)!r} does not exist or is not a directory."
            )
        extensions = {ext.lower() for ext in Image.registered_extensions()}
        files = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if not name.startswith(".") and os.path.splitext(name)[1].lower() in extensions:
                    files.append(pathlib.Path(dirpath, name).relative_to(self.root).as_posix())
        if not files:
            raise FileNotFoundError(
                f"image folder source: no image files found under {str(self.root)!r}."
            )
        self.files = sorted(files)
        self.split = split
        self.spec = f"folder:{self.root.resolve()}"

    def __len__(self):
        return len(self.files)

    def iter_range(self, start, stop):
        for rel in self.files[start:stop]:
            yield rel, self.root / rel


class NumpyLab:
    """Report 002's layout: 8-bit L and ab arrays in OpenCV's Lab scaling.

    Inverts OpenCV's L8 = L * 255 / 100, a8 = a + 128, b8 = b + 128. Several ab files (report
    002's Kaggle set splits ab into three) are concatenated in order.

    Args:
        l_path: `.npy` of uint8, shape (N, H, W) or (N, H, W, 1).
        ab_path: one path or a list of paths to `.npy` uint8 (n_i, H, W, 2).
    """

    def __init__(self, l_path, ab_path, split="train"):
        ab_paths = [ab_path] if isinstance(ab_path, (str, os.PathLike)) else list(ab_path)
        for path in [l_path, *ab_paths]:
            if not pathlib.Path(path).is_file():
                raise FileNotFoundError(f"npy source: {str(path)!r} does not exist.")
        self.L = np.load(l_path, mmap_mode="r")
        self.abs = [np.load(p, mmap_mode="r") for p in ab_paths]
        if self.L.ndim == 4 and self.L.shape[-1] == 1:
            self.L = self.L[..., 0]
        if self.L.ndim != 3:
            raise ValueError(
                f"npy source: L array {str(l_path)!r} must be (N, H, W) or (N, H, W, 1). "
                f"Received: shape={self.L.shape}"
            )
        for path, ab in zip(ab_paths, self.abs):
            if ab.ndim != 4 or ab.shape[-1] != 2 or ab.shape[1:3] != self.L.shape[1:3]:
                raise ValueError(
                    f"npy source: ab array {str(path)!r} must be "
                    f"(N, {self.L.shape[1]}, {self.L.shape[2]}, 2) to match L. "
                    f"Received: shape={ab.shape}"
                )
        for path, arr in [(l_path, self.L), *zip(ab_paths, self.abs)]:
            if arr.dtype != np.uint8:
                raise ValueError(
                    f"npy source: {str(path)!r} must be uint8 (OpenCV's 8-bit Lab layout). "
                    f"Received: dtype={arr.dtype}"
                )
        total = sum(len(ab) for ab in self.abs)
        if total != len(self.L):
            raise ValueError(
                f"npy source: L has {len(self.L)} images but the ab arrays hold {total}."
            )
        self.offsets = np.cumsum([0] + [len(ab) for ab in self.abs])
        self.l_name = pathlib.Path(l_path).name
        self.split = split
        self.spec = "npy:" + ",".join(str(pathlib.Path(p).resolve()) for p in [l_path, *ab_paths])

    def __len__(self):
        return len(self.L)

    def _ab(self, index):
        part = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.abs[part][index - self.offsets[part]]

    def iter_range(self, start, stop):
        for index in range(start, min(stop, len(self))):
            L8 = np.asarray(self.L[index], dtype=np.float32)
            ab8 = np.asarray(self._ab(index), dtype=np.float32)
            lab = np.concatenate([L8[..., None] * (100.0 / 255.0), ab8 - 128.0], axis=-1)
            yield f"{self.l_name}[{index}]", LabImage(lab.astype(np.float32))


# Real colour photographs that installed packages ship (no download):
# (id, package, path inside the package, split). The split is fixed by photo
# so no crop of a validation photo is ever trained on; the stereo pair
# motorcycle_left/right shows one scene, so both are in train.
_SAMPLE_PHOTOS = (
    ("matplotlib/grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "train"),
    ("skimage/astronaut", "skimage", "data/astronaut.png", "train"),
    ("skimage/chelsea", "skimage", "data/chelsea.png", "validation"),
    ("skimage/coffee", "skimage", "data/coffee.png", "validation"),
    ("skimage/hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "train"),
    ("skimage/immunohistochemistry", "skimage", "data/ihc.png", "train"),
    ("skimage/motorcycle_left", "skimage", "data/motorcycle_left.png", "train"),
    ("skimage/motorcycle_right", "skimage", "data/motorcycle_right.png", "train"),
    ("skimage/retina", "skimage", "data/retina.jpg", "train"),
    ("skimage/rocket", "skimage", "data/rocket.jpg", "train"),
    ("sklearn/china", "sklearn", "datasets/images/china.jpg", "train"),
    ("sklearn/flower", "sklearn", "datasets/images/flower.jpg", "validation"),
)
SAMPLE_SPLITS = ("train", "validation")


def _package_dir(name):
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


class SamplePhotos:
    """The bundled photographs (scikit-image, scikit-learn, matplotlib).

    9 training and 3 validation photos: a small real dataset with no download, for the demo
    and SMOKE runs. A photo the installed packages do not ship is skipped with that reason.
    """

    def __init__(self, split="train"):
        if split not in SAMPLE_SPLITS:
            raise ValueError(
                f"samples source: split must be one of {SAMPLE_SPLITS}; received split={split!r}."
            )
        self.items = [(pid, pkg, rel) for pid, pkg, rel, s in _SAMPLE_PHOTOS if s == split]
        self.split = split
        self.spec = f"samples:{split}"

    def __len__(self):
        return len(self.items)

    def iter_range(self, start, stop):
        for pid, package, rel in self.items[start:stop]:
            root = _package_dir(package)
            path = None if root is None else root / rel
            if path is None or not path.is_file():
                yield pid, SkipItem(f"sample photo not installed: package {package!r} has no {rel}")
            else:
                yield pid, path


_TFDS_LOCK = threading.Lock()


class TFDSImages:
    """Any TFDS image dataset by name and split, in its canonical order.

    With `download=False` it reads a prepared `data_dir` and never touches the network. Item
    ids are TFDS's own stable record ids.
    """

    def __init__(self, name, split="train", data_dir=None, download=True, image_key=None):
        import tensorflow_datasets as tfds

        if re.search(r"[\[\]%+]", split):
            raise ValueError(
                f"tfds source: give a plain split name (e.g. 'train'); received split={split!r}."
            )
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as error:  # DatasetNotFoundError and friends
            first_line = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise ValueError(
                f"tfds source: unknown or unloadable TFDS dataset {name!r}: {first_line}"
            ) from None
        if download:
            try:
                builder.download_and_prepare()
            except Exception as error:
                raise RuntimeError(
                    f"tfds source: could not download and prepare {name!r} "
                    f"({type(error).__name__}: {error}). Without internet, prepare it elsewhere "
                    "and pass data_dir=... with download=False."
                ) from None
        if split in builder.info.splits:
            num_items = builder.info.splits[split].num_examples
        else:  # split metadata absent (e.g. under tfds.testing.mock_data): ask the dataset itself
            try:
                num_items = int(builder.as_dataset(split=split, shuffle_files=False).cardinality())
            except Exception:
                num_items = -1
            if num_items < 0:
                raise ValueError(
                    f"tfds source: {name!r} has no split {split!r}; "
                    f"it has {sorted(builder.info.splits)}."
                )
        features = builder.info.features
        if image_key is None:
            keys = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
            if not keys:
                raise ValueError(
                    f"tfds source: {name!r} has no image feature; "
                    f"its features are {list(features)}."
                )
            image_key = "image" if "image" in keys else keys[0]
        self.builder = builder
        self.name = name
        self.split = split
        self.image_key = image_key
        self.data_dir = data_dir
        self.download = download
        self.num_items = num_items
        self.spec = f"tfds:{name}:{split}"

    def __len__(self):
        return self.num_items

    def __getstate__(self):  # TFDS builders do not pickle; rebuild in workers
        state = dict(self.__dict__)
        state.pop("builder")
        return state

    def __setstate__(self, state):
        import tensorflow_datasets as tfds

        self.__dict__.update(state)
        self.builder = tfds.builder(self.name, data_dir=self.data_dir)

    def iter_range(self, start, stop):
        import tensorflow_datasets as tfds

        stop = min(stop, self.num_items)
        if start >= stop:
            return
        with (
            _TFDS_LOCK
        ):  # dataset construction is serialised (tfds.testing.mock_data patches globals)
            ds = self.builder.as_dataset(
                split=f"{self.split}[{start}:{stop}]",
                shuffle_files=False,
                read_config=tfds.ReadConfig(add_tfds_id=True, try_autocache=False),
            )
        for record in tfds.as_numpy(ds.take(stop - start)):
            tfds_id = record.get("tfds_id", b"")
            item_id = tfds_id.decode("utf-8") if isinstance(tfds_id, bytes) else str(tfds_id)
            yield item_id, record[self.image_key]


# Public constructors, named as in the issue.
def tfds(name, split="train", data_dir=None, download=True):
    """A TFDS image dataset; see `TFDSImages`."""
    return TFDSImages(name, split=split, data_dir=data_dir, download=download)


def image_folder(path, split="train"):
    """All images under a folder, recursively; see `ImageFolder`."""
    return ImageFolder(path, split=split)


def numpy_lab(l_path, ab_path, split="train"):
    """8-bit OpenCV-layout L / ab `.npy` arrays (report 002); see `NumpyLab`."""
    return NumpyLab(l_path, ab_path, split=split)


def sample_photos(split="train"):
    """The photographs bundled with installed packages; see `SamplePhotos`."""
    return SamplePhotos(split=split)


class FirstItems:
    """The first `n` items of another source, as a source of their own.

    Reports train on the first images of a larger split (report 000: 50,000 / 30,000 of
    Tiny-ImageNet). Its `spec` records the cut, e.g. `tfds:cifar10:train[:500]`.
    """

    def __init__(self, source, n, split=None):
        if int(n) < 1:
            raise ValueError(f"`n` must be a positive number of items; received n={n}.")
        self.source, self.n = source, int(n)
        self.split = split or source.split
        self.spec = f"{source.spec}[:{self.n}]"

    def __len__(self):
        return min(self.n, len(self.source))

    def iter_range(self, start, stop):
        return self.source.iter_range(start, min(stop, len(self)))


def first_n(source, n, split=None, data_dir=None, download=True):
    """The first `n` items of `source` (a source or a spec string); see `FirstItems`.

    Args:
        source: a data_pipeline source or a spec string.
        n: how many items to keep.
        split: the split name the shards get (default: the source's).
        data_dir, download: passed to the TFDS source for spec strings.

    Example:

    >>> from data_pipeline import sources
    >>> subset = sources.first_n("samples:train", 4, split="train4")
    >>> len(subset), subset.split, subset.spec
    (4, 'train4', 'samples:train[:4]')
    """
    return FirstItems(from_spec(source, data_dir=data_dir, download=download), n, split=split)


_TFDS_SPEC = re.compile(r"^(?P<name>[^:\[]+?(?::\d+(?:\.\d+)*)?)(?::(?P<split>.+))?$")


def from_spec(spec, split=None, data_dir=None, download=True):
    """Resolves a source object or a spec string to a source.

    `split` fills in a spec without one; a spec's own split that disagrees is an error.
    """
    if not isinstance(spec, str):
        if not hasattr(spec, "iter_range"):
            raise TypeError(
                "`source` must be a spec string or a data_pipeline source. "
                f"Received: {type(spec).__name__}"
            )
        return spec
    kind, _, rest = spec.partition(":")

    def pick(own):
        if own and split and own != split:
            raise ValueError(
                f"source {spec!r} names split {own!r} but split={split!r} was also given."
            )
        return own or split or "train"

    if kind == "tfds":
        match = _TFDS_SPEC.match(rest)
        if not rest or not match:
            raise ValueError(f"tfds source spec must be 'tfds:NAME[:SPLIT]'; received {spec!r}.")
        return tfds(match["name"], split=pick(match["split"]), data_dir=data_dir, download=download)
    if kind == "folder":
        if not rest:
            raise ValueError(f"folder source spec must be 'folder:PATH'; received {spec!r}.")
        return image_folder(rest, split=pick(None))
    if kind == "npy":
        paths = [p for p in rest.split(",") if p]
        if len(paths) < 2:
            raise ValueError(
                f"npy source spec must be 'npy:L.npy,AB.npy[,AB2.npy...]'; received {spec!r}."
            )
        return numpy_lab(paths[0], paths[1:], split=pick(None))
    if kind == "samples":
        return sample_photos(split=pick(rest or None))
    raise ValueError(
        f"unknown source spec {spec!r}; expected 'tfds:NAME[:SPLIT]', 'folder:PATH', "
        "'npy:L.npy,AB.npy' or 'samples[:SPLIT]'."
    )


class EveryNth:
    """A fixed held-out split of another source: every `every`-th item, or all the others.

    Item `i` is "validation" when `i % every == 0`, else "train": no random draw, no item in
    both. Its `spec` records the cut, e.g. `folder:/photos[::7]` / `folder:/photos[not ::7]`.
    """

    SPLITS = ("train", "validation")

    def __init__(self, source, split, every):
        if split not in self.SPLITS:
            raise ValueError(
                f"held-out split: split must be one of {self.SPLITS}; received split={split!r}."
            )
        if int(every) < 2:
            raise ValueError(
                f"held-out split: `every` must be at least 2; received every={every!r}."
            )
        self.source, self.every, self.split = source, int(every), split
        held_out = split == "validation"
        self.indices = [i for i in range(len(source)) if (i % self.every == 0) == held_out]
        self.spec = f"{source.spec}[{'' if held_out else 'not '}::{self.every}]"

    def __len__(self):
        return len(self.indices)

    def iter_range(self, start, stop):
        for index in self.indices[start:stop]:
            yield from self.source.iter_range(index, index + 1)


def every_nth(source, split, every, data_dir=None, download=True):
    """The held-out ("validation": every `every`-th item) or "train" split of `source`.

    Example:

    >>> from data_pipeline import sources
    >>> held_out = sources.every_nth("samples:train", "validation", every=3)
    >>> len(held_out), held_out.spec
    (3, 'samples:train[::3]')
    """
    return EveryNth(from_spec(source, data_dir=data_dir, download=download), split, every)
