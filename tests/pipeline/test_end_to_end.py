"""The main job, end to end on a CPU: the demo flight and a real drone subset, photos to .sog.

Slow (minutes); CI runs them. The demo's PSNR floor is set from measurement: 25.0 dB held-out
mean at 800 CPU steps on the project's 2-core machine (docs/benchmarks.md); SfM is not bitwise
repeatable across thread schedules, so the floor leaves 1.5 dB of margin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from splatkit.io.ply import read_ply
from splatkit.io.sog import decode_sog, read_sog
from tests.conftest import dataset, find_splat_transform

pytest.importorskip("pycolmap")
pytest.importorskip("torch")
pytest.importorskip("numba")

DEMO_PSNR_FLOOR_DB = 23.5


def _splatkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splatkit", "-q", *args], capture_output=True, text=True,
                          timeout=1800, cwd=cwd)


def _check_sog_with_splat_transform(sog: Path, tmp_path: Path) -> None:
    exe = find_splat_transform()
    if exe is None:
        return  # the interop tests say so; here the .sog is still checked with our reader
    out = tmp_path / "from_splat_transform.ply"
    proc = subprocess.run([exe, "-w", "-g", "cpu", str(sog), str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(read_ply(out)) == len(decode_sog(read_sog(sog)))


@pytest.mark.slow
def test_demo_runs_end_to_end_and_meets_the_psnr_floor(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = _splatkit("demo", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    quality = report["sfm"]["quality"]
    assert quality["images_registered"] == quality["images_given"] == 32
    heldout = report["training"]["heldout"]["mean"]
    assert heldout["psnr"] >= DEMO_PSNR_FLOOR_DB, heldout
    sog = Path(report["final_file"])
    assert sog == out / "compress" / "scene.sog" and sog.is_file()
    assert len(decode_sog(read_sog(sog))) == report["training"]["num_gaussians"]
    assert (out / "report.html").is_file()
    _check_sog_with_splat_transform(sog, tmp_path)


@pytest.mark.slow
def test_real_drone_subset_runs_end_to_end(tmp_path: Path) -> None:
    photos = dataset("odm-caliterra-subset10") / "images"
    out = tmp_path / "caliterra"
    proc = _splatkit("run", str(photos), str(out), "--sfm-max-image-size", "1000",
                     "--sfm-undistort-max-size", "480", "--train-steps", "150", "--train-sh-degree", "0",
                     "--train-refine-start", "50", "--train-refine-every", "50", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["sfm"]["quality"]["images_registered"] == 10
    sog = Path(report["final_file"])
    assert sog.suffix == ".sog" and sog.is_file()
    cloud = decode_sog(read_sog(sog))
    assert len(cloud) > 1000 and cloud.georeference is not None
    _check_sog_with_splat_transform(sog, tmp_path)
