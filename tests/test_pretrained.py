"""Conversion of Zhang et al.'s released PyTorch weights, checked against PyTorch twins.

The released files cannot be downloaded here, so each network's twin
(`tests/torch_twins.py`, the release's parameter names and shapes) gets
random weights with a fixed seed; its state dict is saved, converted by
`colorization.weights.load(name, path=..., verify=False)` (random weights
cannot have the release's checksum), and the Keras outputs must equal the
twin's within 1e-4 ab units. Foreign files (text, a pickled module, the other
release) must be named in one first line.
"""

import hashlib
import sys

import keras
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch (the `pretrained` extra) reads the released weights and runs the twins"
)

from kit import run  # noqa: E402
from torch_twins import ECCV16Twin  # noqa: E402
from torch_twins import SIGGRAPH17Twin  # noqa: E402
from torch_twins import randomize  # noqa: E402

from colorization import weights as pretrained  # noqa: E402
from colorization.inference import colorize  # noqa: E402

ATOL = 1e-4
TWINS = {"eccv16": ECCV16Twin, "siggraph17": SIGGRAPH17Twin}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """Full-size twins with random weights and their saved state dicts: {name: (twin, path)}."""
    folder = tmp_path_factory.mktemp("weights")
    out = {}
    for seed, (name, cls) in enumerate(TWINS.items()):
        twin = randomize(cls(), seed=seed)
        path = folder / f"{name}.pth"
        torch.save(twin.state_dict(), path)
        out[name] = (twin, path)
    return out


def nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x).transpose(0, 3, 1, 2)))


def nhwc(x):
    return x.detach().numpy().transpose(0, 2, 3, 1)


def test_twins_have_the_released_names_and_shapes(released):
    # Facts of the release (authors' `colorizers` package): stage/index names and tensor shapes.
    eccv = released["eccv16"][0].state_dict()
    assert eccv["model1.0.weight"].shape == (64, 1, 3, 3)
    assert eccv["model1.4.running_var"].shape == (64,)
    assert eccv["model3.6.weight"].shape == (256,)  # BatchNorm after three [conv, ReLU] pairs
    assert eccv["model5.0.weight"].shape == (512, 512, 3, 3)
    assert eccv["model8.0.weight"].shape == (512, 256, 4, 4)  # ConvTranspose2d: (in, out, kh, kw)
    assert eccv["model8.6.weight"].shape == (313, 256, 1, 1)
    assert eccv["model_out.weight"].shape == (2, 313, 1, 1) and "model_out.bias" not in eccv
    # tests/core/test_eccv16.py's count (BatchNorm statistics included) plus the 313 x 2 projection.
    assert sum(v.numel() for k, v in eccv.items() if "num_batches" not in k) == 32_240_377 + 313 * 2
    sig = released["siggraph17"][0].state_dict()
    assert sig["model1.0.weight"].shape == (64, 4, 3, 3)
    assert sig["model8up.0.weight"].shape == (512, 256, 4, 4)
    assert sig["model3short8.0.weight"].shape == (256, 256, 3, 3)
    assert sig["model8.5.running_mean"].shape == (256,)
    assert sig["model9.3.weight"].shape == (128,)
    assert sig["model10up.0.weight"].shape == (128, 128, 4, 4)
    assert sig["model1short10.0.weight"].shape == (128, 64, 3, 3)
    assert sig["model_class.0.weight"].shape == (529, 256, 1, 1)
    assert sig["model_out.0.weight"].shape == (2, 128, 1, 1)


@pytest.mark.parametrize("name", ["eccv16", "siggraph17"])
def test_converted_model_equals_the_pytorch_twin(name, released, rng):
    twin, path = released[name]
    model = pretrained.load(name, path=path, input_shape=(64, 64, 1), verify=False)
    L = rng.uniform(0, 100, (2, 64, 64, 1)).astype(np.float32)
    with torch.no_grad():
        expected = nhwc(twin(nchw(L)))
    got = run(model, L)
    assert got.shape == (2, 64, 64, 2)
    assert expected.std() > 1.0  # the comparison is of real colours, not of near-zeros
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


