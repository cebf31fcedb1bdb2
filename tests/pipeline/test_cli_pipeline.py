"""``splatkit run``/``demo``/``sfm``/``train``/``compress``/``decompress``: results, and bad input as one line."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from splatkit.cli import main
from splatkit.io.ply import read_ply
from splatkit.pipeline.manifest import read_manifest
from tests.pipeline.fakes import FakeTrainer

FAKE_FLAGS = ["--sfm", "fake", "--train", "fake", "--compress", "ply"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splatkit", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("splatkit: error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def cli_manager(manager, monkeypatch):
    """In-process CLI calls see the fake stages."""
    monkeypatch.setattr("splatkit.plugins.manager._default", manager)
    return manager


# ------------------------------------------------------------------------------------------------
# Bad input through the real command (fresh interpreter, real plugins)


def test_missing_photos_path(tmp_path) -> None:
    result = run_cli("run", str(tmp_path / "nope"), str(tmp_path / "out"))
    assert_one_line_error(result, str(tmp_path / "nope"), "does not exist")
    assert not (tmp_path / "out").exists()


def test_empty_zip(tmp_path) -> None:
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    assert_one_line_error(run_cli("run", str(empty), str(tmp_path / "out")), "empty.zip", "ZIP is empty")


def test_zip_of_pdfs(tmp_path) -> None:
    pdfs = tmp_path / "docs.zip"
    with zipfile.ZipFile(pdfs, "w") as zf:
        for i in range(3):
            zf.writestr(f"report_{i}.pdf", b"%PDF-1.4\n%fake\n")
    assert_one_line_error(run_cli("run", str(pdfs), str(tmp_path / "out")), "docs.zip", "no photos",
                          "report_0.pdf")


def test_unwritable_output_folder(photos, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        try:
            (locked / "probe").write_text("x")
            pytest.skip("running with privileges that ignore folder permissions (root)")
        except PermissionError:
            pass
        result = run_cli("run", str(photos), str(locked / "out"))
        assert_one_line_error(result, str(locked / "out"), "not writable")
    finally:
        locked.chmod(0o700)


def test_unknown_backend_name(photos, tmp_path) -> None:
    result = run_cli("run", str(photos), str(tmp_path / "out"), "--compress", "zstd")
    assert_one_line_error(result, "unknown compress backend 'zstd'", "sog")
    result = run_cli("train", str(photos), str(tmp_path / "out"), "--backend", "vulkan")
    assert_one_line_error(result, "unknown train backend 'vulkan'", "cpu")


def test_unknown_option_flag_is_a_usage_error(photos, tmp_path) -> None:
    result = run_cli("run", str(photos), str(tmp_path / "out"), "--train-stepz", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--train-stepz" in result.stderr


def test_help_lists_the_stage_commands_and_backend_flags() -> None:
    result = run_cli("run", "--train", "cpu", "--help")
    assert result.returncode == 0
    assert "--train-steps" in result.stdout and "--compress-order" in result.stdout
    top = run_cli("--help")
    for command in ("run", "demo", "sfm", "train", "compress", "decompress", "info", "plugins"):
        assert command in top.stdout


# ------------------------------------------------------------------------------------------------
# Working runs (in-process, with the fake stages)


def test_run_then_rerun_skips(photos, tmp_path, cli_manager, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(photos), str(out), *FAKE_FLAGS, "--train-steps", "3"]) == 0
    first = capsys.readouterr().out
    assert "train/fake: ran" in first and f"final file: {out / 'compress' / 'splats.ply'}" in first
    assert f"see it in 3D: splatkit view {out}" in first
    assert read_manifest(out / "train").config["steps"] == 3
    assert main(["run", str(photos), str(out), *FAKE_FLAGS, "--set", "train.steps=3"]) == 0
    second = capsys.readouterr().out
    assert "sfm/fake: skipped" in second and "train/fake: skipped" in second and "compress/ply: skipped" in second
    assert FakeTrainer.runs == 1


def test_config_file_and_print_config(photos, tmp_path, cli_manager, capsys) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[sfm]\nbackend = "fake"\n[train]\nbackend = "fake"\nsteps = 7\n[compress]\nbackend = "ply"\n')
    assert main(["run", "--print-config", "--config", str(config), "--train-seed", "5"]) == 0
    printed = capsys.readouterr().out
    assert '[train]\nbackend = "fake"\nsteps = 7\n' in printed and "seed = 5" in printed
    again = tmp_path / "again.toml"
    again.write_text(printed)
    out = tmp_path / "out"
    assert main(["run", str(photos), str(out), "--config", str(again)]) == 0
    assert read_manifest(out / "train").config == {"steps": 7, "checkpoint_every": 1, "step_seconds": 0.0,
                                                   "seed": 5, "fail_at": -1}


def test_stage_commands_chain(photos, tmp_path, cli_manager, capsys) -> None:
    sfm, train, comp = tmp_path / "sfm", tmp_path / "train", tmp_path / "comp"
    assert main(["sfm", str(photos), str(sfm), "--backend", "fake", "--num-points", "120"]) == 0
    assert read_manifest(sfm).config["num_points"] == 120
    assert main(["train", str(sfm), str(train), "--backend", "fake", "--steps", "2"]) == 0
    assert (train / "point_cloud.ply").is_file()
    # The train input digest is the SfM folder's output digest: the stages chain like the pipeline.
    assert read_manifest(train).input_digest == read_manifest(sfm).output_digest
    assert main(["compress", str(train / "point_cloud.ply"), str(comp), "--backend", "ply",
                 "--sh-degree", "0"]) == 0
    out = capsys.readouterr().out
    assert f"output: {comp / 'splats.ply'}" in out
    assert main(["train", str(sfm), str(train), "--backend", "fake", "--steps", "2"]) == 0
    assert "train/fake: skipped" in capsys.readouterr().out


def test_stage_command_refuses_to_replace_a_user_folder(photos, tmp_path, cli_manager, capsys) -> None:
    target = tmp_path / "Documents"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    assert main(["sfm", str(photos), str(target), "--backend", "fake"]) == 2
    assert "not a finished splatkit stage folder" in capsys.readouterr().err
    assert (target / "thesis.tex").read_text() == "years of work"


def test_compress_sog_and_decompress_round_trip(photos, tmp_path, cli_manager, capsys) -> None:
    from splatkit.compress.sog_backend import SogCompressor

    if not SogCompressor.is_available():
        pytest.skip("sog backend unavailable")
    assert main(["sfm", str(photos), str(tmp_path / "sfm"), "--backend", "fake"]) == 0
    assert main(["train", str(tmp_path / "sfm"), str(tmp_path / "train"), "--backend", "fake"]) == 0
    ply = tmp_path / "train" / "point_cloud.ply"
    assert main(["compress", str(ply), str(tmp_path / "comp"), "--backend", "sog", "--order", "morton",
                 "--no-verify"]) == 0
    sog = tmp_path / "comp" / "scene.sog"
    assert sog.is_file()
    assert main(["decompress", str(sog), str(tmp_path / "back.ply")]) == 0
    original, decoded = read_ply(ply), read_ply(tmp_path / "back.ply")
    assert len(decoded) == len(original)
    assert abs(decoded.means.mean(axis=0) - original.means.mean(axis=0)).max() < 0.05


def exit_status(argv: list[str]) -> int:
    """``main(argv)``'s status, also when argparse refuses the command line (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code or 0)


