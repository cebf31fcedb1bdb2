"""``splatkit.testing`` catches what it promises to: one broken stage or format per rule.

Each test starts from a stage or format that passes and breaks one thing; the check must raise
``ContractCheckError`` naming that rule. Without these, a check that can never fail would let
every backend "pass" the contract tests.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from splatkit import CompressedBundle, GaussianCloud, InputError, Stage, StageResult
from splatkit.formats import Format
from splatkit.io.atomic import atomic_write_bytes
from splatkit.io.ply import write_ply
from splatkit.plugins import FormatRegistry
from splatkit.stages import ProgressUpdate, no_progress
from splatkit.testing import (
    ContractCheckError,
    check_config_class,
    check_format,
    check_format_class,
    check_format_reads,
    check_format_rejects_foreign_paths,
    check_format_survives_corruption,
    check_import_is_light,
    check_stage_class,
    check_stage_run,
    fingerprint,
    synthetic_cloud,
)
from tests.pipeline.fakes import FakeSfM, write_photos

# ---------------------------------------------------------------------------------------------
# Stages


@dataclass(frozen=True, kw_only=True)
class GoodConfig:
    level: int = 3
    ratio: float = 0.5
    label: str = "x"
    deflate: bool = True
    limit: int | None = None


class GoodCompressor(Stage):
    """Stores the cloud as a 3DGS PLY: passes every check; the subclasses below break one rule each."""

    kind = "compress"
    name = "good"
    Config = GoodConfig
    description = "a stage that keeps the contract"
    install_hint = "nothing to install"

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        cloud = input.validate()
        path = write_ply(cloud, Path(workdir) / "splats.ply")
        progress(ProgressUpdate(stage=self.qualified_name(), step=1, total=1, metrics={"bytes": 1.0}))
        bundle = CompressedBundle(format="ply", version=1, meta={}, members={"splats.ply": path.read_bytes()},
                                  source_count=len(cloud))
        return StageResult(output=bundle, report=self.report(), files=(path,))

    def report(self) -> dict[str, Any]:
        return {"gaussians": 1}


def _stage(base: type = GoodCompressor, **attributes: Any) -> type[Stage]:
    return type("BrokenStage", (base,), attributes)


def _config(**fields: Any) -> type:
    """A config class: ``fields`` maps a name to ``(annotation, default or dataclasses.field)``."""
    namespace = {"__annotations__": {k: v[0] for k, v in fields.items()}, **{k: v[1] for k, v in fields.items()}}
    return dataclass(frozen=True, kw_only=True)(type("BrokenConfig", (), namespace))


def test_a_good_stage_passes_both_checks(tmp_path: Path) -> None:
    check_stage_class(GoodCompressor)
    result = check_stage_run(GoodCompressor, synthetic_cloud(50), tmp_path / "work",
                             formats=_registry_with_ply())
    assert result.files == (tmp_path / "work" / "splats.ply",)


@pytest.mark.parametrize(("attributes", "message"), [
    ({"kind": "render"}, "registry refuses it"),
    ({"name": "two words"}, "registry refuses it"),
    ({"description": ""}, "description is empty"),
    ({"description": "two\nlines"}, "spans lines"),
    ({"default_rank": -1}, "default_rank"),
    ({"default_rank": True}, "default_rank"),
    ({"__init__": lambda self, level: None}, "with no arguments"),
    ({"run": lambda self, input: None}, r"run\(input, config, workdir, progress\)"),
    ({"unavailable_reason": classmethod(lambda cls: 1 / 0)}, "unavailable_reason.. raised ZeroDivisionError"),
    ({"unavailable_reason": classmethod(lambda cls: "")}, "non-empty str"),
    ({"is_available": classmethod(lambda cls: False)}, "is_available.. disagrees"),
    ({"unavailable_reason": classmethod(lambda cls: "no GPU"), "unusable_reason": classmethod(lambda cls: None)},
     "registry would choose a backend that cannot run"),
])
def test_stage_class_rules(attributes: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractCheckError, match=message):
        check_stage_class(_stage(**attributes), check_import=False)


def test_a_class_that_is_not_a_stage_is_refused() -> None:
    with pytest.raises(ContractCheckError, match="not a subclass of splatkit.Stage"):
        check_stage_class(type("NotAStage", (), {"kind": "compress", "name": "x", "Config": GoodConfig}))


@pytest.mark.parametrize(("fields", "message"), [
    ({"steps": (int, dataclasses.MISSING)}, "no default"),
    ({"sizes": (list, dataclasses.field(default_factory=list))}, "default_factory"),
    ({"limit": (int, None)}, "annotate it int | None"),
    ({"table": (dict, None)}, "annotated"),
    ({"steps": (int, "3")}, "annotated int but defaults to '3'"),
    ({"where": ("NoSuchType", 1)}, "annotations do not resolve"),
])
def test_config_rules(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractCheckError, match=message):
        check_config_class(_config(**fields))


def test_config_must_be_frozen() -> None:
    unfrozen = dataclass(kw_only=True)(type("Unfrozen", (), {"__annotations__": {"steps": int}, "steps": 3}))
    with pytest.raises(ContractCheckError, match="must be frozen"):
        check_config_class(unfrozen)


def test_config_defaults_must_come_back_from_text() -> None:
    # A __post_init__ that rewrites a value breaks the round trip through config_from_mapping.
    @dataclass(frozen=True, kw_only=True)
    class Drifting:
        scale: float = 0.5

        def __post_init__(self) -> None:
            object.__setattr__(self, "scale", self.scale * 2)

    with pytest.raises(ContractCheckError, match=r"change when read back .* \['scale'\]"):
        check_config_class(Drifting)


def test_import_of_a_heavy_package_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "splatkit_heavy_probe_plugin.py").write_text("import xml.dom.minidom\n")
    (tmp_path / "splatkit_light_probe_plugin.py").write_text("import json\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    heavy = ("xml.dom.minidom",)  # stands in for torch: same mechanism, a fraction of the time
    check_import_is_light("splatkit_light_probe_plugin", heavy=heavy)
    with pytest.raises(ContractCheckError, match="imports xml.dom.minidom"):
        check_import_is_light("splatkit_heavy_probe_plugin", heavy=heavy)
    with pytest.raises(ContractCheckError, match="failed"):
        check_import_is_light("splatkit_no_such_probe_plugin", heavy=heavy)


def test_stage_class_checks_the_import_of_its_module() -> None:
    # This very module imports numpy and pytest but nothing heavy: the real check passes.
    check_stage_class(GoodCompressor, check_import=True)


class Outside(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        result = super().run(input, config, workdir, progress)
        stray = atomic_write_bytes(Path(workdir).parent / "stray.bin", b"x")
        return dataclasses.replace(result, files=(*result.files, stray))


class Leftover(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        result = super().run(input, config, workdir, progress)
        (Path(workdir) / ".splats.ply.k2j3").write_bytes(b"partial")
        return result


class Mutating(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        object.__setattr__(input, "opacity_logits", np.zeros(len(input), np.float32))
        return super().run(input, config, workdir, progress)


class WrongOutput(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        return dataclasses.replace(super().run(input, config, workdir, progress), output=input)


class NoFiles(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        return dataclasses.replace(super().run(input, config, workdir, progress), files=())


class MissingFile(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        result = super().run(input, config, workdir, progress)
        return dataclasses.replace(result, files=(*result.files, Path(workdir) / "never_written.bin"))


class WrongCount(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        result = super().run(input, config, workdir, progress)
        bundle = CompressedBundle(format="ply", version=1, meta={}, members=result.output.members,
                                  source_count=len(input) + 1)
        return dataclasses.replace(result, output=bundle)


class Unreadable(GoodCompressor):
    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        result = super().run(input, config, workdir, progress)
        blob = atomic_write_bytes(Path(workdir) / "cloud.bin", b"\0" * 64)
        return dataclasses.replace(result, files=(blob, *result.files))


def _progress_stage(update: Any) -> type[Stage]:
    class Reporting(GoodCompressor):
        def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
            progress(update)
            return super().run(input, config, workdir, progress)

    return Reporting


@pytest.mark.parametrize(("stage_cls", "message"), [
    (_stage(report=lambda self: {"psnr": math.nan}), "not strict JSON"),
    (WrongOutput, "returns a CompressedBundle, got GaussianCloud"),
    (NoFiles, "files is empty"),
    (MissingFile, "never_written.bin does not exist"),
    (Outside, "outside the workdir"),
    (Outside, r"left \['stray.bin'\] beside its workdir"),
    (Leftover, "hidden files"),
    (Mutating, "changed its input"),
    (WrongCount, "source_count is 51"),
    (Unreadable, "no registered format reads cloud.bin"),
    (_progress_stage("50%"), "not a splatkit.ProgressUpdate"),
    (_progress_stage(ProgressUpdate(stage="compress/other", step=0)), "qualified_name"),
    (_progress_stage(ProgressUpdate(stage="compress/good", step=-1)), "step must be an int >= 0"),
    (_progress_stage(ProgressUpdate(stage="compress/good", step=0, metrics={"loss": "low"})), "metrics"),
])
def test_stage_run_rules(stage_cls: type[Stage], message: str, tmp_path: Path) -> None:
    with pytest.raises(ContractCheckError, match=message):
        check_stage_run(stage_cls, synthetic_cloud(50), tmp_path / "work", formats=_registry_with_ply())


def test_a_changed_input_file_is_found(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos")
    before = fingerprint(photos)
    (photos / "img_000.png").write_bytes(b"changed")
    assert fingerprint(photos) != before


def test_stage_run_needs_an_empty_workdir(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "old.txt").write_text("x")
    with pytest.raises(ContractCheckError, match="new or empty workdir"):
        check_stage_run(GoodCompressor, synthetic_cloud(5), tmp_path / "work")


def test_an_sfm_stage_must_write_the_documented_layout(tmp_path: Path) -> None:
    # The pipeline's fake SfM writes images/ and sparse/0 but not the whole layout of docs/formats.md.
    class NamedFake(FakeSfM):
        description = "the pipeline tests' fake SfM"

    photos = write_photos(tmp_path / "photos")
    with pytest.raises(ContractCheckError, match=r"lacks the keys \[.*'layout_version'.*\].*\n.*georef.json"):
        check_stage_run(NamedFake, photos, tmp_path / "work", NamedFake.Config())


class FakeTrainer(Stage):
    """Returns a cloud and writes a PLY of it; the report is not the training-report schema."""

    kind = "train"
    name = "fake"
    description = "fake trainer"
    write_other: ClassVar[bool] = False

    def run(self, input: Any, config: Any, workdir: Path, progress: Any = no_progress) -> StageResult[Any]:
        cloud = synthetic_cloud(20)
        path = write_ply(synthetic_cloud(20, seed=1) if self.write_other else cloud, Path(workdir) / "point_cloud.ply")
        return StageResult(output=cloud, report={"steps": 1}, files=(path,))


def test_a_trainer_must_write_what_it_returns_and_report_the_schema(tmp_path: Path) -> None:
    with pytest.raises(ContractCheckError, match="TrainingReport"):
        check_stage_run(FakeTrainer, tmp_path / "scene", tmp_path / "a")
    with pytest.raises(ContractCheckError, match="does not hold the returned GaussianCloud"):
        check_stage_run(_stage(FakeTrainer, write_other=True), tmp_path / "scene", tmp_path / "b")


# ---------------------------------------------------------------------------------------------
# Formats

_ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")


class GoodNpzFormat(Format):
    """A cloud as an ``.npz`` of its arrays: passes every check; the subclasses break one rule each."""

    name = "test-npz"
    holds = "splats"
    suffixes = (".npz",)
    description = "a format that keeps the contract"

    def detect(self, path: Path) -> bool:
        try:
            with zipfile.ZipFile(path) as zf:
                return "means.npy" in zf.namelist()
        except (OSError, zipfile.BadZipFile):
            return False

    def describe(self, path: Path) -> dict[str, Any]:
        cloud = self.decode(path)
        return {"type": "test-npz", "path": str(path), "gaussians": len(cloud)}

    def decode(self, path: Path) -> GaussianCloud:
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in _ARRAYS}
            return GaussianCloud(**arrays)
        except Exception as e:  # any failure to parse is the file's fault here
            raise InputError(f"not a readable test-npz file: {e}", path=path) from e

    def write(self, cloud: GaussianCloud, path: Path) -> Path:
        buffer = io.BytesIO()
        np.savez(buffer, **{name: getattr(cloud, name) for name in _ARRAYS})
        return atomic_write_bytes(path, buffer.getvalue())


def _format(base: type = GoodNpzFormat, **attributes: Any) -> type[Format]:
    return type("BrokenFormat", (base,), attributes)


def _registry_with_ply() -> FormatRegistry:
    from splatkit.io.ply import PlyFormat

    registry = FormatRegistry()
    registry.add(PlyFormat)
    return registry


def test_a_good_format_passes(tmp_path: Path) -> None:
    registry = FormatRegistry()
    registry.add(GoodNpzFormat)
    check_format(GoodNpzFormat, tmp_path, formats=registry)


def _raw_decode(self: Format, path: Path) -> GaussianCloud:
    with np.load(path, allow_pickle=False) as npz:  # no InputError: damage escapes as zipfile/numpy errors
        return GaussianCloud(**{name: npz[name] for name in _ARRAYS})


def _decode_then(change: Any) -> Any:
    def decode(self: Format, path: Path) -> GaussianCloud:
        return change(GoodNpzFormat.decode(self, path))

    return decode


def _leaky_write(self: Format, cloud: GaussianCloud, path: Path) -> Path:
    (Path(path).parent / f".{Path(path).name}.tmp").write_bytes(b"")
    return GoodNpzFormat.write(self, cloud, path)


@pytest.mark.parametrize(("attributes", "message"), [
    ({"detect": lambda self, path: zipfile.is_zipfile(open(path, "rb"))}, "detect.. raised FileNotFoundError"),
    ({"detect": lambda self, path: Path(path).suffix == ".npz" or Path(path).is_dir()}, "True for an empty folder"),
    ({"detect": lambda self, path: "yes"}, "must return a bool"),
    ({"describe": lambda self, path: {"path": str(path), "type": "x"}}, "first key must be 'type'"),
    ({"describe": lambda self, path: {"type": "x", "size": math.inf}}, "not strict JSON"),
    ({"decode": _decode_then(lambda c: c.subset(np.arange(len(c) - 1)))}, "decoded 199"),
    ({"decode": _decode_then(lambda c: dataclasses.replace(c, means=c.means[:, [1, 0, 2]]))}, "bounding box"),
    ({"decode": _decode_then(lambda c: dataclasses.replace(c, shN=c.shN[:, :0]))}, "decoded 0"),
    ({"write": _leaky_write}, "temporary files"),
    ({"write": lambda self, cloud, path: str(GoodNpzFormat.write(self, cloud, path))}, "must return the Path"),
])
def test_format_rules(attributes: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ContractCheckError, match=message):
        check_format(_format(**attributes), tmp_path, check_import=False)


def test_damage_must_be_an_input_error_naming_the_file(tmp_path: Path) -> None:
    written = GoodNpzFormat().write(synthetic_cloud(50), tmp_path / "cloud.npz")
    check_format_survives_corruption(GoodNpzFormat, written, tmp_path / "good")
    with pytest.raises(ContractCheckError, match="malformed input must be an InputError"):
        check_format_survives_corruption(_format(decode=_raw_decode), written, tmp_path / "raw")

    def decode_without_path(self: Format, path: Path) -> GaussianCloud:
        try:
            return GoodNpzFormat.decode(self, path)
        except InputError as e:
            raise InputError(str(e)) from e

    with pytest.raises(ContractCheckError, match="without the file"):
        check_format_survives_corruption(_format(decode=decode_without_path), written, tmp_path / "nopath")


def test_non_finite_values_must_be_refused_not_returned(tmp_path: Path) -> None:
    cloud = synthetic_cloud(10)
    path = tmp_path / "nan.npz"
    np.savez(path, **{name: getattr(cloud, name) for name in _ARRAYS[:-1]}, shN=np.full((10, 3, 3), np.nan))
    with pytest.raises(ContractCheckError, match="invalid cloud"):
        check_format_reads(GoodNpzFormat, path)


def test_a_foreign_format_that_claims_a_file_is_found(tmp_path: Path) -> None:
    greedy = _format(name="greedy", detect=lambda self, path: Path(path).suffix == ".npz")
    registry = FormatRegistry()
    registry.add(greedy)
    registry.add(GoodNpzFormat)
    with pytest.raises(ContractCheckError, match="the registry takes sh0.npz for format 'greedy'"):
        check_format(GoodNpzFormat, tmp_path, formats=registry, check_import=False)


def test_a_format_that_does_not_write_needs_samples(tmp_path: Path) -> None:
    reader_only = _format(write=Format.write)
    with pytest.raises(ContractCheckError, match="pass sample="):
        check_format(reader_only, tmp_path, check_import=False)
    sample = GoodNpzFormat().write(synthetic_cloud(30), tmp_path / "sample.npz")
    check_format(reader_only, tmp_path / "checks", sample, check_import=False)


def test_format_class_rules() -> None:
    with pytest.raises(ContractCheckError, match="holds reconstruction"):
        check_format_class(_format(holds="reconstruction"), check_import=False)
    with pytest.raises(ContractCheckError, match="registry refuses it"):
        check_format_class(_format(suffixes=(".NPZ",)), check_import=False)
    with pytest.raises(ContractCheckError, match="description"):
        check_format_class(_format(description=""), check_import=False)
    with pytest.raises(ContractCheckError, match="not a subclass"):
        check_format_class(type("NotAFormat", (), {"name": "x"}))


def test_suffix_named_garbage_may_be_detected_but_must_then_be_refused(tmp_path: Path) -> None:
    by_suffix = _format(detect=lambda self, path: Path(path).suffix == ".npz" and Path(path).is_file())
    check_format_rejects_foreign_paths(by_suffix, tmp_path / "a")
    lenient = _format(detect=by_suffix.detect, decode=lambda self, path: synthetic_cloud(1))
    with pytest.raises(ContractCheckError, match="read 1 Gaussians from random content named random.npz"):
        check_format_rejects_foreign_paths(lenient, tmp_path / "b")


def test_the_testing_package_imports_nothing_heavy_and_no_stage_package() -> None:
    import subprocess

    code = textwrap.dedent("""
        import json, sys
        import splatkit.testing
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
              ("torch", "pycolmap", "gsplat", "boto3", "numba", "pytest")
              or m.startswith(("splatkit.sfm", "splatkit.train", "splatkit.compress", "splatkit.render")))))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
