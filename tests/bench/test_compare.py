"""benchmarks/compare.py on recorded JSON: the table, the cost lines and the SVG plots."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from splatkit.bench.summary import load_summary
from splatkit.errors import InputError

COMPARE = Path(__file__).resolve().parents[2] / "benchmarks" / "compare.py"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("splatkit_benchmarks_compare", COMPARE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_table_costs_and_plots(compare: ModuleType, tmp_path: Path, cpu_record_path: Path,
                               h100_paths: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    assert compare.main([*map(str, h100_paths), str(cpu_record_path), "--project", "--out", str(out),
                         "--sfm-seconds", "14.4", "--compress-seconds", "10"]) == 0
    text = (out / "comparison.md").read_text(encoding="utf-8")
    assert text == capsys.readouterr().out
    runs = text.split("## Cost per job")[0]
    # Two H100 rows, the CPU record, and T4 and A10G projected from each H100 run.
    assert runs.count("| train-gsplat-fern-") == 6
    assert runs.count("-> T4 (projected) | T4 (projected) |") == 2 and runs.count("-> A10G (projected) |") == 2
    assert "| bench-synthetic-cpu-smoke--cpu2 | cpu: AMD EPYC | synthetic | cpu-smoke | 7.7 | 18.4 | 4.0 |" in runs
    assert "22.68 dB" in runs and "0.11 MB" in runs and "55.5 dB" in runs
    costs = text.split("## Cost per job")[1]
    assert costs.count("**projected**") == 4 and "ml.g4dn.xlarge (T4)" in costs and "ml.g5.xlarge (A10G)" in costs
    bars = ET.parse(out / "stage-times.svg").getroot()
    # H100 x2 (training only), CPU x3 stages, projections x4 (training only).
    assert len([r for r in bars.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 2 + 3 + 4
    curves = ET.parse(out / "psnr-vs-time.svg").getroot()
    lines = list(curves.iter(f"{SVG}polyline"))
    assert len(lines) == 7 and sum(1 for p in lines if p.get("stroke-dasharray")) == 4
    legend = "".join(t.text or "" for t in curves.iter(f"{SVG}text"))
    assert "(time est.)" in legend


def test_without_project_only_measured_rows(compare: ModuleType, tmp_path: Path, cpu_record_path: Path) -> None:
    assert compare.main([str(cpu_record_path), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "comparison.md").read_text(encoding="utf-8")
    assert "no GPU run" in text and "(projected)" not in text


def test_bad_input_is_one_line(compare: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"benchmark": "raster"}', encoding="utf-8")
    assert compare.main([str(other), "--out", str(tmp_path / "o")]) == 2
    assert "neither a splatkit bench record" in capsys.readouterr().err


def test_record_summary_adds_the_final_score(cpu_record_path: Path) -> None:
    s = load_summary(cpu_record_path)
    assert [p.step for p in s.curve] == [50, 100, 150] and s.curve[-1].psnr == s.psnr
    assert not s.curve_seconds_estimated and s.peak_gpu_bytes is None


def test_train_benchmark_file_without_result(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text('{"benchmark": "train", "device": "x"}', encoding="utf-8")
    with pytest.raises(InputError, match="t.json: not a benchmarks/train.py result"):
        load_summary(bad)
