"""3DGS PLY read/write: round trips, other tools' variants, and every way a file can be bad."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import plyfile
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit.contracts import GaussianCloud, Georeference
from splatkit.errors import ContractError, InputError
from splatkit.io.ply import (
    canonical_property_names,
    decode_ply,
    encode_ply,
    info,
    is_ply_file,
    read_ply,
    write_ply,
)

K_FOR_DEGREE = {0: 0, 1: 3, 2: 8, 3: 15}
ARRAYS = ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN")


def random_cloud(n: int = 50, degree: int = 2, *, seed: int = 0,
                 georeference: Georeference | None = None) -> GaussianCloud:
    rng = np.random.default_rng(seed)

    def f(*shape: int) -> np.ndarray:
        return rng.normal(size=shape).astype(np.float32)

    return GaussianCloud(means=f(n, 3) * 10, log_scales=f(n, 3) - 3, quats=f(n, 4), opacity_logits=f(n),
                         sh0=f(n, 3), shN=f(n, K_FOR_DEGREE[degree], 3), georeference=georeference)


def assert_bitwise_equal(a: GaussianCloud, b: GaussianCloud) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.float32, name
        assert x.shape == y.shape, name
        # compare bits, so -0.0 vs 0.0 and NaN payloads would be caught
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32)), name
    assert a.georeference == b.georeference


def vertex_rows(cloud: GaussianCloud, names: list[str], dtype: str = "f4") -> np.ndarray:
    """A structured vertex array built independently of splatkit's writer (by property name)."""
    k = cloud.shN.shape[1]
    cols: dict[str, np.ndarray] = {}
    for i, axis in enumerate("xyz"):
        cols[axis] = cloud.means[:, i]
        cols["n" + axis] = np.zeros(len(cloud), np.float32)
    for c in range(3):
        cols[f"f_dc_{c}"] = cloud.sh0[:, c]
        for j in range(k):
            cols[f"f_rest_{c * k + j}"] = cloud.shN[:, j, c]
        cols[f"scale_{c}"] = cloud.log_scales[:, c]
    cols["opacity"] = cloud.opacity_logits
    for i in range(4):
        cols[f"rot_{i}"] = cloud.quats[:, i]
    out = np.empty(len(cloud), dtype=[(n, dtype) for n in names])
    for n in names:
        out[n] = cols[n]
    return out


def write_with_plyfile(path: Path, rows: np.ndarray, *, text: bool = False, byte_order: str = "<",
                       comments: list[str] | None = None, elements: list[plyfile.PlyElement] | None = None) -> Path:
    vertex = plyfile.PlyElement.describe(rows, "vertex")
    plyfile.PlyData([*(elements or []), vertex], text=text, byte_order=byte_order,
                    comments=comments or []).write(str(path))
    return path


def canonical_names(cloud: GaussianCloud) -> list[str]:
    return list(canonical_property_names(cloud.sh_degree))


# ---------------------------------------------------------------------------------------------
# Round trips


@st.composite
def clouds(draw: st.DrawFn) -> GaussianCloud:
    n = draw(st.integers(0, 20))
    degree = draw(st.sampled_from([0, 1, 2, 3]))
    k = K_FOR_DEGREE[degree]
    elems = st.floats(width=32, allow_nan=False, allow_infinity=False)

    def arr(*shape: int) -> np.ndarray:
        return draw(hnp.arrays(np.float32, shape, elements=elems))

    geo = draw(st.none() | st.builds(
        lambda lat, lon, alt: Georeference(lat=lat, lon=lon, alt=alt),
        st.floats(-90, 90), st.floats(-180, 180), st.floats(-1e4, 1e5, allow_nan=False)))
    return GaussianCloud(means=arr(n, 3), log_scales=arr(n, 3), quats=arr(n, 4), opacity_logits=arr(n),
                         sh0=arr(n, 3), shN=arr(n, k, 3), georeference=geo)