# A bad choice is refused by argparse when the Config documents the choices, else by the Config.
@pytest.mark.parametrize("flags, messages", [(["--order", "bogus"], ("order must be one of", "invalid choice")),
                                             (["--palette-size", "0"], ("palette_size must be",))])
def test_compress_bad_option_fails_before_any_output(flags, messages, tmp_path, capsys) -> None:
    from splatkit.io.ply import write_ply
    from tests.compress.synthetic import synthetic_cloud

    ply = write_ply(synthetic_cloud(200, 1), tmp_path / "in.ply")
    for out in ("out", "out.sog"):
        assert exit_status(["compress", str(ply), str(tmp_path / out), "--backend", "sog", *flags]) == 2
        err = capsys.readouterr().err
        assert any(message in err for message in messages), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ply"]          # no OUT, no OUT.partial


def test_decompress_missing_file_is_one_line(tmp_path) -> None:
    assert_one_line_error(run_cli("decompress", str(tmp_path / "x.sog"), str(tmp_path / "x.ply")), "x.sog")


def test_demo_generates_photos_then_runs_the_pipeline(tmp_path, cli_manager, monkeypatch, capsys) -> None:
    import splatkit.demo
    from tests.pipeline.fakes import write_photos

    calls = []

    def fake_generator(out_dir, *, progress=None):  # the real flight takes minutes to reconstruct
        calls.append(Path(out_dir))
        return write_photos(Path(out_dir) / "photos")

    monkeypatch.setattr(splatkit.demo, "generate_demo_photos", fake_generator)
    out = tmp_path / "demo"
    assert main(["demo", str(out), *FAKE_FLAGS, "--train-steps", "2"]) == 0
    assert calls == [out]
    printed = capsys.readouterr().out
    assert f"demo photos: {out / 'photos'}" in printed and "compress/ply: ran" in printed
    assert (out / "report.html").is_file()


