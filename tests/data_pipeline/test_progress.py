"""Progress that tells the truth, re-runs that say what they found, a documented command line."""

import json
import re

import pytest

from colorization_apps import data_cli
from data_pipeline import write_shards

LINE = re.compile(
    r"^\[train\] (\d+)/(\d+) images \((\d+)%\), shards (\d+)/~(\d+), ([\d.]+) images/s"
    r"(?:, ETA (.+))?$"
)
DONE = re.compile(
    r"^\[train\] done: (\d+) images in ([\d.]+) s \((\d+) images/s\); "
    r"(\d+) examples in (\d+) shards, (\d+) skipped, in (.*)$"
)


def _build(root, out, **kwargs):
    return write_shards(
        f"folder:{root}",
        out,
        image_size=16,
        examples_per_shard=8,
        grey="keep",
        progress=True,
        **kwargs,
    )


def test_progress_lines_count_images_shards_and_eta(png_folder, tmp_path, capsys):
    root, _ = png_folder
    _build(root, tmp_path / "out", progress_interval=0, workers=1)  # a line per image
    lines = capsys.readouterr().err.strip().splitlines()
    progress = [LINE.match(line) for line in lines[:-1]]
    assert all(progress), lines
    assert [int(m[1]) for m in progress] == list(range(1, 21)) and {
        int(m[2]) for m in progress
    } == {20}
    assert [int(m[3]) for m in progress] == [5 * i for i in range(1, 21)]
    # Shard j is written once the first example of shard j + 1 is seen: after images 9 and 17.
    assert [int(m[4]) for m in progress] == [0] * 8 + [1] * 8 + [2] * 4
    assert {int(m[5]) for m in progress} == {
        3
    }  # every photo kept so far: 20 examples make 3 shards
    assert (
        all(m[7] for m in progress[:-1]) and progress[-1][7] is None
    )  # an ETA until the last image
    done = DONE.match(lines[-1])
    assert (
        done
        and done.group(1, 4, 5, 6) == ("20", "20", "3", "0")
        and done[7] == str(tmp_path / "out")
    )


def test_a_small_build_prints_one_line_per_interval_and_a_closing_line(
    png_folder, tmp_path, capsys
):
    root, _ = png_folder
    write_shards(f"folder:{root}", tmp_path / "out", image_size=16, grey="keep", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3, lines  # the first image, the last (not on a terminal), the closing line
    assert [LINE.match(line)[1] for line in lines[:2]] == ["1", "20"]
    done = DONE.match(lines[-1])
    rate, seconds = int(done[3]), float(done[2])
    # The rate is images over this build's time: consistent with the printed seconds (to 0.1 s)
    # and the printed rate (rounded to 1 image/s).
    assert 20 / (seconds + 0.05) - 0.5 <= rate <= 20 / max(seconds - 0.05, 1e-9) + 0.5


def test_rerun_says_what_it_found_and_what_it_resumes(png_folder, tmp_path, capsys):
    root, _ = png_folder
    out = tmp_path / "out"
    _build(root, out)
    capsys.readouterr()
    _build(root, out)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert (
        line.startswith(f"[train] already complete in {out}: 20 examples in 3 shards (0 skipped)")
        and "nothing to do" in line
    )

    # As if killed after two shards: the manifest lists two, status "building".
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["splits"]["train"]
    entry["status"], entry["shards"] = "building", entry["shards"][:2]
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "train-00002-of-00003.tfrecord").unlink()
    _build(root, out)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == (
        f"[train] resuming an unfinished build in {out}: 2 shards intact, 16 examples from "
        "images 0-15 of 20; "
        "continuing from image 16"
    )
    assert (
        "done: 4 images" in lines[-1] and "20 examples in 3 shards" in lines[-1]
    )  # only this run's images counted

    entry["shards"][1]["sha256"] = (
        "0" * 64
    )  # shard 1 no longer matches: it and everything after are rebuilt
    (out / "manifest.json").write_text(json.dumps(manifest))
    _build(root, out)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(
        f"[train] resuming an unfinished build in {out}: 1 shards intact "
        "(1 recorded shard(s) missing or changed, rebuilt)"
    )


@pytest.mark.parametrize(
    "argv0, prog",
    [
        ("/home/me/.venv/bin/colorization-data", "colorization-data"),
        ("/src/colorization_apps/data_cli.py", "python -m colorization_apps.data_cli"),
    ],
)
def test_help_names_the_command_the_user_typed(argv0, prog, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", [argv0, "build", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        data_cli.main()
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {prog} build ")


def test_every_option_has_help_text():
    parser = data_cli._parser(prog="colorization-data")
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert sorted(subcommands) == ["build", "inspect"]
    for name, sub in subcommands.items():
        undocumented = [a.option_strings or a.dest for a in sub._actions if not a.help]
        assert undocumented == [], f"{name}: {undocumented}"
    build_help = subcommands["build"].format_help()
    for flag in [
        "--examples-per-shard",
        "--seed",
        "--workers",
        "--compression",
        "--grey-threshold",
    ]:
        assert flag in build_help
    assert "usable cores" in build_help


def test_inspect_describes_an_unfinished_build(png_folder, tmp_path, capsys):
    root, _ = png_folder
    out = tmp_path / "out"
    _build(root, out)
    manifest = json.loads((out / "manifest.json").read_text())
    entry = manifest["splits"]["train"]
    manifest["splits"]["train"] = {
        k: v for k, v in entry.items() if k not in ("num_shards", "num_examples")
    }
    manifest["splits"]["train"].update(status="building", shards=entry["shards"][:2])
    (out / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert data_cli.main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "== train: building" in text
        and "16 examples in 2 finished shards" in text
        and "re-run the same build" in text
    )
