"""`colorize` with the released architectures gives the pictures of the authors' demo procedure.

The reference below is written for these tests from the published procedure
of the authors' `colorizers` package (github.com/richzhang/colorization,
`demo_release.py` with `util.py`'s `preprocess_img` and `postprocess_tens`):
the uint8 RGB photo is resized to 256x256 with Pillow's bicubic filter, both
it and the original are converted to Lab with scikit-image, the network (a
PyTorch twin from `torch_twins.py`) takes the small L, its ab is upsampled to
the photo's size with `torch.nn.functional.interpolate(mode="bilinear")` and
joined to the original L, and Lab goes back to sRGB with scikit-image, times
255. The same random weights are converted into the Keras model, and on real
photos of several sizes and aspect ratios the two pictures must be at most
1 level of 255 apart. The twins are narrow (`width=16`): the procedure, not
the width, is under test, and the test stays fast.
"""

import pathlib

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch (the `pretrained` extra) runs the reference networks"
)

from PIL import Image  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from torch_twins import ECCV16Twin  # noqa: E402
from torch_twins import SIGGRAPH17Twin  # noqa: E402
from torch_twins import calibrate_batch_norm  # noqa: E402
from torch_twins import randomize  # noqa: E402

from colorization import weights as pretrained  # noqa: E402
from colorization.inference import colorize  # noqa: E402
from colorization.inference import default_resize  # noqa: E402
from colorization.models.eccv16_release import eccv16_release  # noqa: E402
from colorization.models.siggraph17 import siggraph17  # noqa: E402

PHOTOS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "photos" / "imagenet-800"
# Sizes (width x height) 341x256, 256x341, 256x256, 256x617, 877x256: wide, tall, square, extreme.
PHOTO_NAMES = (
    "n01498041_stingray.jpg",
    "n01518878_ostrich.jpg",
    "n01773549_barn_spider.jpg",
    "n01748264_Indian_cobra.jpg",
    "n04238763_slide_rule.jpg",
)
NETWORK_SIZE = 256
WIDTH = 16


def authors_demo(twin, rgb):
    """The authors' demo procedure around a PyTorch network: uint8 RGB or grey -> sRGB * 255."""
    if rgb.ndim == 2:
        rgb = np.tile(rgb[:, :, None], 3)
    small = np.asarray(
        Image.fromarray(rgb).resize((NETWORK_SIZE, NETWORK_SIZE), resample=Image.BICUBIC)
    )
    L_original = torch.Tensor(skcolor.rgb2lab(rgb)[:, :, 0])[None, None]
    L_small = torch.Tensor(skcolor.rgb2lab(small)[:, :, 0])[None, None]
    with torch.no_grad():
        ab = twin(L_small)
        if ab.shape[2:] != L_original.shape[2:]:
            ab = torch.nn.functional.interpolate(ab, size=L_original.shape[2:], mode="bilinear")
        lab = torch.cat((L_original, ab), dim=1)
    return skcolor.lab2rgb(lab.numpy()[0].transpose(1, 2, 0)) * 255


def network_inputs(photos):
    """The authors' network inputs for `photos`: L of the bicubic 256x256 resize, (B, 1, H, W)."""
    size = (NETWORK_SIZE, NETWORK_SIZE)
    small = [
        np.asarray(Image.fromarray(photo).resize(size, resample=Image.BICUBIC)) for photo in photos
    ]
    return torch.Tensor(np.stack([skcolor.rgb2lab(photo)[:, :, 0] for photo in small]))[:, None]