def test_siggraph17_hints_and_class_branch_equal_the_twin(released, rng):
    twin, path = released["siggraph17"]
    model = pretrained.load(
        "siggraph17",
        path=path,
        input_shape=(32, 32, 1),
        hints=True,
        head="regression_and_classification",
        verify=False,
    )
    L = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    mask = (rng.uniform(size=(2, 32, 32, 1)) < 0.1).astype(np.float32)
    ab = rng.uniform(-80, 80, (2, 32, 32, 2)).astype(np.float32) * mask
    with torch.no_grad():
        expected_ab, expected_classes = twin(nchw(L), nchw(ab), nchw(mask), return_classes=True)
        without_hints = twin(nchw(L))
    got_ab, got_classes = model([L, ab, mask], training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got_ab), nhwc(expected_ab), atol=ATOL, rtol=0
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got_classes), nhwc(expected_classes), atol=1e-5
    )
    assert np.abs(nhwc(expected_ab) - nhwc(without_hints)).max() > 1.0  # the hints matter


@pytest.mark.parametrize(
    "make_torch,kind,make_keras",
    [
        (
            lambda: torch.nn.Conv2d(3, 5, 3, stride=2, padding=1),
            "conv",
            lambda: [
                keras.layers.ZeroPadding2D(1),
                keras.layers.Conv2D(5, 3, strides=2, name="target"),
            ],
        ),
        (
            lambda: torch.nn.Conv2d(3, 5, 3, padding=2, dilation=2),
            "conv",
            lambda: [keras.layers.Conv2D(5, 3, padding="same", dilation_rate=2, name="target")],
        ),
        (
            lambda: torch.nn.ConvTranspose2d(3, 5, 4, stride=2, padding=1),
            "conv_transpose",
            lambda: [keras.layers.Conv2DTranspose(5, 4, strides=2, padding="same", name="target")],
        ),
        (
            lambda: torch.nn.BatchNorm2d(3),
            "batch_norm",
            lambda: [keras.layers.BatchNormalization(epsilon=1e-5, name="target")],
        ),
    ],
    ids=["strided_conv", "dilated_conv", "transposed_conv", "batch_norm"],
)
def test_each_layer_type_converts(make_torch, kind, make_keras, rng):
    torch.manual_seed(0)
    layer = make_torch()
    if kind == "batch_norm":
        randomize(torch.nn.Sequential(layer))
    layer.eval()
    inputs = keras.Input((8, 8, 3))
    x = inputs
    for keras_layer in make_keras():
        x = keras_layer(x)
    model = keras.Model(inputs, x)
    state = {f"layer.{k}": v.numpy() for k, v in layer.state_dict().items()}
    pretrained.convert_state_dict(state, model, [("layer", "target", kind)])
    data = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    with torch.no_grad():
        expected = nhwc(layer(nchw(data)))
    np.testing.assert_allclose(run(model, data), expected, atol=1e-5)


def test_converted_model_round_trips_through_keras_file(released, rng, tmp_path):
    model = pretrained.load(
        "siggraph17", path=released["siggraph17"][1], input_shape=(None, None, 1), verify=False
    )
    model.save(tmp_path / "siggraph17.keras")
    restored = keras.saving.load_model(tmp_path / "siggraph17.keras", safe_mode=True)
    L = rng.uniform(0, 100, (1, 40, 56, 1)).astype(np.float32)
    np.testing.assert_array_equal(run(restored, L), run(model, L))


def test_colorize_gives_the_twins_picture(released, photo_rgb):
    # At the model's own size colorize = Lab(original L, predicted ab) -> sRGB (scikit-image).
    from skimage import color

    twin, path = released["eccv16"]
    photo = photo_rgb[:64, :64]
    model = pretrained.load("eccv16", path=path, input_shape=(64, 64, 1), verify=False)
    L = color.rgb2lab(photo)[..., :1].astype(np.float32)
    with torch.no_grad():
        ab = nhwc(twin(nchw(L[None])))[0]
    expected = np.round(np.clip(color.lab2rgb(np.concatenate([L, ab], -1)), 0, 1) * 255)
    got = colorize(model, (photo * 255).round().astype(np.uint8))
    assert np.abs(got.astype(int) - expected).max() <= 2


def first_line(error):
    return str(error.value).split("\n")[0]


def assert_never_suggests_unsafe_loading(error):
    assert "weights_only=False" not in str(
        error.value
    ) and "weights_only` set to `False" not in str(error.value)


@pytest.mark.parametrize(
    "given,found,expected",
    [
        (
            "eccv16",
            "siggraph17",
            "these look like the SIGGRAPH17 weights (4 input channels): "
            "use --pretrained siggraph17.",
        ),
        (
            "siggraph17",
            "eccv16",
            "these look like the ECCV16 weights (1 input channel): use --pretrained eccv16.",
        ),
    ],
)
def test_the_other_release_is_named(given, found, expected, tmp_path):
    path = tmp_path / f"{found}.pth"
    torch.save(randomize(TWINS[found](width=4)).state_dict(), path)
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.load(given, path=path, input_shape=(32, 32, 1), verify=False)
    assert first_line(error) == f"{path}: {expected}"
    assert "model1.0.weight here has shape" in str(error.value)
    assert len(str(error.value)) < 400  # no list of every missing key