def test_unwritable_output_under_a_file(photos, tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli("run", str(photos), str(blocker / "out"))
    assert_one_line_error(result, str(blocker / "out"), "not writable")


@pytest.mark.parametrize("argv", [["run", "--help"], ["train", "--backend", "cpu", "--help"],
                                  ["compress", "--help"], ["compress", "in.ply", "out.spz", "--help"]])
def test_command_help_with_generated_flags_imports_no_heavy_package(argv) -> None:
    code = (
        "import sys\n"
        "from splatkit.cli import build_parser\n"
        f"parser = build_parser({argv!r})\n"
        f"sub = parser._subparsers._group_actions[0].choices[{argv[0]!r}]\n"
        "text = sub.format_help()\n"
        "assert '--set' in text, text\n"
        "heavy = [m for m in ('torch', 'pycolmap', 'gsplat', 'boto3', 'numba') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------------------------------
# compress/decompress: OUT.<suffix> is that file (as splat-transform writes it), OUT/ the stage folder


@pytest.fixture
def small_ply(tmp_path: Path) -> Path:
    from splatkit.io.ply import write_ply
    from tests.compress.synthetic import synthetic_cloud

    return write_ply(synthetic_cloud(300, 1, seed=3), tmp_path / "in.ply")


def names_in(folder: Path) -> list[str]:
    """Everything in ``folder``, hidden scratch included: an atomic write leaves nothing behind."""
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("suffix, backend", [(".spz", "spz"), (".ply", "ply")])
def test_compress_to_a_file_named_by_its_suffix(small_ply, tmp_path, capsys, suffix, backend) -> None:
    from splatkit.plugins import get_plugin_manager

    out = tmp_path / f"c{suffix}"
    assert main(["-q", "compress", str(small_ply), str(out)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"compress/{backend}: ran", f"output: {out}"]
    assert names_in(tmp_path) == sorted(["in.ply", out.name])          # a file, no stage folder, no scratch
    assert get_plugin_manager().formats.detect(out).name == backend
    assert len(get_plugin_manager().formats.get(backend)().decode(out)) == 300


def test_compress_to_a_folder_keeps_the_stage_layout(small_ply, tmp_path, capsys) -> None:
    for out in (tmp_path / "plain", tmp_path / "dotted.v2"):             # no splat suffix: a folder
        assert main(["-q", "compress", str(small_ply), str(out), "--backend", "spz"]) == 0
        assert (out / "manifest.json").is_file() and (out / "scene.spz").is_file()
    slash = f"{tmp_path / 'slash.spz'}/"                                  # a trailing slash: a folder too
    assert main(["-q", "compress", str(small_ply), slash, "--backend", "spz"]) == 0
    assert (tmp_path / "slash.spz" / "manifest.json").is_file()


def test_the_output_suffix_chooses_the_backend_and_its_flags(small_ply, tmp_path, capsys) -> None:
    from splatkit.io.spz import read_spz_header

    out = tmp_path / "v2.spz"
    assert main(["-q", "compress", str(small_ply), str(out), "--version", "2", "--sh-rest-bits", "3"]) == 0
    assert read_spz_header(out).version == 2


def test_a_backend_that_writes_another_suffix_is_refused_before_any_work(small_ply, tmp_path, capsys) -> None:
    assert main(["compress", str(small_ply), str(tmp_path / "c.sog"), "--backend", "spz"]) == 2
    err = capsys.readouterr().err
    assert "--backend spz writes .spz files, not .sog" in err and "c.spz" in err
    assert names_in(tmp_path) == ["in.ply"]


def test_a_failed_compress_leaves_the_old_file_and_no_scratch(small_ply, tmp_path, capsys, monkeypatch) -> None:
    from splatkit.compress.spz_backend import SpzCompressor
    from splatkit.errors import StageError

    out = tmp_path / "c.spz"
    out.write_bytes(b"the previous result")

    def fail_midway(self, input, config, workdir, progress=None):
        (Path(workdir) / "scene.spz").write_bytes(b"half a file")
        raise StageError("disk trouble", stage="compress/spz", source="test")

    monkeypatch.setattr(SpzCompressor, "run", fail_midway)
    assert main(["-q", "compress", str(small_ply), str(out)]) == 2
    assert "disk trouble" in capsys.readouterr().err
    assert out.read_bytes() == b"the previous result"
    assert names_in(tmp_path) == ["c.spz", "in.ply"]


def test_decompress_writes_the_named_file_or_into_a_folder(small_ply, tmp_path, capsys) -> None:
    from splatkit.io.ply import read_ply
    from splatkit.io.spz import read_spz

    spz = tmp_path / "c.spz"
    assert main(["-q", "compress", str(small_ply), str(spz)]) == 0
    assert main(["decompress", str(spz), str(tmp_path / "back.ply")]) == 0
    assert len(read_ply(tmp_path / "back.ply")) == 300
    assert main(["decompress", str(spz), str(tmp_path / "again.spz")]) == 0   # any format that writes
    assert len(read_spz(tmp_path / "again.spz")) == 300
    assert main(["decompress", str(spz), str(tmp_path / "folder")]) == 0
    assert names_in(tmp_path / "folder") == ["c.ply"]
    capsys.readouterr()
    assert main(["decompress", str(spz), str(tmp_path / "x.sog")]) == 2
    assert "a .sog file is written by `splatkit compress IN.ply OUT.sog`" in capsys.readouterr().err
    assert not (tmp_path / "x.sog").exists()


def test_compress_to_a_sog_file_that_splat_transform_reads(small_ply, tmp_path, capsys) -> None:
    from splatkit.compress.sog_backend import SogCompressor
    from tests.conftest import find_splat_transform, run_splat_transform

    if not SogCompressor.is_available():
        pytest.skip("sog backend unavailable")
    out = tmp_path / "c.sog"
    assert main(["-q", "compress", str(small_ply), str(out), "--no-verify", "--quality-views", "0"]) == 0
    assert names_in(tmp_path) == ["c.sog", "in.ply"]
    assert zipfile.is_zipfile(out)
    exe = find_splat_transform()
    if exe is None:
        pytest.skip("splat-transform not installed (set SPLATKIT_SPLAT_TRANSFORM)")
    run_splat_transform(exe, str(out), str(tmp_path / "back.ply"))
    assert len(read_ply(tmp_path / "back.ply")) == 300
