"""``splatkit bench``: the cpu-smoke preset on the synthetic scene, end to end, and its SageMaker behaviour.

The one real run goes through the bench sub-command as a SageMaker training job would start it
(``TRAINING_JOB_NAME`` set, ``/opt/ml`` moved under tmp_path): the record lands in the model
folder and is checked against the schema.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from splatkit.bench.cli import add_bench_parser, default_out_dir
from splatkit.bench.environment import capture_environment, git_commit
from splatkit.bench.schema import read_record
from splatkit.bench.suite import MARKER_FILE, PRESETS, RECORD_FILE, RUN_DIR, record_file_name, run_bench
from splatkit.errors import InputError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="splatkit")
    add_bench_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def sagemaker_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Run ``splatkit bench synthetic --preset cpu-smoke`` inside an emulated training job, once."""
    root = tmp_path_factory.mktemp("opt_ml")
    mp = pytest.MonkeyPatch()
    mp.setenv("TRAINING_JOB_NAME", "splatkit-bench-test")
    mp.setenv("SPLATKIT_SAGEMAKER_ROOT", str(root))
    mp.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        args = _parse(["bench", "synthetic", "--preset", "cpu-smoke"])
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert args.func(args) == 0
    finally:
        mp.undo()
    return root, out.getvalue()


@pytest.mark.slow
def test_cpu_smoke_record_is_complete_and_valid(sagemaker_run: tuple[Path, str]) -> None:
    root, printed = sagemaker_run
    path = root / "model" / RECORD_FILE
    assert f"record: {path}" in printed
    record = read_record(path)
    assert record["scene"] == {**record["scene"], "name": "synthetic", "photos": 32}
    assert record["preset"]["name"] == "cpu-smoke"
    assert all(record["stages"][k]["status"] == "ran" and record["stages"][k]["seconds"] > 0
               for k in ("sfm", "train", "compress"))
    t = record["training"]
    assert t["backend"] == "cpu" and t["steps"] == 150 and t["num_gaussians"] > 0 and t["steps_per_second"] > 0
    assert t["psnr"] > 10 and 0 < t["ssim"] <= 1 and any(p["psnr"] is not None for p in t["curve"])
    c = record["compression"]
    assert c["file"] == "scene.sog" and c["bytes"] == (root / "model" / RUN_DIR / "compress" / "scene.sog").stat().st_size
    assert c["render_psnr"] is None or c["render_psnr"] > 20
    # No GPU here: no GPU peak, but the host's peak resident set.
    assert record["memory"]["peak_gpu_bytes"] is None and record["memory"]["peak_host_rss_bytes"] > 0
    env = record["environment"]
    assert env["sagemaker_job"] == "splatkit-bench-test" and env["versions"]["splatkit"]
    assert (root / "model" / MARKER_FILE).is_file()


@pytest.mark.slow
def test_a_second_bench_replaces_its_own_run_folder(sagemaker_run: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = sagemaker_run
    # A folder bench did not make is never removed.
    foreign = tmp_path / "b"
    (foreign / RUN_DIR).mkdir(parents=True)
    with pytest.raises(InputError, match="was not made by splatkit bench"):
        run_bench("synthetic", "cpu-smoke", foreign)
    assert (foreign / RUN_DIR).is_dir()


def test_sagemaker_failure_goes_to_the_failure_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "opt_ml"
    root.mkdir()
    monkeypatch.setenv("TRAINING_JOB_NAME", "j")
    monkeypatch.setenv("SPLATKIT_SAGEMAKER_ROOT", str(root))
    monkeypatch.delenv("SPLATKIT_DATASETS", raising=False)
    args = _parse(["bench", "llff-fern", "--preset", "7k", "--out", str(tmp_path / "o")])
    with pytest.raises(InputError, match="llff-fern"):
        args.func(args)
    failure = (root / "output" / "failure").read_text(encoding="utf-8")
    assert "llff-fern/images_8" in failure and "input/data/datasets" in failure


def test_default_out_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TRAINING_JOB_NAME", raising=False)
    assert default_out_dir("llff-fern", "7k") == Path("bench-out/llff-fern-7k")
    monkeypatch.setenv("TRAINING_JOB_NAME", "j")
    monkeypatch.setenv("SPLATKIT_SAGEMAKER_ROOT", str(tmp_path))
    assert default_out_dir("llff-fern", "7k") == tmp_path / "model"


def test_real_scene_without_datasets_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="pass --datasets DIR or set SPLATKIT_DATASETS"):
        run_bench("caliterra-30", "7k", tmp_path / "o")
    with pytest.raises(InputError, match=r"is not a folder; --datasets must hold odm-caliterra-30/images"):
        run_bench("caliterra-30", "7k", tmp_path / "o", datasets_root=tmp_path)
    with pytest.raises(InputError, match="unknown preset 'fast'; choose one of cpu-smoke, 7k, 30k"):
        run_bench("synthetic", "fast", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_presets_and_cli_choices() -> None:
    assert set(PRESETS) == {"cpu-smoke", "7k", "30k"}
    assert PRESETS["7k"].options["train"]["steps"] == 7000 and PRESETS["30k"].options["train"]["steps"] == 30000
    args = _parse(["bench", "caliterra-30", "--preset", "30k", "--set", "train.max_gaussians=100", "--train", "gsplat"])
    assert (args.scene, args.preset, args.set, args.train) == ("caliterra-30", "30k", ["train.max_gaussians=100"],
                                                               "gsplat")
    with pytest.raises(SystemExit):
        _parse(["bench", "mip360"])


def test_record_file_name() -> None:
    assert record_file_name("caliterra-30", "7k", "NVIDIA A10G") == "bench-caliterra-30-7k--nvidia-a10g.json"
    assert record_file_name("synthetic", "cpu-smoke", "cpu: AMD EPYC") == "bench-synthetic-cpu-smoke--cpu-amd-epyc.json"


def test_environment_on_this_machine() -> None:
    env = capture_environment(cuda=False)
    assert env["gpu_name"] is None and env["vram_bytes"] is None and env["device"].startswith("cpu: ")
    assert set(env["versions"]) >= {"python", "splatkit", "torch", "gsplat", "pycolmap", "numpy"}
    json.dumps(env)


def test_git_commit_outside_a_checkout_is_none(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None


def test_importing_the_bench_cli_stays_light() -> None:
    code = ("import sys, splatkit.bench.cli, splatkit.bench.costs, splatkit.bench.summary; "
            "print(sorted(m for m in ('torch', 'pycolmap', 'gsplat', 'boto3', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