def twin_and_model(name, photos):
    """A narrow PyTorch twin with random weights and the Keras release model with the same weights.

    The twin's BatchNorm statistics are measured on the test photos, so its
    ab follows the input L: moving L by the 0.3-0.6 units that separate the
    two ways of preparing it moves the picture by more than 1 level.
    """
    if name == "eccv16":
        twin = calibrate_batch_norm(
            randomize(ECCV16Twin(width=WIDTH), seed=3), network_inputs(photos)
        )
        with (
            torch.no_grad()
        ):  # sharper distributions over the bins: colours that vary across the photo
            twin.model8[6].weight.mul_(3.0)
            twin.model8[6].bias.mul_(3.0)
        model = eccv16_release(input_shape=(NETWORK_SIZE, NETWORK_SIZE, 1), width=WIDTH)
        mapping, ignored = pretrained.zhang_release._eccv16_mapping()
    else:
        twin = calibrate_batch_norm(
            randomize(SIGGRAPH17Twin(width=WIDTH), seed=4), network_inputs(photos)
        )
        model = siggraph17(input_shape=(NETWORK_SIZE, NETWORK_SIZE, 1), width=WIDTH)
        mapping, ignored = pretrained.zhang_release._siggraph17_mapping(class_output=False)
    state = {key: value.numpy() for key, value in twin.state_dict().items()}
    pretrained.convert_state_dict(state, model, mapping, ignored)
    return twin, model


@pytest.fixture(scope="module")
def photos():
    if not PHOTOS.is_dir():
        pytest.skip(
            f"the real photos {PHOTOS} are absent (they sit beside the clone, in ../shared/photos)"
        )
    return [np.asarray(Image.open(PHOTOS / name).convert("RGB")) for name in PHOTO_NAMES]


@pytest.mark.filterwarnings(
    "ignore:Conversion from CIE-LAB:UserWarning"
)  # scikit-image clipping Z, as in the demo
@pytest.mark.parametrize("name", ["eccv16", "siggraph17"])
def test_release_pictures_within_one_level(name, photos):
    twin, model = twin_and_model(name, photos)
    assert default_resize(model) == "bicubic_rgb"
    grey = np.asarray(
        Image.fromarray(photos[0]).convert("L")
    )  # a grey photo, tiled to RGB by the demo
    inputs = photos + [grey]
    assert len({photo.shape[:2] for photo in inputs}) == 5  # sizes and aspect ratios differ
    expected = [authors_demo(twin, photo) for photo in inputs]
    got = colorize(model, inputs, batch_size=len(inputs))  # one batch: one compiled shape
    for photo, want, have in zip(inputs, expected, got):
        assert have.shape == photo.shape[:2] + (3,)
        chroma = skcolor.rgb2lab(want / 255.0)[..., 1:]
        assert (
            chroma.std(axis=(0, 1)).min() > 2.0
        )  # colours that vary across the photo, not one tint
        assert np.abs(have.astype(np.float64) - want).max() <= 1.0
    # The default is the explicit choice; the library's own preparation of L does not give the
    # release's pictures.
    explicit = colorize(model, inputs, resize="bicubic_rgb", batch_size=len(inputs))
    for default_picture, explicit_picture in zip(got, explicit):
        np.testing.assert_array_equal(default_picture, explicit_picture)
    bilinear = colorize(model, inputs, resize="bilinear_l", batch_size=len(inputs))
    assert (
        max(np.abs(b.astype(np.float64) - want).max() for b, want in zip(bilinear, expected)) > 1.0
    )


def test_photo_at_network_size_needs_no_resize(photos):
    # A 256x256 photo is the network's input as it is, whichever `resize` is chosen.
    twin, model = twin_and_model("eccv16", photos)
    square = photos[2]
    assert square.shape[:2] == (NETWORK_SIZE, NETWORK_SIZE)
    np.testing.assert_array_equal(
        colorize(model, square, resize="bilinear_l"), colorize(model, square)
    )
    assert (
        np.abs(colorize(model, square).astype(np.float64) - authors_demo(twin, square)).max() <= 1.0
    )


def test_fully_convolutional_release_runs_photos_of_several_sizes(rng):
    # Several run sizes through one model (Keras' TensorFlow predict function, retraced with unknown
    # sizes, cannot trace the release head's bilinear upsampling).
    model = eccv16_release(input_shape=(None, None, 1), width=4)
    photos = [
        rng.integers(0, 256, shape).astype(np.uint8)
        for shape in [(40, 56, 3), (64, 64, 3), (30, 90, 3)]
    ]
    pictures = colorize(model, photos, size_multiple=8)
    assert [picture.shape for picture in pictures] == [photo.shape for photo in photos]
    np.testing.assert_array_equal(colorize(model, photos[1], size_multiple=8), pictures[1])
