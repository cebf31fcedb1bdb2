"""The command line: fast help, one-line errors, plugins listing, info dispatch."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import os
import subprocess
import sys
from typing import Literal

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


# ------------------------------------------------------------------------------------------------
# Generated options explain themselves: help from the Config's documentation, choices listed


def subparser(parser, *names: str):
    """The (nested) subcommand parser ``names`` of ``parser``."""
    for name in names:
        parser = parser._subparsers._group_actions[0].choices[name]
    return parser


def builtin_backends() -> dict[str, list[str]]:
    from splatkit.plugins import PluginManager

    registry = PluginManager(load_entrypoints=False).stages
    return {kind: registry.names(kind) for kind in ("sfm", "train", "compress")}


def command_paths(parser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every (nested) subcommand of ``parser``: ``("run",)``, ``("sagemaker", "logs")``, ..."""
    if parser._subparsers is None:
        return [prefix]
    paths = [prefix]
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        paths += command_paths(sub, (*prefix, name))
    return paths


def command_lines() -> list[tuple[tuple[str, ...], list[str]]]:
    """(command, argv) for every command, and each stage command with each built-in backend (their flags differ)."""
    from splatkit.cli import build_parser

    backends = builtin_backends()
    lines = [(path, list(path)) for path in command_paths(build_parser([]))]
    lines += [(("run",), ["run", "--sfm", s, "--train", t, "--compress", c])
              for s, t, c in zip(backends["sfm"], backends["train"] * 3, backends["compress"])]
    lines += [((kind,), [kind, "--backend", name]) for kind, names in backends.items() for name in names]
    return lines


@pytest.mark.parametrize("command, argv", command_lines(), ids=lambda v: " ".join(v) or "splatkit")
def test_every_option_of_every_command_has_a_description(command, argv) -> None:
    from splatkit.cli import build_parser

    parser = subparser(build_parser([*argv, "--help"]), *command)
    missing = [a.option_strings or a.dest for a in parser._actions if not (a.help or "").strip()
               or a.help == argparse.SUPPRESS]
    assert not missing, f"`splatkit {' '.join(argv)} --help`: options without a description: {missing}"
    parser.format_help()  # a "%" in a Config's documentation must not break argparse's formatting


def test_generated_flags_carry_the_config_documentation_and_choices() -> None:
    from splatkit.cli import build_parser

    parser = subparser(build_parser(["run", "--sfm", "pycolmap", "--compress", "sog", "--help"]), "run")
    text = " ".join(parser.format_help().split())
    assert "--sfm-matcher {auto,exhaustive,spatial,sequential} auto: exhaustive up to" in text
    assert "--sfm-max-num-features INT SIFT features per image (>= 1; default: 8192)" in text
    assert "--compress-palette-size INT SH palette entries (1..65536)" in text  # int | None: INT, not VALUE
    assert "--compress-webp-effort INT libwebp lossless preset 0..9 (>= 0 and <= 9; default: 4)" in text  # ranged()


def test_every_choice_flag_refuses_a_bad_value_with_argparses_message(capsys) -> None:
    from splatkit.cli import build_parser, config_field_help
    from splatkit.plugins import PluginManager

    registry = PluginManager(load_entrypoints=False).stages
    checked = 0
    for kind, names in builtin_backends().items():
        for name in names:
            for field, doc in config_field_help(registry.get(kind, name).Config).items():
                if not doc.choices:
                    continue
                flag = f"--{field.replace('_', '-')}"
                argv = [kind, "IN", "OUT", "--backend", name, flag, "bogus"]
                with pytest.raises(SystemExit) as excinfo:
                    build_parser(argv).parse_args(argv)
                assert excinfo.value.code == 2
                err = capsys.readouterr().err
                assert f"argument {flag}: invalid choice: 'bogus' (choose from " in err, err
                assert f"'{doc.choices[0]}'" in err
                checked += 1
    assert checked >= 2  # sfm/pycolmap's matcher and camera_mode at least


def undocumented_fields(config_cls) -> list[str]:
    from splatkit.cli import config_field_help

    return [name for name, doc in config_field_help(config_cls).items() if not doc.description]


def builtin_configs() -> list:
    from splatkit.plugins import PluginManager

    registry = PluginManager(load_entrypoints=False).stages
    configs = {registry.get(kind, name).Config for kind, names in builtin_backends().items() for name in names}
    return sorted(configs, key=lambda c: c.__qualname__)