@given(cloud=clouds())
def test_write_read_roundtrip_is_bitwise(cloud: GaussianCloud, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("rt") / "splats.ply"
    write_ply(cloud, path)
    back = read_ply(path)
    assert_bitwise_equal(cloud, back)
    # the bytes API produces the same file and decodes the same way
    assert encode_ply(cloud) == path.read_bytes()
    assert_bitwise_equal(cloud, decode_ply(path.read_bytes()))


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_empty_cloud_is_allowed_and_roundtrips(tmp_path: Path, degree: int) -> None:
    # Decision: a PLY with `element vertex 0` is valid and reads back as an empty cloud.
    cloud = random_cloud(0, degree)
    path = write_ply(cloud, tmp_path / "empty.ply")
    back = read_ply(path)
    assert len(back) == 0 and back.sh_degree == degree
    summary = info(path)
    assert summary["count"] == 0 and summary["bounds_min"] is None and summary["opacity_range"] is None


def test_written_file_is_the_inria_layout_for_plyfile(tmp_path: Path) -> None:
    geo = Georeference(lat=47.3769, lon=8.5417, alt=408.25)
    cloud = random_cloud(30, 3, georeference=geo)
    path = write_ply(cloud, tmp_path / "s.ply")
    ply = plyfile.PlyData.read(str(path))
    assert [e.name for e in ply.elements] == ["vertex"]
    assert ply.byte_order == "<" and not ply.text
    vertex = ply["vertex"]
    # the Inria 3DGS order, spelled out independently of canonical_property_names
    expected = (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
                + [f"f_rest_{i}" for i in range(45)]
                + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])
    assert [p.name for p in vertex.properties] == expected
    assert all(p.val_dtype == "f4" for p in vertex.properties)
    data = vertex.data
    assert len(data) == 30
    np.testing.assert_array_equal(data["nx"], 0)
    np.testing.assert_array_equal(data["opacity"], cloud.opacity_logits)
    np.testing.assert_array_equal(data["rot_0"], cloud.quats[:, 0])  # w first
    # f_rest is channel-major in the file: f_rest_{c*15 + k} = shN[:, k, c]
    np.testing.assert_array_equal(data["f_rest_1"], cloud.shN[:, 1, 0])
    np.testing.assert_array_equal(data["f_rest_15"], cloud.shN[:, 0, 1])
    np.testing.assert_array_equal(data["f_rest_44"], cloud.shN[:, 14, 2])
    assert ply.comments == ["splatkit_georeference 47.3769 8.5417 408.25"]
    assert path.stat().st_size == len(encode_ply(cloud))
    assert (path.stat().st_size - 30 * 62 * 4) < 2000  # header + payload, nothing else


def test_write_is_deterministic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    cloud = random_cloud(10, 1)
    a = write_ply(cloud, tmp_path / "a.ply").read_bytes()
    b = write_ply(cloud, tmp_path / "a.ply").read_bytes()
    assert a == b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ply"]