def test_wrong_names_and_missing_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="Unknown pretrained model.*Received: name='nope'"):
        pretrained.load("nope", path=tmp_path / "x.pth")
    with pytest.raises(
        pretrained.WeightsError, match="Weights file not found: /nonexistent/eccv16.pth"
    ):
        pretrained.load("eccv16", path="/nonexistent/eccv16.pth")
    other = tmp_path / "other.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3), "encoder.bias": torch.zeros(3)}, other)
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.load("eccv16", path=other)
    assert first_line(error) == f"{other}: not the weights of Zhang et al.'s ECCV16 network."
    assert "encoder.weight" in str(error.value)
    # The release's layout at another width: right names, wrong shapes.
    narrow = tmp_path / "narrow.pth"
    torch.save(randomize(ECCV16Twin(width=4)).state_dict(), narrow)
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.load("eccv16", path=narrow, verify=False)
    assert (
        first_line(error)
        == f"{narrow}: not the released ECCV16 network's layers (names or shapes differ)."
    )
    assert "model1.0.weight has shape (4, 1, 3, 3)" in str(error.value) and "more" in str(
        error.value
    )


def test_a_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "colorization_release_v2-9b330a0b.pth"
    path.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.load("eccv16", path=path)
    assert first_line(error) == f"{path} is not a PyTorch checkpoint (a text file)."
    assert "torch.load could not read it" in str(error.value)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(
        pretrained.WeightsError, match=r"is not a PyTorch checkpoint \(the file is empty\)\."
    ):
        pretrained.load("eccv16", path=empty)
    array = tmp_path / "array.npy"
    np.save(array, np.zeros(3))
    with pytest.raises(
        pretrained.WeightsError, match=r"is not a PyTorch checkpoint \(a NumPy \.npy array\)\."
    ) as error:
        pretrained.load("eccv16", path=array)
    assert_never_suggests_unsafe_loading(error)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_a_pickled_module_is_named_and_never_executed(legacy, tmp_path):
    path = tmp_path / "module.pth"
    torch.save(ECCV16Twin(width=4), path, _use_new_zipfile_serialization=not legacy)
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.load("eccv16", path=path)
    assert first_line(error) == (
        f"{path} is a whole pickled module (torch_twins.ECCV16Twin), not a state dict: "
        "save its state_dict."
    )
    assert "torch.save(module.state_dict()" in str(error.value)
    assert_never_suggests_unsafe_loading(error)
    # A tensor or a dict of numbers is read safely but is no state dict.
    torch.save(torch.zeros(3), path)
    with pytest.raises(pretrained.WeightsError, match=r"is not a state dict .*\nIt holds a Tensor"):
        pretrained.load("eccv16", path=path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(
        pretrained.WeightsError, match=r"It holds a dict of 1 entries \(keys epoch\)"
    ):
        pretrained.load("eccv16", path=path)


def test_checksum_is_checked_for_a_given_file_with_an_opt_out(released, tmp_path):
    twin, path = released["eccv16"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(pretrained.ChecksumError) as error:
        pretrained.load("eccv16", path=path)
    assert isinstance(error.value, pretrained.WeightsError) and isinstance(error.value, ValueError)
    assert first_line(error) == (
        f"Checksum mismatch for {path}: its SHA-256 starts with {digest[:8]}, "
        "the release colorization_release_v2-9b330a0b.pth has 9b330a0b."
    )
    assert (
        digest in str(error.value)
        and "verify=False" in str(error.value)
        and "--no-verify" in str(error.value)
    )
    # SIGGRAPH17's prefix is named for SIGGRAPH17 files.
    with pytest.raises(pretrained.ChecksumError, match=r"siggraph17-df00044c\.pth has df00044c\."):
        pretrained.load("siggraph17", path=released["siggraph17"][1])
    # The opt-out loads the same file; a file with the release's digest needs no opt-out.
    L = np.linspace(0, 100, 32 * 32, dtype=np.float32).reshape(1, 32, 32, 1)
    opted_out = run(pretrained.load("eccv16", path=path, input_shape=(32, 32, 1), verify=False), L)
    with torch.no_grad():
        np.testing.assert_allclose(opted_out, nhwc(twin(nchw(L))), atol=ATOL)
    release = pretrained.PRESETS["eccv16"]
    matching = pretrained.Preset(release.url, sha256_prefix=digest[:8])
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(pretrained.PRESETS, "eccv16", matching)
        verified = run(pretrained.load("eccv16", path=path, input_shape=(32, 32, 1)), L)
    np.testing.assert_array_equal(verified, opted_out)


def test_missing_torch_names_the_extra(released, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"colorization\[pretrained\]"):
        pretrained.load("eccv16", path=released["eccv16"][1])


def _release_at(url, content):
    return pretrained.Preset(url=url, sha256_prefix=hashlib.sha256(content).hexdigest()[:8])


def test_download_caches_and_verifies_the_checksum(tmp_path, monkeypatch):
    source = tmp_path / "server" / "weights-abc.pth"
    source.parent.mkdir()
    source.write_bytes(b"released bytes")
    release = _release_at(source.as_uri(), b"released bytes")
    monkeypatch.setitem(pretrained.PRESETS, "eccv16", release)
    cache = tmp_path / "cache"
    path = pretrained.download("eccv16", cache_dir=str(cache))
    assert path == cache / "models" / "weights-abc.pth"
    assert path.read_bytes() == b"released bytes"
    source.unlink()  # a second call is served by the cache
    assert pretrained.download("eccv16", cache_dir=str(cache)) == path

    source.write_bytes(b"tampered bytes")
    monkeypatch.setitem(
        pretrained.PRESETS, "eccv16", pretrained.Preset(source.as_uri(), release.sha256_prefix)
    )
    with pytest.raises(
        pretrained.ChecksumError, match="Checksum mismatch.*\n.*expected a digest starting with"
    ):
        pretrained.download("eccv16", cache_dir=str(cache), force=True)
    assert not path.exists()  # the bad file is not left in the cache


def test_offline_without_a_local_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(
        pretrained.PRESETS,
        "siggraph17",
        pretrained.Preset("http://127.0.0.1:9/siggraph17-df00044c.pth", "df00044c"),
    )
    with pytest.raises(OSError, match=r"Could not download.*127\.0\.0\.1.*path="):
        pretrained.load("siggraph17", cache_dir=str(tmp_path))
    assert not list(tmp_path.rglob("*.pth"))


def test_release_table():
    torch_releases = ["eccv16", "resnet18_imagenet", "siggraph17"]
    assert set(torch_releases) <= set(pretrained.available())
    for name in torch_releases:
        release = pretrained.PRESETS[name]
        # PyTorch hub convention: the file name carries the leading digits of its SHA-256.
        assert release.filename.endswith(f"-{release.sha256_prefix}.pth")
    for name, release in pretrained.PRESETS.items():
        assert release.url.startswith("https://")
        algorithm, digest = release.checksum
        assert (algorithm, len(digest)) in {("sha256", 8), ("md5", 32)}, name


def test_cli_colorizes_with_released_weights(released, photo_rgb, tmp_path, capsys, monkeypatch):
    from PIL import Image

    from colorization_apps.cli import colorize_main

    photo = (photo_rgb[:48, :64] * 255).round().astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    path = released["siggraph17"][1]
    # Random weights under the release's checksum, so the CLI's default verification passes.
    release = pretrained.PRESETS["siggraph17"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(
        pretrained.PRESETS, "siggraph17", pretrained.Preset(release.url, digest[:8])
    )
    code = colorize_main(
        [
            str(tmp_path / "photo.png"),
            "-o",
            str(tmp_path / "out"),
            "--pretrained",
            "siggraph17",
            "--weights",
            str(path),
        ]
    )
    assert code == 0, capsys.readouterr().err
    written = np.asarray(Image.open(tmp_path / "out" / "photo.png"))
    np.testing.assert_array_equal(
        written, colorize(pretrained.load("siggraph17", path=path), photo)
    )


def test_cli_offline_without_weights_fails_clearly(tmp_path, monkeypatch, capsys):
    from colorization_apps.cli import colorize_main

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setitem(
        pretrained.PRESETS,
        "eccv16",
        pretrained.Preset("http://127.0.0.1:9/e-9b330a0b.pth", "9b330a0b"),
    )
    from PIL import Image

    photo = tmp_path / "photo.png"  # an existing input, so the failure is the download's
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    code = colorize_main([str(photo), "-o", str(tmp_path / "out"), "--pretrained", "eccv16"])
    assert code == 2
    assert "Could not download e-9b330a0b.pth" in capsys.readouterr().err
    assert (
        colorize_main(
            ["photo.png", "-o", str(tmp_path), "--model", "m.keras", "--weights", "w.pth"]
        )
        == 2
    )
