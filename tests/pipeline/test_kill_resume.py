"""A training killed mid-run (SIGKILL, no cleanup) resumes from its checkpoint; SfM is not redone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splatkit.pipeline import run
from splatkit.pipeline.manifest import read_manifest
from tests.conftest import PROJECT_ROOT
from tests.pipeline.fakes import FakeSfM, FakeTrainer

SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from splatkit.pipeline import run
from splatkit.plugins import PluginManager
from tests.pipeline.fakes import FakeStagesPlugin
pm = PluginManager(load_entrypoints=False)
pm.register(FakeStagesPlugin(), "fake-stages")
run({photos!r}, {out!r}, config=json.loads({config!r}), plugin_manager=pm)
"""


def start_and_kill_after_checkpoint(photos: Path, out: Path, config: dict, pattern: str,
                                    timeout: float = 240.0) -> list[Path]:
    """Run the pipeline in a subprocess and SIGKILL it once a checkpoint matching ``pattern`` exists."""
    code = SCRIPT.format(root=str(PROJECT_ROOT), photos=str(photos), out=str(out), config=json.dumps(config))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt_dir = out / "train.partial" / "checkpoints"
    deadline = time.monotonic() + timeout
    try:
        while not list(ckpt_dir.glob(pattern)):
            if proc.poll() is not None:
                pytest.fail(f"the run ended (rc {proc.returncode}) before its first checkpoint: "
                            f"{proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within the time limit")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return sorted(ckpt_dir.glob(pattern))


def test_killed_fake_training_resumes_from_its_checkpoint(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    config = {"sfm": {"backend": "fake"}, "train": {"backend": "fake", "steps": 40, "step_seconds": 0.1},
              "compress": {"backend": "ply"}}
    start_and_kill_after_checkpoint(photos, out, config, "ckpt_*.json")
    assert read_manifest(out / "sfm") is not None and not (out / "train").exists()
    done = max(int(p.stem.split("_")[1]) for p in (out / "train.partial" / "checkpoints").glob("ckpt_*.json"))

    result = run(photos, out, config=config, plugin_manager=manager)
    assert {o.kind: o.status for o in result.stages} == {"sfm": "skipped", "train": "ran", "compress": "ran"}
    assert FakeSfM.runs == 0
    assert FakeTrainer.resumed_from == [done] and done >= 1
    assert result.stage("train").resumed
    assert read_manifest(out / "train").report["resumed_from_step"] == done


def _cpu_trainer_ready() -> bool:
    try:
        from splatkit.render import rasterize  # noqa: F401
        from splatkit.train.backends import CpuTrainer
    except ImportError:
        return False
    return CpuTrainer.is_available()


@pytest.mark.skipif(not _cpu_trainer_ready(), reason="the CPU rasterizer or torch/gsplat/numba is missing")
def test_killed_cpu_training_resumes_and_reports_heldout_views(photos, tmp_path, manager) -> None:
    out = tmp_path / "out"
    train = {"backend": "cpu", "steps": 16, "checkpoint_every": 4, "test_every": 3, "refine_start": 4,
             "refine_every": 4, "sh_degree": 1, "sh_degree_interval": 8, "curve_every": 2}
    config = {"sfm": {"backend": "fake"}, "train": train, "compress": {"backend": "ply"}}
    start_and_kill_after_checkpoint(photos, out, config, "ckpt_*.pt")
    steps = [int(p.stem.split("_")[1]) for p in (out / "train.partial" / "checkpoints").glob("ckpt_*.pt")]

    result = run(photos, out, config=config, plugin_manager=manager)
    assert {o.kind: o.status for o in result.stages} == {"sfm": "skipped", "train": "ran", "compress": "ran"}
    assert FakeSfM.runs == 0
    train_report = read_manifest(out / "train").report
    assert train_report["resumed_from_step"] == max(steps) >= 4

    # The report shows the held-out photos beside their renders, and the curve as an SVG.
    report = json.loads((out / "report.json").read_text())
    views = report["training"]["heldout"]["views"]
    assert [v["name"] for v in views] == train_report["heldout_views"] == ["img_000.png", "img_003.png"]
    for v in views:
        assert (out / v["render"]).is_file() and (out / v["photo"]).is_file()
        assert isinstance(v["psnr"], float)
    assert (out / report["training"]["curve_plot"]).is_file()
    html = (out / "report.html").read_text()
    assert all(v["render"] in html and v["photo"] in html for v in views)
