"""`colorization-data build --runner beam` writes the same shards and manifest as the local build.

The Beam tests need the optional `beam` extra (apache-beam) and are skipped
without it; they run the DirectRunner in-process.
"""

import json
import shutil
import sys

import pytest

from colorization_apps import data_cli


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _build_args(root, out, *extra):
    return [
        "build",
        "--source",
        f"folder:{root}",
        "--out",
        str(out),
        "--size",
        "16",
        "--examples-per-shard",
        "6",
        "--quiet",
        *extra,
    ]


@pytest.fixture
def photos(png_folder):
    root, _ = png_folder
    (root / "broken.png").write_bytes(b"not a png")  # skipped, with its reason in the manifest
    return root


def test_beam_build_equals_local_build(photos, tmp_path, capsys):
    pytest.importorskip(
        "apache_beam", reason="apache-beam is not installed (optional extra 'beam')"
    )
    local, beam = tmp_path / "local", tmp_path / "beam"
    assert data_cli.main(_build_args(photos, local, "--workers", "1")) == 0
    assert (
        data_cli.main(_build_args(photos, beam, "--runner", "beam", "--", "--runner=DirectRunner"))
        == 0
    )
    summaries = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [summary.pop("out") for summary in summaries] == [str(local), str(beam)]
    assert (
        summaries[0] == summaries[1]
        and summaries[0]["num_shards"] == 4
        and summaries[0]["num_skipped"] == 1
    )

    expected = _files(local)
    assert sorted(expected) == ["manifest.json"] + [
        f"train-{i:05d}-of-00004.tfrecord" for i in range(4)
    ]
    built = _files(beam)
    assert sorted(built) == sorted(expected)
    for name in expected:
        assert built[name] == expected[name], f"{name} differs between the Beam and the local build"
    entry = json.loads(expected["manifest.json"])["splits"]["train"]
    assert entry["status"] == "complete" and entry["num_examples"] == 20
    assert [item["id"] for item in entry["skipped"]] == ["broken.png"]


def test_beam_build_resumes_a_partial_build(photos, tmp_path):
    pytest.importorskip(
        "apache_beam", reason="apache-beam is not installed (optional extra 'beam')"
    )
    local, partial = tmp_path / "local", tmp_path / "partial"
    assert data_cli.main(_build_args(photos, local, "--workers", "1")) == 0
    # A build killed after three shards: one shard missing, manifest still "building".
    shutil.copytree(local, partial)
    (partial / "train-00002-of-00004.tfrecord").unlink()
    manifest = json.loads((partial / "manifest.json").read_text())
    entry = manifest["splits"]["train"]
    entry["status"] = "building"
    entry["shards"] = [s for s in entry["shards"] if s["index"] != 2]
    (partial / "manifest.json").write_text(json.dumps(manifest))
    kept = (partial / "train-00000-of-00004.tfrecord").stat().st_mtime_ns

    assert data_cli.main(_build_args(photos, partial, "--runner", "beam")) == 0
    assert _files(partial) == _files(local)
    assert (
        partial / "train-00000-of-00004.tfrecord"
    ).stat().st_mtime_ns == kept  # finished shards are not rebuilt


def test_beam_runner_without_apache_beam_is_a_clear_error(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if not installed
    assert data_cli.main(_build_args(photos, tmp_path / "out", "--runner", "beam")) == 2
    assert "apache-beam" in capsys.readouterr().err


def test_pipeline_options_need_the_beam_runner(photos, tmp_path, capsys):
    assert data_cli.main(_build_args(photos, tmp_path / "out", "--", "--runner=DirectRunner")) == 2
    assert "--runner beam" in capsys.readouterr().err
