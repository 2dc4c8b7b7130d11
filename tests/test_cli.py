"""The command line end to end: colorize (good, missing, non-image inputs, bad models), evaluate."""

import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor

from colorization_apps import cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def save_constant_model(path, ab=(30.0, 20.0), size=16):
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Rescaling(1 / 100.0, offset=-0.5)(inputs)
    out = keras.layers.Conv2D(
        2, 1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(list(ab))
    )(x)
    keras.Model(inputs, out).save(path)
    return path


@pytest.fixture
def inputs(tmp_path, photo_rgb):
    folder = tmp_path / "in"
    folder.mkdir()
    grey = (skcolor.rgb2gray(photo_rgb) * 255).round().astype(np.uint8)
    Image.fromarray(grey).save(folder / "grey.png")
    rgba = np.dstack(
        [(photo_rgb * 255).astype(np.uint8)[:40, :50], np.full((40, 50), 128, np.uint8)]
    )
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    (folder / "notes.png").write_text("this is not an image")
    return folder


def test_colorize_keeps_going_and_names_bad_files(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "out"
    code = cli.main(
        [
            "colorize",
            str(inputs / "grey.png"),
            str(inputs / "missing.jpg"),
            str(inputs / "notes.png"),
            str(inputs / "rgba.png"),
            "-o",
            str(out),
            "--model",
            str(model),
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "missing.jpg" in err and "not found" in err
    assert "notes.png" in err and "not a readable image" in err
    assert sorted(p.name for p in out.iterdir()) == ["grey.png", "rgba.png"]
    grey_out = np.asarray(Image.open(out / "grey.png"))
    assert grey_out.shape == (128, 128, 3)
    lab = skcolor.rgb2lab(grey_out)
    mid = (lab[..., 0] > 30) & (lab[..., 0] < 80)
    assert abs(lab[..., 1][mid].mean() - 30.0) < 1.5 and abs(lab[..., 2][mid].mean() - 20.0) < 1.5
    assert np.asarray(Image.open(out / "rgba.png")).shape == (40, 50, 3)


def test_colorize_all_good_exits_zero(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    code = cli.colorize_main(
        [str(inputs / "grey.png"), "-o", str(tmp_path / "o"), "--model", str(model)]
    )
    captured = capsys.readouterr()
    assert code == 0 and (tmp_path / "o" / "grey.png").exists()
    assert captured.out.startswith("colorized 1 of 1 images into") and "skipped" not in captured.out
    assert captured.err == ""  # one input: no progress bar


def test_verbose_names_every_file_written(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "o"
    assert (
        cli.colorize_main(
            [
                str(inputs / "grey.png"),
                str(inputs / "rgba.png"),
                "-o",
                str(out),
                "--model",
                str(model),
                "--verbose",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{inputs / 'grey.png'} -> {out / 'grey.png'}" in err
        and f"{inputs / 'rgba.png'} -> {out / 'rgba.png'}" in err
    )


def test_colorize_refuses_bad_models(tmp_path, inputs, capsys):
    image = str(inputs / "grey.png")
    inp = keras.Input((8, 8, 1))
    keras.Model(inp, keras.layers.Conv2D(5, 1)(inp)).save(tmp_path / "five.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip file")
    for name, message in [
        ("five.keras", "incompatible model"),
        ("junk.keras", "cannot load model"),
        ("absent.keras", "model file not found"),
    ]:
        code = cli.colorize_main(
            [image, "-o", str(tmp_path / "o"), "--model", str(tmp_path / name)]
        )
        err = capsys.readouterr().err
        assert code == cli.EXIT_FATAL and message in err and name in err


FRAMEWORK_LINE = re.compile(
    r"^[IWEF]\d{4} |absl::|oneDNN|cuInit|cuda|XLA|TensorFlow binary|tensorflow", re.I
)


# Runs an entry point as `python -m colorization_apps` or a console script does, then prints the
# top-level modules it imported on a last stdout line (the frameworks' own stderr is hidden).
PROBE = """
import runpy, sys
entry = sys.argv.pop(1)
try:
    if entry == "-m":
        runpy.run_module("colorization_apps", run_name="__main__", alter_sys=True)
    else:
        module, function = entry.split(":")
        sys.exit(getattr(__import__(module, fromlist=[function]), function)())
finally:
    print("\\nimported:", *sorted({name.split(".")[0] for name in sys.modules}), flush=True)
"""
FRAMEWORKS = {"tensorflow", "keras", "jax", "torch"}


def run_cli(args, tmp_path, entry="-m"):
    """Runs the command line in a fresh interpreter, as a user would (no TF_CPP_MIN_LOG_LEVEL set).

    Returns the finished process, its stdout without the probe's line, and the set of top-level
    modules it imported.
    """
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    (tmp_path / "probe.py").write_text(PROBE)
    result = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py"), entry, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    stdout, _, modules = result.stdout.rpartition("\nimported: ")
    assert modules, f"the probe did not report: {result.stderr[-2000:]}"
    result.stdout = stdout
    return result, set(modules.split())


def test_python_dash_m_colorize_is_quiet(tmp_path, inputs):
    model = save_constant_model(tmp_path / "model.keras")
    result, modules = run_cli(
        [
            "colorize",
            str(inputs / "grey.png"),
            str(inputs / "nope.png"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(model),
            "--temperature",
            "0.5",
        ],
        tmp_path,
    )
    assert result.returncode == cli.EXIT_INPUT_ERROR, result.stderr
    assert (tmp_path / "out" / "grey.png").exists()
    # A command that runs loads the frameworks, so the probe the --help tests rely on can see them.
    assert {"keras", "tensorflow"} <= modules
    noise = [
        line for line in (result.stdout + result.stderr).splitlines() if FRAMEWORK_LINE.search(line)
    ]
    assert noise == [], "framework start-up lines leaked:\n" + "\n".join(noise)
    assert result.stderr.splitlines() == [f"error: {inputs / 'nope.png'}: input not found"]
    assert result.stdout.startswith("colorized 1 of 2 images into")
    assert "skipped 1: 1 input not found" in result.stdout


@pytest.mark.parametrize(
    "case",
    [
        "help",
        "command help",
        "demo help",
        "missing input",
        "missing model",
        "bad flag",
        "bad temperature",
        "output is a file",
        "evaluate without data",
    ],
)
def test_help_and_argument_errors_answer_before_importing_frameworks(tmp_path, case):
    model = tmp_path / "model.keras"
    model.write_bytes(b"never read: the arguments are refused first")
    image = tmp_path / "photo.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    (tmp_path / "taken").write_text("a file, not a folder")
    args, code, message = {
        "help": (["--help"], 0, None),
        "command help": (["colorize", "--help"], 0, None),
        "demo help": (["demo", "--help"], 0, None),
        "missing input": (
            ["colorize", "gone.jpg", "-o", "out", "--model", str(model)],
            2,
            "gone.jpg: input not found",
        ),
        "missing model": (
            ["colorize", str(image), "-o", "out", "--model", "absent.keras"],
            2,
            "model file not found: absent.keras",
        ),
        "bad flag": (
            ["colorize", str(image), "-o", "out", "--model", str(model), "--colour"],
            2,
            "unrecognized",
        ),
        "bad temperature": (
            ["colorize", str(image), "-o", "out", "--model", str(model), "--temperature", "0"],
            2,
            "--temperature must be > 0",
        ),
        "output is a file": (
            ["colorize", str(image), "-o", "taken", "--model", str(model)],
            2,
            "taken: cannot use as output folder: a file of that name exists",
        ),
        "evaluate without data": (
            ["evaluate", "--model", str(model), "--data", "nowhere"],
            2,
            "data folder not found: nowhere",
        ),
    }[case]
    result, modules = run_cli(args, tmp_path)
    assert result.returncode == code, result.stderr[-2000:]
    assert "colorization_apps" in modules and not modules & FRAMEWORKS
    if message:
        assert message in result.stderr
    else:
        assert "usage:" in result.stdout


@pytest.mark.parametrize(
    "entry_point",
    [
        "colorization_apps.cli:main",
        "colorization_apps.cli:colorize_main",
        "colorization_apps.data_cli:main",
    ],
)
def test_console_script_help_does_not_import_frameworks(tmp_path, entry_point):
    assert entry_point in (REPO_ROOT / "setup.py").read_text()  # the scripts pip installs
    result, modules = run_cli(["--help"], tmp_path, entry=entry_point)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout
    assert not modules & FRAMEWORKS


def assert_constant_colour(path, ab=(30.0, 20.0)):
    lab = skcolor.rgb2lab(np.asarray(Image.open(path)))
    mid = (lab[..., 0] > 30) & (lab[..., 0] < 80)
    assert abs(lab[..., 1][mid].mean() - ab[0]) < 1.5 and abs(lab[..., 2][mid].mean() - ab[1]) < 1.5


def test_folders_globs_and_batches(tmp_path, photo_rgb, capsys):
    photo = (photo_rgb * 255).astype(np.uint8)
    for folder, sizes in (("a", [(40, 50), (64, 64), (30, 70)]), ("b", [(50, 40)])):
        (tmp_path / folder).mkdir()
        for i, (h, w) in enumerate(sizes):
            Image.fromarray(photo[:h, :w]).save(tmp_path / folder / f"p{i}.jpg")
    (tmp_path / "a" / "notes.txt").write_text("not an image, and not taken from the folder")
    (tmp_path / "empty").mkdir()
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "out"
    code = cli.main(
        [
            "colorize",
            str(tmp_path / "a"),
            str(tmp_path / "b" / "*.jpg"),
            str(tmp_path / "a" / "p0.jpg"),
            str(tmp_path / "empty"),
            str(tmp_path / "c" / "*.png"),
            "-o",
            str(out),
            "--model",
            str(model),
            "--batch-size",
            "2",
        ]
    )
    captured = capsys.readouterr()
    assert code == cli.EXIT_INPUT_ERROR
    # a/p0.jpg is named twice but done once; b/p0.jpg keeps its stem with a suffix.
    assert sorted(p.name for p in out.iterdir()) == ["p0.png", "p0_1.png", "p1.png", "p2.png"]
    assert np.asarray(Image.open(out / "p2.png")).shape == (30, 70, 3)
    assert np.asarray(Image.open(out / "p0_1.png")).shape == (50, 40, 3)
    for path in out.iterdir():
        assert_constant_colour(path)
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {tmp_path / 'empty'}: folder holds no image files "
        f"(looked for {', '.join(cli.IMAGE_SUFFIXES)})",
        f"error: {tmp_path / 'c' / '*.png'}: no file matches this pattern",
    ]
    assert (
        "4/4 images (100%)" in captured.err
    )  # plain progress lines: pytest's stderr is no terminal
    assert captured.out.startswith(f"colorized 4 of 6 images into {out} in ")
    assert (
        "skipped 2: 1 folder holds no image files, 1 no file matches this pattern" in captured.out
    )


def test_options_reach_colorize(tmp_path, inputs, monkeypatch, capsys):
    calls = []

    def fake_colorize(model, images, **options):
        calls.append(options)
        return [np.zeros(np.shape(image)[:2] + (3,), np.uint8) for image in images]

    monkeypatch.setattr("colorization.inference.colorize", fake_colorize)
    model = save_constant_model(tmp_path / "model.keras")
    assert (
        cli.colorize_main(
            [
                str(inputs / "grey.png"),
                str(inputs / "rgba.png"),
                "-o",
                str(tmp_path / "o"),
                "--model",
                str(model),
                "--batch-size",
                "16",
                "--resize",
                "bilinear_l",
                "--temperature",
                "0.5",
            ]
        )
        == 0
    )
    assert calls == [{"temperature": 0.5, "batch_size": 16, "resize": "bilinear_l"}]


def test_bfloat16_precision_colorizes_with_a_16_bit_copy(tmp_path, inputs, monkeypatch):
    from colorization import inference

    model_input = keras.Input((16, 16, 1))
    features = keras.layers.Conv2D(
        4, 3, padding="same", kernel_initializer="zeros", name="features"
    )(model_input)
    ab = keras.layers.Conv2D(
        2, 1, bias_initializer=keras.initializers.Constant([30.0, 20.0]), name="ab"
    )(features)
    keras.Model(model_input, ab).save(tmp_path / "model.keras")
    used = []
    colorize = inference.colorize

    def recording_colorize(model, images, **options):
        used.append(model)
        return colorize(model, images, **options)

    monkeypatch.setattr(inference, "colorize", recording_colorize)
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "colorize",
                str(inputs / "grey.png"),
                "-o",
                str(out),
                "--model",
                str(tmp_path / "model.keras"),
                "--precision",
                "bfloat16",
            ]
        )
        == 0
    )
    assert [model.get_layer("features").compute_dtype for model in used] == ["bfloat16"]
    assert used[0].get_layer("ab").compute_dtype == "float32"
    assert_constant_colour(out / "grey.png")


def test_resize_choices_are_the_library_modes():
    from colorization import inference

    assert cli.RESIZE_CHOICES == inference.RESIZE_MODES


def test_output_folder_that_cannot_be_created(tmp_path, inputs, capsys, monkeypatch):
    model = save_constant_model(tmp_path / "model.keras")
    image = str(inputs / "grey.png")
    (tmp_path / "file").write_text("x")
    cases = [
        (tmp_path / "file", "cannot use as output folder: a file of that name exists"),
        (tmp_path / "file" / "sub", "cannot create output folder: not a directory"),
    ]
    for out, cause in cases:
        assert cli.colorize_main([image, "-o", str(out), "--model", str(model)]) == cli.EXIT_FATAL
        assert capsys.readouterr().err.splitlines() == [f"error: {out}: {cause}"]

    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    out = tmp_path / "read-only" / "out"
    assert cli.colorize_main([image, "-o", str(out), "--model", str(model)]) == cli.EXIT_FATAL
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: cannot create output folder: permission denied"
    ]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_read_only_output_folder(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert (
            cli.colorize_main([str(inputs / "grey.png"), "-o", str(out), "--model", str(model)])
            == cli.EXIT_FATAL
        )
    finally:
        out.chmod(0o700)
    assert capsys.readouterr().err.splitlines() == [
        f"error: {out}: cannot write into output folder: permission denied"
    ]


def test_an_output_that_cannot_be_written_does_not_stop_the_others(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "out"
    (out / "grey.png").mkdir(parents=True)  # a folder where the first output should go
    code = cli.colorize_main(
        [str(inputs / "grey.png"), str(inputs / "rgba.png"), "-o", str(out), "--model", str(model)]
    )
    captured = capsys.readouterr()
    assert code == cli.EXIT_INPUT_ERROR
    assert (
        f"error: {out / 'grey.png'}: cannot write output: is a directory"
        in captured.err.splitlines()
    )
    assert_constant_colour(out / "rgba.png")
    assert "skipped 1: 1 cannot write output: is a directory" in captured.out


def test_an_output_never_overwrites_its_input(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    before = (inputs / "grey.png").read_bytes()
    code = cli.colorize_main([str(inputs / "grey.png"), "-o", str(inputs), "--model", str(model)])
    assert code == cli.EXIT_INPUT_ERROR and (inputs / "grey.png").read_bytes() == before
    assert capsys.readouterr().err.splitlines() == [
        f"error: {inputs / 'grey.png'}: output would overwrite its input "
        f"(choose another -o than {inputs})"
    ]


def test_an_unexpected_failure_is_one_line(tmp_path, inputs, monkeypatch, capsys):
    def broken(model, images, **options):
        raise RuntimeError("something\nthe library did not expect")

    monkeypatch.setattr("colorization.inference.colorize", broken)
    model = save_constant_model(tmp_path / "model.keras")
    assert (
        cli.colorize_main(
            [str(inputs / "grey.png"), "-o", str(tmp_path / "o"), "--model", str(model)]
        )
        == 2
    )
    assert capsys.readouterr().err.splitlines() == [
        "error: unexpected RuntimeError: something the library did not expect "
        "(run again with --verbose for the traceback)"
    ]


def test_no_verify_and_weights_need_pretrained(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    for flags, message in (
        (["--no-verify"], "--no-verify goes with --pretrained"),
        (["--weights", "w.pth"], "--weights goes with --pretrained"),
    ):
        assert (
            cli.colorize_main(
                [str(inputs / "grey.png"), "-o", str(tmp_path / "o"), "--model", str(model)] + flags
            )
            == cli.EXIT_FATAL
        )
        assert message in capsys.readouterr().err
    assert (
        cli.colorize_main(
            [
                str(inputs / "grey.png"),
                "-o",
                str(tmp_path / "o"),
                "--pretrained",
                "eccv16",
                "--weights",
                str(tmp_path / "absent.pth"),
            ]
        )
        == cli.EXIT_FATAL
    )
    assert capsys.readouterr().err.splitlines() == [
        f"error: weights file not found: {tmp_path / 'absent.pth'}"
    ]


def test_unknown_command_is_an_error(capsys):
    assert cli.main(["paint"]) != 0
    assert "unknown command" in capsys.readouterr().err


def test_evaluate_prints_table_and_writes_json(tmp_path, capsys):
    data_pipeline = pytest.importorskip("data_pipeline")
    shards = tmp_path / "shards"
    data_pipeline.write_shards("samples:validation", shards, image_size=32, crops_per_image=2)
    model = save_constant_model(tmp_path / "const.keras", ab=(10.0, 0.0), size=32)
    target = tmp_path / "scores.json"
    code = cli.main(
        ["evaluate", "--model", str(model), "--data", str(shards), "--json", str(target)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "const" in printed and "grey baseline" in printed and str(target) in printed
    results = json.loads(target.read_text())["results"]
    # Independent AuC: the grey baseline's error is |ab|, the model's |ab - (10, 0)|.
    ab = np.concatenate(
        [np.asarray(b) for _, b in data_pipeline.read_shards(shards, 8, shuffle=False)]
    )
    for name, offset in (("grey baseline (ab = 0)", (0.0, 0.0)), ("const", (10.0, 0.0))):
        error = np.sqrt(((ab - np.array(offset)) ** 2).sum(-1)).ravel()
        cmf = [np.mean(error <= t) for t in range(151)]
        expected = sum((cmf[t] + cmf[t + 1]) / 2 for t in range(150)) / 150
        assert results[name]["auc"] == pytest.approx(expected, abs=1e-4)
        assert results[name]["num_images"] == len(ab)
        assert 0 <= results[name]["auc_rebalanced"] <= 1


def test_evaluate_missing_data_folder(tmp_path, capsys):
    model = save_constant_model(tmp_path / "m.keras")
    assert (
        cli.main(["evaluate", "--model", str(model), "--data", str(tmp_path / "nowhere")])
        == cli.EXIT_FATAL
    )
    assert "nowhere" in capsys.readouterr().err


def test_weight_file_problems_are_one_line(tmp_path, inputs, capsys, monkeypatch):
    torch = pytest.importorskip(
        "torch", reason="PyTorch (the `pretrained` extra) reads the released weights"
    )
    from torch_twins import ECCV16Twin

    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    twin = tmp_path / "colorization_release_v2-9b330a0b.pth"
    torch.save(
        ECCV16Twin(width=4).state_dict(), twin
    )  # the release's layout, shrunk: neither its hash nor shapes
    image = str(inputs / "grey.png")
    for weights, flags, expected in (
        (text, [], "not a PyTorch checkpoint"),
        (twin, [], "9b330a0b"),
        (twin, ["--no-verify"], "ECCV16"),
    ):
        code = cli.colorize_main(
            [image, "-o", str(tmp_path / "o"), "--pretrained", "eccv16", "--weights", str(weights)]
            + flags
        )
        lines = capsys.readouterr().err.splitlines()
        assert code == cli.EXIT_FATAL
        assert len(lines) == 1 and lines[0].startswith("error: ") and str(weights) in lines[0]
        assert expected in lines[0]

    calls = []

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        raise ValueError("recorded")

    monkeypatch.setattr("colorization.weights.load", fake_load)
    cli.colorize_main(
        [
            image,
            "-o",
            str(tmp_path / "o"),
            "--pretrained",
            "eccv16",
            "--weights",
            str(twin),
            "--no-verify",
        ]
    )
    assert calls == [("eccv16", {"path": str(twin), "verify": False})]