def test_write_refuses_nan_cloud_and_keeps_existing_file(tmp_path: Path) -> None:
    path = write_ply(random_cloud(5, 0), tmp_path / "s.ply")
    before = path.read_bytes()
    means = np.zeros((5, 3), np.float32)
    means[3, 1] = np.nan
    good = random_cloud(5, 0)
    bad = GaussianCloud(means=means, log_scales=good.log_scales, quats=good.quats,
                        opacity_logits=good.opacity_logits, sh0=good.sh0)
    with pytest.raises(ContractError, match="means"):
        write_ply(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ply"]


def test_write_refuses_non_cloud(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="GaussianCloud"):
        write_ply({"means": []}, tmp_path / "x.ply")  # type: ignore[arg-type]
    assert not (tmp_path / "x.ply").exists()


# ---------------------------------------------------------------------------------------------
# Other tools' variants


def test_ascii_ply_handwritten(tmp_path: Path) -> None:
    # SH degree 1, properties shuffled, no normals, an extra uchar property and a comment.
    names = (["rot_0", "rot_1", "rot_2", "rot_3", "x", "y", "z", "red", "opacity"]
             + [f"f_rest_{i}" for i in range(9)] + ["f_dc_0", "f_dc_1", "f_dc_2", "scale_0", "scale_1", "scale_2"])
    rows = [
        [1, 0, 0, 0, 0.5, -1.25, 3, 255, -2.5] + [0.01 * i for i in range(9)] + [0.1, 0.2, 0.3, -4, -4.5, -5],
        [0.5, 0.5, 0.5, 0.5, 1e3, 2e-3, -7, 0, 4] + [-0.5 * i for i in range(9)] + [1, 2, 3, -1, -2, -3],
    ]
    header = ["ply", "format ascii 1.0", "comment made by hand", "element vertex 2"]
    header += [f"property {'uchar' if n == 'red' else 'float'} {n}" for n in names]
    header += ["end_header"]
    body = [" ".join(repr(float(v)) if n != "red" else str(int(v)) for n, v in zip(names, r)) for r in rows]
    path = tmp_path / "ascii.ply"
    path.write_text("\n".join(header + body) + "\n")

    cloud = read_ply(path)
    assert len(cloud) == 2 and cloud.sh_degree == 1
    table = {n: np.array([r[j] for r in rows], np.float32) for j, n in enumerate(names)}
    np.testing.assert_array_equal(cloud.means, np.stack([table["x"], table["y"], table["z"]], 1))
    np.testing.assert_array_equal(cloud.quats, np.stack([table[f"rot_{i}"] for i in range(4)], 1))
    np.testing.assert_array_equal(cloud.opacity_logits, table["opacity"])
    np.testing.assert_array_equal(cloud.log_scales, np.stack([table[f"scale_{i}"] for i in range(3)], 1))
    for c in range(3):
        for k in range(3):
            np.testing.assert_array_equal(cloud.shN[:, k, c], table[f"f_rest_{c * 3 + k}"])
    assert info(path)["encoding"] == "ascii"


def test_ascii_ply_from_plyfile_matches_binary(tmp_path: Path) -> None:
    cloud = random_cloud(20, 2)
    rows = vertex_rows(cloud, canonical_names(cloud))
    path = write_with_plyfile(tmp_path / "a.ply", rows, text=True)
    # plyfile prints floats with '%.18g', which round-trips float32 exactly
    assert_bitwise_equal(cloud, read_ply(path))


def test_big_endian_binary(tmp_path: Path) -> None:
    cloud = random_cloud(40, 3, seed=3)
    rows = vertex_rows(cloud, canonical_names(cloud))
    path = write_with_plyfile(tmp_path / "be.ply", rows, byte_order=">")
    assert b"binary_big_endian" in path.read_bytes()[:60]
    assert_bitwise_equal(cloud, read_ply(path))
    assert info(path)["encoding"] == "binary_big_endian"


def test_splat_transform_order_without_normals(tmp_path: Path) -> None:
    # splat-transform's SOG -> PLY output: x y z rot_0..3 scale_0..2 opacity f_dc_0..2 f_rest_*
    cloud = random_cloud(25, 1, seed=4)
    names = (["x", "y", "z", "rot_0", "rot_1", "rot_2", "rot_3", "scale_0", "scale_1", "scale_2", "opacity",
              "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(9)])
    path = write_with_plyfile(tmp_path / "st.ply", vertex_rows(cloud, names))
    assert_bitwise_equal(cloud, read_ply(path))


def test_double_properties_are_converted_to_float32(tmp_path: Path) -> None:
    cloud = random_cloud(10, 0, seed=5)
    path = write_with_plyfile(tmp_path / "d.ply", vertex_rows(cloud, canonical_names(cloud), dtype="f8"))
    assert_bitwise_equal(cloud, read_ply(path))


def test_other_elements_before_vertex_are_skipped(tmp_path: Path) -> None:
    cloud = random_cloud(12, 0, seed=6)
    faces = np.empty(3, dtype=[("vertex_indices", "O"), ("flag", "u1")])
    faces["vertex_indices"] = [np.array([0, 1, 2], "i4"), np.array([3, 4], "i4"), np.array([], "i4")]
    faces["flag"] = [1, 2, 3]
    meta = np.array([(1.0, 7)], dtype=[("a", "f8"), ("b", "i2")])
    elements = [plyfile.PlyElement.describe(meta, "meta"), plyfile.PlyElement.describe(faces, "face")]
    for text in (False, True):
        path = write_with_plyfile(tmp_path / f"e{text}.ply", vertex_rows(cloud, canonical_names(cloud)),
                                  text=text, elements=elements)
        assert_bitwise_equal(cloud, read_ply(path))


def test_trailing_elements_and_extra_vertex_properties_are_ignored(tmp_path: Path) -> None:
    cloud = random_cloud(8, 2, seed=7)
    names = canonical_names(cloud)
    rows = vertex_rows(cloud, names)
    extra = np.empty(len(rows), dtype=rows.dtype.descr + [("red", "u1"), ("filter_3D", "f4")])
    for n in names:
        extra[n] = rows[n]
    extra["red"], extra["filter_3D"] = 7, 0.5
    tail = plyfile.PlyElement.describe(np.zeros(2, dtype=[("q", "i4")]), "tail")
    vertex = plyfile.PlyElement.describe(extra, "vertex")
    path = tmp_path / "x.ply"
    plyfile.PlyData([vertex, tail]).write(str(path))
    assert_bitwise_equal(cloud, read_ply(path))


# ---------------------------------------------------------------------------------------------
# Bad files


def plain_file(tmp_path: Path, cloud: GaussianCloud | None = None) -> Path:
    return write_ply(cloud if cloud is not None else random_cloud(10, 1), tmp_path / "s.ply")


@pytest.mark.parametrize("prop,row", [("opacity", 3), ("f_rest_5", 0), ("x", 9), ("rot_3", 6)])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("text", [False, True])
def test_non_finite_value_names_property_and_row(tmp_path: Path, prop: str, row: int, value: float,
                                                 text: bool) -> None:
    cloud = random_cloud(10, 1)
    rows = vertex_rows(cloud, canonical_names(cloud))
    rows[prop][row] = value
    path = write_with_plyfile(tmp_path / "nan.ply", rows, text=text)
    with pytest.raises(InputError) as err:
        read_ply(path)
    assert type(err.value) is InputError
    assert f"'{prop}'" in str(err.value) and f"row {row}" in str(err.value)
    assert err.value.path == str(path)


def test_double_beyond_float32_range_is_refused(tmp_path: Path) -> None:
    cloud = random_cloud(4, 0)
    rows = vertex_rows(cloud, canonical_names(cloud), dtype="f8")
    rows["scale_1"][2] = 1e300
    path = write_with_plyfile(tmp_path / "big.ply", rows)
    with pytest.raises(InputError, match=r"'scale_1'.*row 2"):
        read_ply(path)


@pytest.mark.parametrize("missing", ["opacity", "rot_0", "f_dc_2", "x"])
def test_missing_required_property(tmp_path: Path, missing: str) -> None:
    cloud = random_cloud(5, 0)
    names = [n for n in canonical_names(cloud) if n != missing]
    path = write_with_plyfile(tmp_path / "m.ply", vertex_rows(cloud, names))
    with pytest.raises(InputError, match=f"'{missing}'") as err:
        read_ply(path)
    assert type(err.value) is InputError and err.value.path == str(path)


@pytest.mark.parametrize("n_rest", [3, 6, 15, 44, 48])
def test_wrong_f_rest_count(tmp_path: Path, n_rest: int) -> None:
    cloud = random_cloud(5, 0)
    names = canonical_names(cloud)
    rows = vertex_rows(cloud, names)
    rest = np.zeros(len(rows), dtype=rows.dtype.descr + [(f"f_rest_{i}", "f4") for i in range(n_rest)])
    for n in names:
        rest[n] = rows[n]
    path = write_with_plyfile(tmp_path / "r.ply", rest)
    with pytest.raises(InputError, match=rf"\b{n_rest} f_rest_\* properties") as err:
        read_ply(path)
    assert str(path) in str(err.value)


def test_f_rest_numbering_gap(tmp_path: Path) -> None:
    cloud = random_cloud(5, 1)
    rows = vertex_rows(cloud, canonical_names(cloud))
    renamed = rows.copy()
    renamed.dtype.names = tuple("f_rest_9" if n == "f_rest_4" else n for n in rows.dtype.names)
    path = write_with_plyfile(tmp_path / "gap.ply", renamed)
    with pytest.raises(InputError, match="f_rest_4"):
        read_ply(path)


@pytest.mark.parametrize("keep", [0, 5, 40, 200, -1, -250])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    data = plain_file(tmp_path).read_bytes()
    path = tmp_path / "t.ply"
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(InputError) as err:
        read_ply(path)
    assert type(err.value) is InputError and err.value.path == str(path)


def test_truncated_ascii_file(tmp_path: Path) -> None:
    cloud = random_cloud(10, 0)
    path = write_with_plyfile(tmp_path / "a.ply", vertex_rows(cloud, canonical_names(cloud)), text=True)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-3]))
    with pytest.raises(InputError, match="truncated"):
        read_ply(path)
    path.write_text("".join(lines[:-1]) + lines[-1].rsplit(" ", 2)[0] + "\n")
    with pytest.raises(InputError, match="row 9"):
        read_ply(path)