@pytest.mark.parametrize("config_cls", builtin_configs(), ids=lambda c: c.__qualname__)
def test_every_builtin_config_field_is_documented(config_cls) -> None:
    import inspect

    missing = undocumented_fields(config_cls)
    assert not missing, (f"{inspect.getsourcefile(config_cls)}: {config_cls.__qualname__} does not document "
                         f"{missing} (numpy Attributes section, or a #: comment above the field)")


# ------------------------------------------------------------------------------------------------
# config_field_help reads the documentation wherever the Config's author put it


class Matcher(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DocumentedConfig:
    """Options of a test stage.

    Some prose first, naming ``mode`` without documenting it.

    Attributes
    ----------
    mode : {"a", "b"}
        How it works. A second sentence that the help leaves out.
    low, high : int
        Bounds in ``px``, see :func:`~splatkit.io.ply.read_ply` (50 % of the width).
    lo_angle, hi_angle
        Thresholds without a type.

    Notes
    -----
    unrelated : str
        Not a field section.
    """

    mode: str = "a"
    low: int = 0
    high: int = 10
    lo_angle: float = 1.0
    hi_angle: float = 2.0
    #: Commented above,
    #: over two lines.
    above: int = 3
    trailing: float = 0.5  # Commented after.
    pragma_only: int = 1  # noqa: E501
    literal: str = "x"
    """Documented by a string below."""
    kind: Literal["p", "q"] | None = None
    matcher: Matcher = Matcher.FAST
    unrelated: str = ""


def test_config_field_help_reads_numpy_sections_comments_and_annotations() -> None:
    from splatkit.cli import config_field_help

    docs = config_field_help(DocumentedConfig)
    assert list(docs) == [f.name for f in dataclasses.fields(DocumentedConfig)]
    assert docs["mode"].description == "How it works" and docs["mode"].choices == ("a", "b")
    assert docs["low"].description == docs["high"].description == "Bounds in px, see read_ply (50 % of the width)"
    assert docs["lo_angle"].description == docs["hi_angle"].description == "Thresholds without a type"
    assert docs["above"].description == "Commented above, over two lines"
    assert docs["trailing"].description == "Commented after"
    assert docs["literal"].description == "Documented by a string below"
    assert docs["kind"].choices == ("p", "q", "none") and docs["matcher"].choices == ("fast", "slow")
    assert undocumented_fields(DocumentedConfig) == ["pragma_only", "kind", "matcher", "unrelated"]


def test_generated_flags_of_a_plugin_config_parse_and_format(capsys) -> None:
    from splatkit.cli import _add_config_flags

    parser = argparse.ArgumentParser(prog="x")
    _add_config_flags(parser, DocumentedConfig, kind="train", prefix="", title="test options")
    text = parser.format_help()  # the "%" in a description is escaped for argparse
    assert "(50 % of the width)" in text and "not documented in tests.test_cli.DocumentedConfig" in text
    args = parser.parse_args(["--mode", "b", "--kind", "none", "--matcher", "slow", "--low", "4"])
    assert vars(args) == {"stage_option:train:mode": "b", "stage_option:train:kind": "none",
                          "stage_option:train:matcher": "slow", "stage_option:train:low": "4"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])
    assert "argument --mode: invalid choice: 'c' (choose from 'a', 'b')" in capsys.readouterr().err


def test_quality_shorthand_sets_the_training_preset_and_yields_to_the_full_flag(
        capsys: pytest.CaptureFixture[str]) -> None:
    from splatkit.cli import main

    assert main(["run", "--print-config", "--quality", "standard"]) == 0
    assert 'quality = "standard"' in capsys.readouterr().out
    assert main(["run", "--print-config", "--quality", "standard", "--set", "train.quality=high"]) == 0
    assert 'quality = "high"' in capsys.readouterr().out
    assert main(["run", "--print-config", "--quality", "bogus"]) != 0
    assert "quality must be one of" in capsys.readouterr().err


def test_demo_and_run_stop_in_one_line_when_another_run_holds_out(tmp_path, capsys) -> None:
    """The demo takes OUT's lock before it writes OUT/photos; run and demo offer --wait."""
    import threading

    from splatkit.cli import build_parser, main
    from splatkit.pipeline.lock import out_dir_lock

    out = tmp_path / "out"
    out.mkdir()
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with out_dir_lock(out):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        status = main(["demo", str(out)])
        err = capsys.readouterr().err
    finally:
        release.set()
        thread.join()
    assert status != 0 and "splatkit: error:" in err and str(os.getpid()) in err and "Traceback" not in err
    assert not (out / "photos").exists()
    for command in (["run", "p", "o"], ["demo", "o"]):
        assert build_parser(command).parse_args([*command, "--wait"]).wait is True
