"""Fault injection on a real, demo-sized ``splatkit run`` (pycolmap, CPU training, SOG).

The command is killed with SIGKILL at two or three points of every stage, one kill after the
other on one output folder, each re-run resuming the last; the final files must equal those of
an uninterrupted run, training must have resumed from its last checkpoint, and neither the
output folder nor the temporary folder (``TMPDIR``, pointed into ``tmp_path``) may keep a stray
file. Two concurrent runs on one folder must both end clearly and leave a single run's output.

The kill is a progress callback that SIGKILLs its own process at a chosen stage and step: the
same as a kill from outside, without racing a file watcher against a stage that takes
milliseconds. The photos are a ZIP, so the SfM stage extracts them (the old leak into the
temporary folder).

Slow (about two minutes on two cores): six 240x180 photos, 20 training steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from splatkit.pipeline.events_log import read_events
from splatkit.pipeline.manifest import read_manifest
from tests.conftest import PROJECT_ROOT

pytest.importorskip("pycolmap")
pytest.importorskip("torch")
pytest.importorskip("numba")

pytestmark = pytest.mark.slow

FLAGS = ("--train", "cpu", "--train-steps", "20", "--train-checkpoint-every", "5", "--train-refine-start", "5",
         "--train-refine-every", "5", "--train-sh-degree", "0", "--sfm-num-threads", "1",
         "--compress-iterations", "2", "--no-compress-verify")

# `splatkit run` whose progress callback SIGKILLs the process at argv[1]'s stage once its step
# reaches argv[2] (no cleanup, no atexit, no finally: a kill from outside).
KILLER = """
import os, signal, sys
sys.path.insert(0, {root!r})
import splatkit.pipeline.runner as runner

kind, step = sys.argv[1], int(sys.argv[2])

class KillAt:
    def __call__(self, update):
        if update.stage.split("/")[0] == kind and update.step >= step:
            os.kill(os.getpid(), signal.SIGKILL)

original = runner.run

def run(*args, **kwargs):
    kwargs["progress"] = KillAt()
    return original(*args, **kwargs)

runner.run = run
from splatkit.cli import main
sys.exit(main(sys.argv[3:]))
"""


def splatkit_env(tmp_path: Path) -> dict[str, str]:
    """Environment with a temporary folder of the test's own (checked empty at the end)."""
    systemp = tmp_path / "systemp"
    systemp.mkdir(exist_ok=True)
    # torch's compile cache is a cache, not a leftover: keep it out of the checked folder.
    return {**os.environ, "TMPDIR": str(systemp), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor_cache")}


def splatkit_run(photos: Path, out: Path, env: dict[str, str], *, kill: tuple[str, int] | None = None,
                 wait: bool = True) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    args = ["-q", "run", str(photos), str(out), *FLAGS]
    if kill is None:
        cmd = [sys.executable, "-m", "splatkit", *args]
    else:
        cmd = [sys.executable, "-c", KILLER.format(root=str(PROJECT_ROOT)), kill[0], str(kill[1]), *args]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def stray_in_tmpdir(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "systemp").iterdir())


def outputs(out: Path) -> dict[str, tuple[str, list[str]]]:
    """Each stage's output digest and file names (sfm/report.json's size varies with its timings)."""
    found = {}
    for kind in ("sfm", "train", "compress"):
        manifest = read_manifest(out / kind)
        assert manifest is not None, f"{out / kind} is not a finished stage"
        found[kind] = (manifest.output_digest, sorted(manifest.files))
    return found


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def photo_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from splatkit.demo import DemoConfig, generate_demo_photos

    folder = generate_demo_photos(tmp_path_factory.mktemp("demo"), max_workers=1,
                                  config=DemoConfig(n_orbit=0, grid_columns=3, grid_rows=2, width=240, height=180,
                                                    supersample=1))
    path = folder.parent / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for photo in sorted(Path(folder).iterdir()):
            zf.write(photo, photo.name)
    return path


@pytest.fixture(scope="module")
def uninterrupted(photo_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "out"
    done = splatkit_run(photo_zip, out, splatkit_env(tmp))
    assert done.returncode == 0, done.stderr[-3000:]
    assert stray_in_tmpdir(tmp) == []
    return out


def test_killed_at_every_stage_then_resumed_equals_an_uninterrupted_run(photo_zip, uninterrupted,
                                                                        tmp_path) -> None:
    out, env = tmp_path / "out", splatkit_env(tmp_path)
    # (stage, step) -> what the kill must have left for the next run to deal with.
    kills = [
        (("sfm", 1), [".sfm.partial.pycolmap.*", ".sfm.partial.scratch.*/splatkit-images-*"]),  # matching
        (("sfm", 4), [".sfm.partial.undistort.*", ".sfm.partial.scratch.*"]),  # undistorting
        (("sfm", 5), [".sfm.partial.undistort.*/images/*"]),  # writing the output folder
        (("train", 7), ["train.partial/checkpoints/ckpt_0*5.pt"]),
        (("train", 13), ["train.partial/checkpoints/ckpt_0*10.pt"]),
        (("compress", 2), ["compress.partial"]),
        (("compress", 8), ["compress.partial"]),  # writing the .sog
    ]
    for kill, left in kills:
        killed = splatkit_run(photo_zip, out, env, kill=kill)
        assert killed.returncode == -signal.SIGKILL, f"{kill}: rc {killed.returncode}: {killed.stderr[-3000:]}"
        for pattern in left:
            assert list(out.glob(pattern)), f"after the kill at {kill}, expected {pattern} in {sorted(tree(out))}"
        if kill[0] == "train":
            assert not (out / "train").exists()

    done = splatkit_run(photo_zip, out, env)
    assert done.returncode == 0, done.stderr[-3000:]

    assert outputs(out) == outputs(uninterrupted)
    assert read_manifest(out / "train").report["resumed_from_step"] == 10
    assert tree(out) == tree(uninterrupted)  # no scratch, no partial folder, no half-written file
    assert stray_in_tmpdir(tmp_path) == []
    events = read_events(out / "events.jsonl")
    assert [e["event"] for e in events].count("run_started") == len(kills) + 1
    assert events[-1]["event"] == "run_finished"


def test_two_concurrent_runs_end_clearly_with_a_single_runs_output(photo_zip, uninterrupted, tmp_path) -> None:
    out, env = tmp_path / "out", splatkit_env(tmp_path)
    runs = [splatkit_run(photo_zip, out, env, wait=False) for _ in range(2)]
    ended = [(proc, *proc.communicate(timeout=900)) for proc in runs]
    codes = sorted(proc.returncode for proc, _, _ in ended)
    assert codes in ([0, 0], [0, 2]), [(p.returncode, err[-2000:]) for p, _, err in ended]
    if codes == [0, 2]:  # the usual case: the second found the folder in use
        [(winner, _, _)] = [e for e in ended if e[0].returncode == 0]
        [(_, busy_out, busy_err)] = [e for e in ended if e[0].returncode == 2]
        assert busy_out == "" and busy_err.count("\n") == 1
        assert busy_err.startswith(f"splatkit: error: {out}: another splatkit run (pid {winner.pid})")
    else:  # the first had finished before the second started: the second found it up to date
        assert any("skipped" in stdout for _, stdout, _ in ended)
    assert outputs(out) == outputs(uninterrupted)
    assert tree(out) == tree(uninterrupted)
    assert stray_in_tmpdir(tmp_path) == []
