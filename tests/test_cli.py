"""The command line end to end: colorize (good, missing, non-image inputs, bad models) and evaluate."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor

from colorization import cli

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
    rgba = np.dstack([(photo_rgb * 255).astype(np.uint8)[:40, :50], np.full((40, 50), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    (folder / "notes.png").write_text("this is not an image")
    return folder


def test_colorize_keeps_going_and_names_bad_files(tmp_path, inputs, capsys):
    model = save_constant_model(tmp_path / "model.keras")
    out = tmp_path / "out"
    code = cli.main([
        "colorize", str(inputs / "grey.png"), str(inputs / "missing.jpg"), str(inputs / "notes.png"),
        str(inputs / "rgba.png"), "-o", str(out), "--model", str(model),
    ])
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
    code = cli.colorize_main([str(inputs / "grey.png"), "-o", str(tmp_path / "o"), "--model", str(model)])
    assert code == 0 and (tmp_path / "o" / "grey.png").exists()
    assert "colorized 1 of 1" in capsys.readouterr().out


def test_colorize_refuses_bad_models(tmp_path, inputs, capsys):
    image = str(inputs / "grey.png")
    inp = keras.Input((8, 8, 1))
    keras.Model(inp, keras.layers.Conv2D(5, 1)(inp)).save(tmp_path / "five.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip file")
    for name, message in [("five.keras", "incompatible model"), ("junk.keras", "cannot load model"),
                          ("absent.keras", "model file not found")]:
        code = cli.colorize_main([image, "-o", str(tmp_path / "o"), "--model", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert code == cli.EXIT_FATAL and message in err and name in err


def test_python_dash_m_colorize(tmp_path, inputs):
    model = save_constant_model(tmp_path / "model.keras")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "colorization", "colorize", str(inputs / "grey.png"), str(inputs / "nope.png"),
         "-o", str(tmp_path / "out"), "--model", str(model), "--temperature", "0.5"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120,
    )
    assert result.returncode == cli.EXIT_INPUT_ERROR, result.stderr
    assert "nope.png" in result.stderr
    assert (tmp_path / "out" / "grey.png").exists()


def test_unknown_command_is_an_error(capsys):
    assert cli.main(["paint"]) != 0
    assert "unknown command" in capsys.readouterr().err


def test_evaluate_prints_table_and_writes_json(tmp_path, capsys):
    data_pipeline = pytest.importorskip("data_pipeline")
    shards = tmp_path / "shards"
    data_pipeline.write_shards("samples:validation", shards, image_size=32, crops_per_image=2)
    model = save_constant_model(tmp_path / "const.keras", ab=(10.0, 0.0), size=32)
    target = tmp_path / "scores.json"
    code = cli.main(["evaluate", "--model", str(model), "--data", str(shards), "--json", str(target)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "const" in printed and "grey baseline" in printed and str(target) in printed
    results = json.loads(target.read_text())["results"]
    # Independent AuC: the grey baseline's error is |ab|, the model's |ab - (10, 0)|.
    ab = np.concatenate([np.asarray(b) for _, b in data_pipeline.read_shards(shards, 8, shuffle=False)])
    for name, offset in (("grey baseline (ab = 0)", (0.0, 0.0)), ("const", (10.0, 0.0))):
        error = np.sqrt(((ab - np.array(offset)) ** 2).sum(-1)).ravel()
        cmf = [np.mean(error <= t) for t in range(151)]
        expected = sum((cmf[t] + cmf[t + 1]) / 2 for t in range(150)) / 150
        assert results[name]["auc"] == pytest.approx(expected, abs=1e-4)
        assert results[name]["num_images"] == len(ab)
        assert 0 <= results[name]["auc_rebalanced"] <= 1


def test_evaluate_missing_data_folder(tmp_path, capsys):
    model = save_constant_model(tmp_path / "m.keras")
    assert cli.main(["evaluate", "--model", str(model), "--data", str(tmp_path / "nowhere")]) == cli.EXIT_FATAL
    assert "nowhere" in capsys.readouterr().err
