"""The ``compress/ply`` backend, reached through the plugin registry as the pipeline does."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from splatkit.contracts import CompressedBundle, GaussianCloud, Georeference
from splatkit.errors import ContractError, InputError
from splatkit.io.ply import read_ply
from splatkit.plugins import PluginManager
from splatkit.stages import ProgressUpdate, config_from_mapping

ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")


@pytest.fixture(scope="module")
def ply_stage() -> type:
    pm = PluginManager(load_entrypoints=False)
    return pm.stages.get("compress", "ply")


def make_cloud(n: int = 64, degree: int = 3, *, seed: int = 1, georeference: Georeference | None = None
               ) -> GaussianCloud:
    rng = np.random.default_rng(seed)
    k = {0: 0, 1: 3, 2: 8, 3: 15}[degree]
    return GaussianCloud(
        means=rng.uniform(-50, 50, (n, 3)), log_scales=rng.normal(-4, 1, (n, 3)), quats=rng.normal(size=(n, 4)),
        opacity_logits=rng.normal(size=n), sh0=rng.normal(size=(n, 3)), shN=rng.normal(0, 0.2, (n, k, 3)),
        georeference=georeference,
    )


def test_registered_with_stage_attributes(ply_stage: type) -> None:
    assert ply_stage.kind == "compress" and ply_stage.name == "ply"
    assert ply_stage.is_available()
    assert dataclasses.is_dataclass(ply_stage.Config)
    assert ply_stage.Config().sh_degree is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        ply_stage.Config().sh_degree = 1  # type: ignore[misc]
    assert PluginManager(load_entrypoints=False).stages.origin("compress", "ply") == "splatkit.compress.ply_backend"


def test_run_writes_file_and_bundle_that_decode_bitwise(ply_stage: type, tmp_path: Path) -> None:
    geo = Georeference(lat=52.52, lon=13.405, alt=34.0)
    cloud = make_cloud(georeference=geo)
    updates: list[ProgressUpdate] = []
    result = ply_stage().run(cloud, ply_stage.Config(), tmp_path, updates.append)

    bundle = result.output
    assert isinstance(bundle, CompressedBundle)
    assert (bundle.format, bundle.version, bundle.source_count) == ("ply", 1, 64)
    assert list(bundle.members) == ["splats.ply"]
    assert bundle.meta["count"] == 64 and bundle.meta["sh_degree"] == 3
    assert bundle.meta["georeference"] == geo.to_dict()
    assert result.files == (tmp_path / "splats.ply",)
    assert (tmp_path / "splats.ply").read_bytes() == bundle.members["splats.ply"]
    data = bundle.members["splats.ply"]
    assert result.report["bytes"] == len(data)
    assert len(data) - (data.index(b"end_header\n") + len(b"end_header\n")) == 64 * 62 * 4  # float32 x 62
    assert updates and updates[-1].stage == "compress/ply" and updates[-1].step == updates[-1].total

    for decoded in (ply_stage.decode_bundle(bundle), read_ply(tmp_path / "splats.ply")):
        assert decoded.equals(cloud)
        for name in ARRAYS:
            assert np.array_equal(getattr(decoded, name).view(np.uint32), getattr(cloud, name).view(np.uint32))


def test_run_does_not_mutate_input(ply_stage: type, tmp_path: Path) -> None:
    cloud = make_cloud(degree=2)
    snapshot = {n: getattr(cloud, n).copy() for n in ARRAYS}
    ply_stage().run(cloud, ply_stage.Config(sh_degree=0), tmp_path)
    for name in ARRAYS:
        assert np.array_equal(getattr(cloud, name), snapshot[name]), name
    assert cloud.sh_degree == 2


@pytest.mark.parametrize("cap,expected_degree", [(0, 0), (1, 1), (2, 2), (3, 3), (None, 3)])
def test_sh_degree_cap(ply_stage: type, tmp_path: Path, cap: int | None, expected_degree: int) -> None:
    cloud = make_cloud(degree=3)
    result = ply_stage().run(cloud, ply_stage.Config(sh_degree=cap), tmp_path)
    decoded = ply_stage.decode_bundle(result.output)
    assert decoded.sh_degree == expected_degree == result.output.meta["sh_degree"]
    k = {0: 0, 1: 3, 2: 8, 3: 15}[expected_degree]
    np.testing.assert_array_equal(decoded.shN, cloud.shN[:, :k])  # lowest bands kept, in order
    np.testing.assert_array_equal(decoded.sh0, cloud.sh0)
    assert result.report["source_sh_degree"] == 3


def test_cap_above_cloud_degree_keeps_cloud(ply_stage: type, tmp_path: Path) -> None:
    cloud = make_cloud(degree=1)
    result = ply_stage().run(cloud, ply_stage.Config(sh_degree=3), tmp_path)
    assert ply_stage.decode_bundle(result.output).equals(cloud)


def test_config_validation(ply_stage: type) -> None:
    for bad in (4, -1, 1.5, True, "three"):
        with pytest.raises(ContractError, match="sh_degree"):
            ply_stage.Config(sh_degree=bad)
    assert config_from_mapping(ply_stage.Config, {"sh_degree": "2"}).sh_degree == 2
    with pytest.raises(ContractError, match="unknown option"):
        config_from_mapping(ply_stage.Config, {"quality": 3})


def test_invalid_cloud_is_refused_before_writing(ply_stage: type, tmp_path: Path) -> None:
    good = make_cloud(n=8, degree=0)
    quats = np.array(good.quats)
    quats[5, 2] = np.inf
    bad = dataclasses.replace(good, quats=quats)
    with pytest.raises(ContractError, match="quats"):
        ply_stage().run(bad, ply_stage.Config(), tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ContractError, match="GaussianCloud"):
        ply_stage().run({"means": []}, ply_stage.Config(), tmp_path)


def test_empty_cloud(ply_stage: type, tmp_path: Path) -> None:
    cloud = make_cloud(n=0, degree=1)
    result = ply_stage().run(cloud, ply_stage.Config(), tmp_path)
    assert result.output.source_count == 0
    assert result.report["bytes_per_splat"] is None
    decoded = ply_stage.decode_bundle(result.output)
    assert len(decoded) == 0 and decoded.sh_degree == 1


def test_decode_bundle_rejects_other_bundles(ply_stage: type, tmp_path: Path) -> None:
    data = ply_stage().run(make_cloud(n=4, degree=0), ply_stage.Config(), tmp_path).output.members["splats.ply"]
    with pytest.raises(ContractError, match="not a ply bundle"):
        ply_stage.decode_bundle(CompressedBundle(format="sog", version=2, meta={}, members={"a": b"x"},
                                                 source_count=1))
    with pytest.raises(ContractError, match="not a ply bundle"):
        ply_stage.decode_bundle(CompressedBundle(format="ply", version=2, meta={},
                                                 members={"splats.ply": data}, source_count=4))
    with pytest.raises(ContractError, match="splats.ply"):
        ply_stage.decode_bundle(CompressedBundle(format="ply", version=1, meta={}, members={"x.ply": data},
                                                 source_count=4))
    with pytest.raises(InputError, match="splats.ply.*truncated"):
        ply_stage.decode_bundle(CompressedBundle(format="ply", version=1, meta={},
                                                 members={"splats.ply": data[:-10]}, source_count=4))
