"""The command line: fast help, one-line errors, plugins listing, info dispatch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from splatkit import __version__
from splatkit.cli import main

HEAVY = ("torch", "pycolmap", "gsplat", "boto3", "numba")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splatkit", *args], capture_output=True, text=True, timeout=120)


def test_version_prints_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"splatkit {__version__}"


def test_help_imports_no_heavy_package() -> None:
    code = (
        "import sys\n"
        "from splatkit.cli import build_parser\n"
        "build_parser().format_help()\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_missing_path_is_one_line_error_without_traceback(tmp_path) -> None:
    result = run_cli("info", str(tmp_path / "nope.ply"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"splatkit: error: {tmp_path / 'nope.ply'}: no such file or folder"]


def test_unknown_format_is_refused_with_what_is_known(tmp_path, capsys) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    assert main(["info", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "not a format splatkit knows" in err and "notes.txt" in err


def test_plugins_lists_builtin_stages_as_json(capsys) -> None:
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {(row["kind"], row["name"]) for row in data["stages"]}
    assert ("compress", "ply") in names
    for row in data["stages"]:
        assert row["available"] or row["why_not"], row


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    assert "usage: splatkit" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["info"], ["bogus-command"]])
def test_argparse_usage_errors_exit_2(argv) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(argv)
    assert excinfo.value.code == 2


def test_info_on_a_partial_colmap_model_names_the_missing_file(capsys) -> None:
    from tests.conftest import dataset

    partial = dataset("llff-fern") / "sparse" / "0"
    assert main(["info", str(partial)]) == 2
    err = capsys.readouterr().err
    assert "missing images.bin" in err and "Traceback" not in err


def test_info_describes_a_sog_file(tmp_path, capsys) -> None:
    pytest.importorskip("torch")
    from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
    from splatkit.io.sog import write_sog
    from tests.compress.synthetic import synthetic_cloud

    path = write_sog(encode_sog(synthetic_cloud(500, 1), SogEncodeOptions(device="cpu")).bundle,
                     tmp_path / "scene.sog")
    assert main(["info", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "sog" and data["count"] == 500 and data["sh_degree"] == 1


@pytest.mark.parametrize("command", ["info", "decompress"])
def test_a_damaged_file_gets_its_formats_own_error_not_unknown_format(tmp_path, capsys, command) -> None:
    import gzip

    damaged = tmp_path / "scene.spz"
    damaged.write_bytes(gzip.compress(b"NGSP" + bytes(12))[:20])  # the gzip stream is cut short
    args = [command, str(damaged)] + ([str(tmp_path / "out.ply")] if command == "decompress" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not a valid SPZ file" in err and "not a format splatkit knows" not in err
    assert not (tmp_path / "out.ply").exists()