@pytest.mark.parametrize("content", [
    b"", b"\x89PNG\r\n\x1a\n" + bytes(100), b"hello world\n", b"ply\n" + b"x" * 10000,
    b"ply\nformat binary_middle_endian 1.0\nend_header\n", b"ply\nelement vertex 1\nend_header\n",
    b"ply\nformat ascii 1.0\nelement vertex 1\nproperty quaternion q\nend_header\n",
    b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float x\nend_header\n",
])
def test_not_a_ply(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.ply"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_ply(path)
    assert err.value.path == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read_ply(tmp_path / "nope.ply")


def test_non_float_property_is_refused(tmp_path: Path) -> None:
    cloud = random_cloud(5, 0)
    names = canonical_names(cloud)
    rows = vertex_rows(cloud, names)
    ints = np.zeros(len(rows), dtype=[(n, "u1" if n == "opacity" else "f4") for n in names])
    for n in names:
        ints[n] = rows[n] if n != "opacity" else 200
    path = write_with_plyfile(tmp_path / "u.ply", ints)
    with pytest.raises(InputError, match="'opacity' has type uchar"):
        read_ply(path)


def test_splats_in_another_element_are_refused(tmp_path: Path) -> None:
    cloud = random_cloud(5, 0)
    rows = vertex_rows(cloud, canonical_names(cloud))
    path = tmp_path / "g.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(rows, "gaussian")]).write(str(path))
    with pytest.raises(InputError, match="'gaussian'.*'vertex'"):
        read_ply(path)


def test_compressed_ply_is_detected(tmp_path: Path) -> None:
    chunk_fields = [f"{m}_{a}" for m in ("min", "max") for a in "xyz"]
    chunk = np.zeros(1, dtype=[(n, "f4") for n in chunk_fields])
    vertex = np.zeros(3, dtype=[(n, "u4") for n in
                                ("packed_position", "packed_rotation", "packed_scale", "packed_color")])
    path = tmp_path / "scene.compressed.ply"
    plyfile.PlyData([plyfile.PlyElement.describe(chunk, "chunk"),
                     plyfile.PlyElement.describe(vertex, "vertex")]).write(str(path))
    with pytest.raises(InputError, match="compressed PLY variant") as err:
        read_ply(path)
    assert "splat-transform" in str(err.value)


@pytest.mark.parametrize("comment", ["splatkit_georeference 1 2", "splatkit_georeference a b c",
                                     "splatkit_georeference 95 0 0", "splatkit_georeference nan 0 0"])
def test_malformed_georeference_comment(tmp_path: Path, comment: str) -> None:
    cloud = random_cloud(3, 0)
    path = write_with_plyfile(tmp_path / "g.ply", vertex_rows(cloud, canonical_names(cloud)), comments=[comment])
    with pytest.raises(InputError, match="splatkit_georeference"):
        read_ply(path)


def test_decode_ply_names_its_source() -> None:
    with pytest.raises(InputError, match="^member x: not a PLY"):
        decode_ply(b"nope", source="member x")


# ---------------------------------------------------------------------------------------------
# info


def test_info_summary(tmp_path: Path) -> None:
    geo = Georeference(lat=-33.5, lon=151.25, alt=12.0)
    cloud = random_cloud(100, 2, seed=9, georeference=geo)
    path = plain_file(tmp_path, cloud)
    summary = info(path)
    assert summary["type"] == "3dgs-ply"
    assert summary["count"] == 100 and summary["sh_degree"] == 2
    assert summary["file_size_bytes"] == os.path.getsize(path)
    assert summary["encoding"] == "binary_little_endian"
    assert summary["properties"] == canonical_names(cloud)
    np.testing.assert_array_equal(summary["bounds_min"], cloud.means.min(axis=0))
    np.testing.assert_array_equal(summary["bounds_max"], cloud.means.max(axis=0))
    lo, hi = float(cloud.opacity_logits.min()), float(cloud.opacity_logits.max())
    assert summary["opacity_logit_range"] == [lo, hi]
    np.testing.assert_allclose(summary["opacity_range"], 1 / (1 + np.exp(-np.array([lo, hi]))), rtol=1e-12)
    assert summary["georeference"] == geo.to_dict()


def test_is_ply_file(tmp_path: Path) -> None:
    assert is_ply_file(plain_file(tmp_path))
    (tmp_path / "crlf.ply").write_bytes(b"ply\r\nformat ascii 1.0\r\n")
    assert is_ply_file(tmp_path / "crlf.ply")
    (tmp_path / "other.ply").write_bytes(b"plyx\n")
    assert not is_ply_file(tmp_path / "other.ply")
    assert not is_ply_file(tmp_path)  # a folder
    assert not is_ply_file(tmp_path / "missing.ply")


def test_canonical_property_names_rejects_bad_degree() -> None:
    assert len(canonical_property_names(0)) == 17
    assert len(canonical_property_names(3)) == 62
    with pytest.raises(ContractError):
        canonical_property_names(4)


# ---------------------------------------------------------------------------------------------
# Files from another writer


def test_gsplat_exporter_files_read_back(tmp_path: Path) -> None:
    # gsplat's export_splats is an independent 3DGS PLY writer (no normals); its compressed variant
    # is the real SuperSplat layout we refuse.
    torch = pytest.importorskip("torch")
    gsplat = pytest.importorskip("gsplat")
    cloud = random_cloud(300, 3, seed=11)
    t = {n: torch.from_numpy(np.array(getattr(cloud, n))) for n in ARRAYS}
    args = (t["means"], t["log_scales"], t["quats"], t["opacity_logits"], t["sh0"][:, None, :], t["shN"])
    plain = tmp_path / "gsplat.ply"
    gsplat.export_splats(*args, format="ply", save_to=str(plain))
    assert_bitwise_equal(cloud, read_ply(plain))
    packed = tmp_path / "gsplat.compressed.ply"
    gsplat.export_splats(*args, format="ply_compressed", save_to=str(packed))
    with pytest.raises(InputError, match="compressed PLY variant"):
        read_ply(packed)
