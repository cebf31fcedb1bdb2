"""End-to-end CPU training on a tiny synthetic scene: learning, densification, checkpoint resume."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gsplat")
pytest.importorskip("numba")

from splatkit.errors import ContractError  # noqa: E402
from splatkit.io.ply import read_ply  # noqa: E402
from splatkit.plugins import PluginManager  # noqa: E402
from splatkit.reports import TRAINING_REPORT_KEYS, TrainingReport  # noqa: E402
from splatkit.train.trainer import TrainConfig  # noqa: E402
from tests.train.synthetic import make_scene  # noqa: E402

FAST = dict(sh_degree=1, sh_degree_interval=20, refine_start=20, refine_every=20, reset_every=60,
            checkpoint_every=0, test_every=5, curve_every=10)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("scene"))


def _stage(name: str = "cpu"):
    return PluginManager(load_entrypoints=False).stages.require_available("train", name)()


def test_cpu_training_learns_and_writes_outputs(scene, tmp_path) -> None:
    result = _stage().run(scene, TrainConfig(steps=120, refine_stop=100, **FAST), tmp_path)
    report = result.report
    cloud = result.output
    assert (tmp_path / "point_cloud.ply").is_file() and (tmp_path / "metrics.json").is_file()
    assert read_ply(tmp_path / "point_cloud.ply").equals(cloud)
    first, last = report["curve"][0]["loss"], report["final_loss"]
    assert last < 0.6 * first, report["curve"]
    assert report["heldout_views"] == ["view000.png", "view005.png"]
    assert report["heldout"]["mean"]["psnr"] > 15.0
    assert report["opacity_resets"] == 1  # at step 60, the reset gsplat 1.5.3 skips
    assert report["num_gaussians"] != len(scene.reconstruction.points)  # densification ran
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == ["view000.png", "view005.png"]
    # metrics.json is the stage report, in the documented schema (splatkit.reports), every key present.
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == report and tuple(metrics) == TRAINING_REPORT_KEYS
    assert TrainingReport.from_dict(metrics).to_dict() == metrics
    assert report["train_views"] == 8 and report["initial_points"] == len(scene.reconstruction.points)


def test_training_refuses_a_thin_model_with_contract_error(scene, tmp_path) -> None:
    with pytest.raises(ContractError, match="synthetic test scene"):
        _stage().run(scene, TrainConfig(steps=5, min_points=10_000, **FAST), tmp_path)


def test_gsplat_backend_explains_when_unusable(scene, tmp_path) -> None:
    cls = PluginManager(load_entrypoints=False).stages.get("train", "gsplat")
    if cls.unavailable_reason() is None and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from splatkit.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match="cpu"):
        if cls.unavailable_reason() is not None:
            PluginManager(load_entrypoints=False).stages.require_available("train", "gsplat")
        cls().run(scene, TrainConfig(steps=1, **FAST), tmp_path)


def test_checkpoint_of_another_scene_in_the_workdir_is_not_resumed(scene, tmp_path, caplog) -> None:
    other = make_scene(tmp_path / "other_scene", seed=1)
    config = TrainConfig(steps=30, refine_stop=25, **{**FAST, "checkpoint_every": 20})
    _stage().run(other, config, tmp_path / "work")
    assert [p.name for p in (tmp_path / "work" / "checkpoints").iterdir()] == ["ckpt_00000020.pt"]

    with caplog.at_level(logging.WARNING, logger="splatkit.train.checkpoint"):
        result = _stage().run(scene, config, tmp_path / "work")
    assert result.report["resumed_from_step"] == 0
    assert any("other input data" in r.getMessage() for r in caplog.records)
    fresh = _stage().run(scene, config, tmp_path / "fresh").output
    np.testing.assert_array_equal(result.output.means, fresh.means)


def test_stale_checkpoint_with_other_options_neither_blocks_resume_nor_prunes_the_run(scene, tmp_path) -> None:
    work = tmp_path / "work"
    stale = TrainConfig(steps=50, refine_stop=45, **{**FAST, "checkpoint_every": 40})
    _stage().run(scene, stale, work)  # leaves ckpt_00000040.pt, newer than anything the run below writes
    config = TrainConfig(steps=30, refine_stop=25, **{**FAST, "checkpoint_every": 10, "keep_checkpoints": 1})
    straight = _stage().run(scene, config, work)
    assert straight.report["resumed_from_step"] == 0
    assert sorted(p.name for p in (work / "checkpoints").iterdir()) == ["ckpt_00000020.pt", "ckpt_00000040.pt"]

    resumed = _stage().run(scene, config, work)
    assert resumed.report["resumed_from_step"] == 20
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(resumed.output, name), getattr(straight.output, name), err_msg=name)


KILLER = textwrap.dedent("""
    import os, pickle, signal, sys
    from pathlib import Path
    from splatkit.plugins import PluginManager
    from splatkit.train.trainer import TrainConfig

    scene, config, workdir, kill_at = pickle.loads(Path(sys.argv[1]).read_bytes())

    def progress(update):
        if update.step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    PluginManager(load_entrypoints=False).stages.get("train", "cpu")().run(scene, config, Path(workdir), progress)
""")


def test_killed_run_resumes_bitwise_equal_to_uninterrupted(scene, tmp_path) -> None:
    config = TrainConfig(steps=50, refine_stop=45, **{**FAST, "checkpoint_every": 20, "reset_every": 40})
    straight = _stage().run(scene, config, tmp_path / "straight").output

    job = tmp_path / "job.pkl"
    job.write_bytes(pickle.dumps((scene, config, str(tmp_path / "killed"), 27)))
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])}
    proc = subprocess.run([sys.executable, str(script), str(job)], env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert sorted(p.name for p in (tmp_path / "killed" / "checkpoints").iterdir()) == ["ckpt_00000020.pt"]
    assert not (tmp_path / "killed" / "point_cloud.ply").exists()

    resumed = _stage().run(scene, config, tmp_path / "killed")
    assert resumed.report["resumed_from_step"] == 20
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(resumed.output, name), getattr(straight, name), err_msg=name)


def test_a_stop_request_writes_a_checkpoint_at_that_step_and_the_run_resumes_there(scene, tmp_path) -> None:
    """What SageMaker's SIGTERM does through the entry's progress callback (spot reclaim)."""
    from splatkit.stages import StopRequested

    config = TrainConfig(steps=40, refine_stop=35, **{**FAST, "checkpoint_every": 30})
    straight = _stage().run(scene, config, tmp_path / "straight").output

    def stop_at_13(update):
        if update.step == 13:
            raise StopRequested("SIGTERM")

    with pytest.raises(StopRequested):
        _stage().run(scene, config, tmp_path / "stopped", stop_at_13)
    assert [p.name for p in (tmp_path / "stopped" / "checkpoints").iterdir()] == ["ckpt_00000013.pt"]
    resumed = _stage().run(scene, config, tmp_path / "stopped")
    assert resumed.report["resumed_from_step"] == 13 and resumed.report["steps"] == 40
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(resumed.output, name), getattr(straight, name), err_msg=name)
