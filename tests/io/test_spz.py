"""Niantic SPZ read/write: files built by hand from the published layout, round trips within the
format's quantisation, and every way a file can be bad (each an InputError naming the file).

The byte layout the hand-built files follow is the one in the README of github.com/nianticlabs/spz
("File Format") and docs/formats.md ("SPZ"); the expected values are computed here from the
published decode formulas, not from splatkit's decoder. Version-4 tests need ``zstandard`` and
skip without it. Interop with an independent implementation is in ``test_spz_interop.py``.
"""

from __future__ import annotations

import dataclasses
import gzip
import logging
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from splatkit.compress.sog_encoder import decode_errors
from splatkit.contracts import SH_COEFFS_FOR_DEGREE, GaussianCloud, Georeference
from splatkit.errors import BackendUnavailableError, ContractError, InputError
from splatkit.io import spz
from splatkit.io.ply import write_ply
from splatkit.testing.corruption import corruptions

HAS_ZSTD = spz.zstd_unavailable_reason() is None
needs_zstd = pytest.mark.skipif(not HAS_ZSTD, reason="SPZ version 4 needs zstandard (pip install zstandard)")
VERSIONS = [2, 3, pytest.param(4, marks=needs_zstd)]
BLOCKS = ("positions", "alphas", "colors", "scales", "rotations", "sh")

# Decode error bounds of the byte encodings (README "File Format"; load-spz.cc):
POSITION_STEP = 2.0 ** -12          # 24-bit fixed point, 12 fractional bits: half a step at most
LOG_SCALE_MAX = 0.5 / 16            # byte = (log_scale + 10) * 16
SH0_MAX = 0.5 / 255 / 0.15          # byte = sh0 * 0.15 * 255 + 127.5
OPACITY_MAX = 0.5 / 255 + 1e-6      # byte = sigmoid * 255; 0 and 255 read as 1e-6 and 1 - 1e-6
SHN_MAX = {1: (4 + 0.5) / 128, 2: (8 + 0.5) / 128}    # 5 bits for band 1, 4 bits above (buckets of 8, 16)
ROTATION_MAX_DEG = {2: 16.0, 3: 0.3, 4: 0.3}         # v2 derives w from 8-bit x, y, z: poor near w = 0


def cloud_in_range(n: int = 300, degree: int = 3, *, seed: int = 0, georeference: Georeference | None = None,
                   extent: float = 100.0) -> GaussianCloud:
    """A random cloud whose values all lie inside what SPZ's bytes can hold (nothing clamped)."""
    rng = np.random.default_rng(seed)
    k = SH_COEFFS_FOR_DEGREE[degree]
    return GaussianCloud(means=rng.uniform(-extent, extent, (n, 3)), log_scales=rng.uniform(-10, 5.9, (n, 3)),
                         quats=rng.normal(size=(n, 4)), opacity_logits=rng.uniform(-12, 12, n),
                         sh0=rng.uniform(-3.3, 3.3, (n, 3)), shN=rng.uniform(-1, 1, (n, k, 3)),
                         georeference=georeference)


def check_within_quantisation(reference: GaussianCloud, decoded: GaussianCloud, version: int) -> None:
    assert len(decoded) == len(reference) and decoded.sh_degree == reference.sh_degree
    decoded.validate(source="decoded")
    errors = decode_errors(reference, decoded)
    assert errors["position_max"] <= POSITION_STEP / 2 * 1.0001
    assert errors["log_scale_max"] <= LOG_SCALE_MAX + 1e-6
    assert errors["sh0_max"] <= SH0_MAX + 1e-6
    assert errors["opacity_max"] <= OPACITY_MAX
    assert errors["rotation_max_deg"] <= ROTATION_MAX_DEG[version]
    if reference.sh_degree:
        err = np.abs(decoded.shN.astype(np.float64) - reference.shN)
        assert err[:, :3].max() <= SHN_MAX[1] + 1e-6
        if reference.sh_degree > 1:
            assert err[:, 3:].max() <= SHN_MAX[2] + 1e-6


# --------------------------------------------------------------------------------------------
# Files built by hand from the published layout


def fixed24(values: list[float], bits: int = 12) -> bytes:
    return b"".join(struct.pack("<i", round(v * (1 << bits)))[:3] for v in values)


def legacy_payload(version: int, count: int, sh_degree: int, blocks: list[bytes], *, flags: int = 0,
                   bits: int = 12, magic: int = 0x5053474E) -> bytes:
    """The uncompressed v2/v3 stream: 16-byte header, then the blocks in file order."""
    return struct.pack("<IIIBBBB", magic, version, count, sh_degree, bits, flags, 0) + b"".join(blocks)


def legacy_file(*args: object, **kwargs: object) -> bytes:
    return gzip.compress(legacy_payload(*args, **kwargs), mtime=0)  # type: ignore[arg-type]


def two_splats(version: int, sh_degree: int = 1) -> tuple[list[bytes], dict[str, np.ndarray]]:
    """Blocks for two splats and the values the published formulas decode them to."""
    positions = [1.0, -2.0, 0.5, -2.0 ** -12, 100.0, -2048.0]
    alphas = bytes([128, 255])
    colors = bytes([0, 255, 128, 64, 127, 200])
    scales = bytes([160, 0, 255, 1, 2, 3])
    if version == 2:
        rot_bytes = bytes([128, 128, 128, 0, 128, 255])
        xyz = np.frombuffer(rot_bytes, np.uint8).reshape(2, 3) / 127.5 - 1.0
        w = np.sqrt(np.maximum(0.0, 1.0 - (xyz ** 2).sum(axis=1)))
        quats = np.column_stack([w, xyz])
    else:
        # identity: largest index 3, others 0; 90 deg about z: (x, y, z, w) = (0, 0, s, s), the first
        # of the two largest (index 2) is left out and w is the last 10 bits: magnitude 511
        rot_bytes = struct.pack("<II", 3 << 30, (2 << 30) | 511)
        s = np.sqrt(0.5)
        quats = np.array([[1.0, 0.0, 0.0, 0.0], [s, 0.0, 0.0, s]])
    dim = SH_COEFFS_FOR_DEGREE[sh_degree]
    sh = bytes((i * 37 + 5) % 256 for i in range(2 * dim * 3))
    expected = {
        "means": np.array(positions).reshape(2, 3),
        "opacity": np.clip(np.array([128, 255]) / 255.0, 1e-6, 1 - 1e-6),
        "sh0": (np.frombuffer(colors, np.uint8).reshape(2, 3) / 255.0 - 0.5) / 0.15,
        "log_scales": np.frombuffer(scales, np.uint8).reshape(2, 3) / 16.0 - 10.0,
        "quats": quats,
        "shN": (np.frombuffer(sh, np.uint8).reshape(2, dim, 3).astype(np.float64) - 128) / 128,
    }
    return [fixed24(positions), alphas, colors, scales, rot_bytes, sh], expected


def check_expected(cloud: GaussianCloud, expected: dict[str, np.ndarray]) -> None:
    assert np.array_equal(cloud.means, expected["means"].astype(np.float32))
    assert np.allclose(1 / (1 + np.exp(-cloud.opacity_logits.astype(np.float64))), expected["opacity"], atol=1e-7)
    assert np.allclose(cloud.sh0, expected["sh0"], atol=1e-6)
    assert np.array_equal(cloud.log_scales, expected["log_scales"].astype(np.float32))
    assert np.allclose(cloud.quats, expected["quats"], atol=1e-6)
    assert np.array_equal(cloud.shN, expected["shN"].astype(np.float32))


def ngsp_file(count: int, sh_degree: int, blocks: list[bytes], *, flags: int = 0, extensions: bytes = b"",
              toc: list[tuple[int, int]] | None = None, streams: list[bytes] | None = None,
              stream_count: int | None = None) -> bytes:
    """A version-4 file: 32-byte header, extension records, TOC, one ZSTD frame per non-empty block."""
    import zstandard

    present = [b for b in blocks if b]
    if streams is None:
        streams = [zstandard.ZstdCompressor(level=3).compress(b) for b in present]
    if toc is None:
        toc = [(len(s), len(b)) for s, b in zip(streams, present)]
    header = struct.pack("<IIIBBBBI12s", 0x5053474E, 4, count, sh_degree, 12, flags,
                         len(streams) if stream_count is None else stream_count, 32 + len(extensions), bytes(12))
    return header + extensions + b"".join(struct.pack("<QQ", *e) for e in toc) + b"".join(streams)


@pytest.mark.parametrize("version, sh_degree", [(2, 0), (2, 1), (3, 0), (3, 1), (3, 3)])
def test_hand_built_legacy_file_decodes_to_the_published_values(tmp_path: Path, version: int,
                                                                sh_degree: int) -> None:
    blocks, expected = two_splats(version, sh_degree)
    path = tmp_path / "hand.spz"
    path.write_bytes(legacy_file(version, 2, sh_degree, blocks))
    assert spz.is_spz(path)
    check_expected(spz.read_spz(path), expected)


@needs_zstd
@pytest.mark.parametrize("sh_degree", [0, 2])
def test_hand_built_version_4_file_decodes_to_the_published_values(tmp_path: Path, sh_degree: int) -> None:
    blocks, expected = two_splats(4, sh_degree)
    path = tmp_path / "hand.spz"
    path.write_bytes(ngsp_file(2, sh_degree, blocks))
    check_expected(spz.read_spz(path), expected)
    facts = spz.info(path)
    assert (facts["version"], facts["compression"], facts["count"], facts["sh_degree"]) == (4, "zstd", 2, sh_degree)


def test_our_bytes_follow_the_published_layout() -> None:
    cloud = GaussianCloud(means=[[1.0, -2.0, 0.5]], log_scales=[[0.0, -10.0, 5.9375]], quats=[[2.0, 0, 0, 0]],
                          opacity_logits=[0.0], sh0=[[0.0, 10.0, -10.0]], shN=np.zeros((1, 3, 3)))
    payload = gzip.decompress(spz.encode_spz(cloud, version=3))
    assert payload[:16] == struct.pack("<IIIBBBB", 0x5053474E, 3, 1, 1, 12, 0, 0)
    body = payload[16:]
    assert body[:9] == fixed24([1.0, -2.0, 0.5])
    assert body[9] == 128                                      # sigmoid(0) * 255 = 127.5, away from zero
    assert body[10:13] == bytes([128, 255, 0])                 # colours clamp to the byte range
    assert body[13:16] == bytes([160, 0, 255])
    assert body[16:20] == struct.pack("<I", 3 << 30)           # identity, w largest, after normalising
    assert body[20:] == bytes([128] * 9)
    assert len(body) == spz.bytes_per_splat(3, 1) == 29


def test_sh_degree_4_reads_as_degree_3(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocks, _ = two_splats(3, 3)
    dim4 = bytes((i * 11) % 256 for i in range(2 * 24 * 3))
    path = tmp_path / "deg4.spz"
    path.write_bytes(legacy_file(3, 2, 4, blocks[:5] + [dim4]))
    with caplog.at_level(logging.WARNING, logger="splatkit.io.spz"):
        cloud = spz.read_spz(path)
    assert cloud.sh_degree == 3 and "degree 4" in caplog.text
    expected = (np.frombuffer(dim4, np.uint8).reshape(2, 24, 3)[:, :15].astype(np.float32) - 128) / 128
    assert np.array_equal(cloud.shN, expected)
    assert spz.info(path)["sh_degree"] == 4


def test_extension_records_are_listed_and_skipped(tmp_path: Path) -> None:
    blocks, expected = two_splats(3, 1)
    records = struct.pack("<III", 0xADBE0003, 4, 6) + struct.pack("<II", 0x12340001, 3) + b"abc"
    path = tmp_path / "ext.spz"
    path.write_bytes(gzip.compress(legacy_payload(3, 2, 1, blocks, flags=0x2) + records, mtime=0))
    check_expected(spz.read_spz(path), expected)
    assert spz.info(path)["extensions"] == [
        {"type": "0xADBE0003", "name": "SPZ_ADOBE_coordinate_system", "bytes": 4, "coordinate_system": "RDF"},
        {"type": "0x12340001", "name": None, "bytes": 3}]
    path.write_bytes(gzip.compress(legacy_payload(3, 2, 1, blocks, flags=0x2) + records[:-1], mtime=0))
    with pytest.raises(InputError, match="extension"):
        spz.read_spz(path)


# --------------------------------------------------------------------------------------------
# Round trips


def blocks_of(data: bytes, count: int, sh_degree: int) -> dict[str, bytes]:
    """The attribute blocks of a file, unpacked here from the published layout."""
    if data[:2] == b"\x1f\x8b":
        payload = gzip.decompress(data)
        version = struct.unpack_from("<I", payload, 4)[0]
        flat, offset = payload, 16
    else:
        import zstandard

        version, streams, toc = 4, data[15], struct.unpack_from("<I", data, 16)[0]
        entries = [struct.unpack_from("<QQ", data, toc + 16 * i) for i in range(streams)]
        start = toc + 16 * streams
        frames = []
        for compressed, _ in entries:
            frames.append(zstandard.ZstdDecompressor().decompress(data[start:start + compressed]))
            start += compressed
        flat, offset = b"".join(frames), 0
    sizes = [9, 1, 3, 3, 3 if version == 2 else 4, 3 * SH_COEFFS_FOR_DEGREE[sh_degree]]
    out = {}
    for name, size in zip(BLOCKS, sizes):
        out[name] = flat[offset:offset + size * count]
        offset += size * count
    assert offset == len(flat)
    return out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_within_quantisation(tmp_path: Path, version: int, degree: int) -> None:
    cloud = cloud_in_range(500, degree, seed=degree)
    path = spz.write_spz(cloud, tmp_path / "c.spz", version=version)
    decoded = spz.read_spz(path)
    check_within_quantisation(cloud, decoded, version)
    assert spz.info(path)["version"] == version
    # decoded values are on the grid: writing them again gives the same bytes (rotations are
    # renormalised in float32, so their last bit may move)
    first = blocks_of(path.read_bytes(), len(cloud), degree)
    again = blocks_of(spz.encode_spz(decoded, version=version), len(cloud), degree)
    for block in BLOCKS:
        if block != "rotations":
            assert first[block] == again[block], block


clouds = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.just(n), st.sampled_from([0, 1, 2, 3]),
    hnp.arrays(np.float32, (n, 3), elements=st.floats(-2000, 2000, width=32)),
    hnp.arrays(np.float32, (n, 3), elements=st.floats(-10, 5.875, width=32)),
    hnp.arrays(np.float32, (n, 4), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)),
    hnp.arrays(np.float32, (n,), elements=st.floats(-30, 30, width=32)),
    hnp.arrays(np.float32, (n, 3), elements=st.floats(-3.25, 3.25, width=32)),
    hnp.arrays(np.float32, (n, 15, 3), elements=st.floats(-1, 1, width=32)),
))


@given(clouds, st.sampled_from([2, 3]))
def test_any_cloud_round_trips_within_quantisation(case: tuple, version: int) -> None:
    n, degree, means, log_scales, quats, opacity, sh0, shN = case
    cloud = GaussianCloud(means=means, log_scales=log_scales, quats=quats, opacity_logits=opacity, sh0=sh0,
                          shN=shN[:, :SH_COEFFS_FOR_DEGREE[degree]])
    decoded = spz.decode_spz(spz.encode_spz(cloud, version=version))
    # a zero quaternion is written as the identity
    expected = np.where((quats == 0).all(axis=1)[:, None], np.float32([1, 0, 0, 0]), quats)
    check_within_quantisation(dataclasses.replace(cloud, quats=expected), decoded, version)


def test_values_outside_the_byte_ranges_are_clamped_not_refused() -> None:
    cloud = GaussianCloud(means=[[0.0, 0, 0]], log_scales=[[-20.0, 9.0, 0]], quats=[[1.0, 0, 0, 0]],
                          opacity_logits=[100.0], sh0=[[-9.0, 9.0, 0]], shN=np.full((1, 3, 3), 4.0))
    decoded = spz.decode_spz(spz.encode_spz(cloud))
    assert decoded.log_scales[0].tolist() == [-10.0, 255 / 16 - 10, 0.0]
    assert np.allclose(decoded.sh0[0, :2], [-0.5 / 0.15, 0.5 / 0.15])
    assert np.isfinite(decoded.opacity_logits).all() and decoded.opacity_logits[0] > 13
    assert np.allclose(decoded.shN, 127 / 128)


def test_fractional_bits_and_antialiased_flag_are_kept(tmp_path: Path) -> None:
    cloud = cloud_in_range(50, 1, extent=30000.0)
    with pytest.raises(ContractError, match="fractional_bits=8"):
        spz.encode_spz(cloud)
    assert spz.max_fractional_bits(cloud.means) == 8
    path = spz.write_spz(cloud, tmp_path / "big.spz", fractional_bits=8, antialiased=True)
    facts = spz.info(path)
    assert facts["fractional_bits"] == 8 and facts["antialiased"] is True and facts["position_step"] == 2 ** -8
    assert np.abs(spz.read_spz(path).means - cloud.means).max() <= 2 ** -9


def test_georeference_is_dropped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cloud = cloud_in_range(10, 0, georeference=Georeference(lat=47.0, lon=8.0, alt=400.0))
    with caplog.at_level(logging.WARNING, logger="splatkit.io.spz"):
        path = spz.write_spz(cloud, tmp_path / "geo.spz")
    assert caplog.text.count("georeference") == 1
    assert spz.read_spz(path).georeference is None and spz.info(path)["georeference"] is None


@pytest.mark.parametrize("kwargs, match", [
    ({"version": 1}, "version"), ({"version": 5}, "version"), ({"fractional_bits": 24}, "fractional_bits"),
    ({"sh1_bits": 0}, "sh1_bits"), ({"sh_rest_bits": 9}, "sh_rest_bits"), ({"version": True}, "version"),
])
def test_bad_options_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ContractError, match=match):
        spz.encode_spz(cloud_in_range(3, 0), **kwargs)


def test_empty_and_non_finite_clouds_are_refused() -> None:
    with pytest.raises(ContractError, match="empty"):
        spz.encode_spz(cloud_in_range(5, 0).subset(np.zeros(5, bool)))
    bad = cloud_in_range(5, 0)
    means = bad.means.copy()
    means[2, 1] = np.nan
    with pytest.raises(ContractError):
        spz.encode_spz(GaussianCloud(means=means, log_scales=bad.log_scales, quats=bad.quats,
                                     opacity_logits=bad.opacity_logits, sh0=bad.sh0))


def test_version_4_without_zstandard_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(spz, "zstd_unavailable_reason", lambda: "needs the zstandard package: pip install zstandard")
    with pytest.raises(BackendUnavailableError, match="pip install zstandard"):
        spz.encode_spz(cloud_in_range(3, 0), version=4)
    blocks, _ = two_splats(4, 0)
    path = tmp_path / "v4.spz"
    path.write_bytes(struct.pack("<IIIBBBBI12s", 0x5053474E, 4, 2, 0, 12, 0, 5, 32, bytes(12))
                     + b"".join(struct.pack("<QQ", len(b), len(b)) for b in blocks[:5]) + b"".join(blocks[:5]))
    assert spz.is_spz(path)
    with pytest.raises(BackendUnavailableError, match="zstandard"):
        spz.read_spz(path)
    facts = spz.info(path)                       # the structure is still checked and described
    assert (facts["version"], facts["count"], facts["bounds_min"]) == (4, 2, None)


# --------------------------------------------------------------------------------------------
# Detection, info, the Format class


def test_is_spz_never_raises(tmp_path: Path) -> None:
    spz_path = spz.write_spz(cloud_in_range(5, 1), tmp_path / "a.spz")
    assert spz.is_spz(spz_path) and spz.is_spz(str(spz_path))
    ply = write_ply(cloud_in_range(5, 1), tmp_path / "a.ply")
    others = {"ply": ply, "missing": tmp_path / "nope.spz", "folder": tmp_path}
    for name, data in {"empty": b"", "gzip of text": gzip.compress(b"hello world, not a splat", mtime=0),
                       "broken gzip": b"\x1f\x8b\x08\x00garbage", "NGSP short": b"NGSP\x04\x00",
                       "random": np.random.default_rng(0).bytes(100)}.items():
        (tmp_path / name).write_bytes(data)
        others[name] = tmp_path / name
    for name, path in others.items():
        assert not spz.is_spz(path), name


def test_info_and_format_class(tmp_path: Path) -> None:
    cloud = cloud_in_range(200, 2)
    fmt = spz.SpzFormat()
    assert (fmt.name, fmt.holds, fmt.suffixes, spz.SpzFormat.can_write()) == ("spz", "splats", (".spz",), True)
    path = fmt.write(cloud, tmp_path / "out" / "scene.spz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["scene.spz"]          # no temporary left
    assert fmt.detect(path)
    facts = fmt.describe(path)
    assert list(facts)[0] == "type" and facts["type"] == "spz"
    assert (facts["version"], facts["count"], facts["sh_degree"], facts["fractional_bits"]) == (3, 200, 2, 12)
    assert facts["antialiased"] is False and facts["extensions"] == []
    assert facts["file_size_bytes"] == path.stat().st_size
    assert facts["bytes_per_splat"] == path.stat().st_size / 200
    assert np.allclose(facts["bounds_min"], cloud.means.min(axis=0), atol=POSITION_STEP)
    check_within_quantisation(cloud, fmt.decode(path), 3)


def test_writes_are_deterministic() -> None:
    cloud = cloud_in_range(100, 3)
    assert spz.encode_spz(cloud) == spz.encode_spz(cloud)


# --------------------------------------------------------------------------------------------
# Hostile input: each an InputError naming the file, with bounded work


def read_bytes_as_file(tmp_path: Path, data: bytes, name: str = "bad.spz") -> GaussianCloud:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        return spz.read_spz(path)
    except InputError as e:
        assert str(path) in str(e)
        raise


def test_truncated_files_are_refused(tmp_path: Path) -> None:
    data = spz.encode_spz(cloud_in_range(300, 3))
    for cut in (1, 2, 10, 30, len(data) // 2, len(data) - 8, len(data) - 1):
        with pytest.raises(InputError):
            read_bytes_as_file(tmp_path, data[:cut])


def test_payload_shorter_or_longer_than_the_header_says(tmp_path: Path) -> None:
    blocks, _ = two_splats(3, 1)
    payload = legacy_payload(3, 2, 1, blocks)
    with pytest.raises(InputError, match="truncated"):
        read_bytes_as_file(tmp_path, gzip.compress(payload[:-1], mtime=0))
    with pytest.raises(InputError, match="bytes after"):
        read_bytes_as_file(tmp_path, gzip.compress(payload + b"\0", mtime=0))
    with pytest.raises(InputError, match="inside the 16-byte header"):
        read_bytes_as_file(tmp_path, gzip.compress(payload[:10], mtime=0))


def test_trailing_data_after_the_stream_is_refused(tmp_path: Path) -> None:
    data = spz.encode_spz(cloud_in_range(20, 1))
    with pytest.raises(InputError, match="follow"):
        read_bytes_as_file(tmp_path, data + b"junk")
    with pytest.raises(InputError, match="follow"):
        read_bytes_as_file(tmp_path, data + data)                 # a second gzip member


@pytest.mark.parametrize("data, match", [
    (b"", "neither"), (b"ply\nformat binary_little_endian 1.0\n", "neither"), (b"NGSP", "shorter"),
    (gzip.compress(b"NGSQ" + bytes(40), mtime=0), "magic"), (gzip.compress(b"hello", mtime=0), "header"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 40, "corrupt"),
])
def test_foreign_and_broken_files_are_refused(tmp_path: Path, data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        read_bytes_as_file(tmp_path, data)


@pytest.mark.parametrize("version, sh_degree, bits, match", [
    (1, 0, 12, "version 1"), (5, 0, 12, "version 5"), (4, 0, 12, "not gzip"), (3, 5, 12, "SH degree 5"),
    (3, 0, 40, "fractional bits"),
])
def test_bad_header_fields_are_refused(tmp_path: Path, version: int, sh_degree: int, bits: int, match: str) -> None:
    data = legacy_file(version, 1, sh_degree, [bytes(40)], bits=bits)
    with pytest.raises(InputError, match=match):
        read_bytes_as_file(tmp_path, data)


@pytest.mark.parametrize("count", [spz.SPZ_MAX_COUNT + 1, 2 ** 32 - 1])
def test_counts_over_the_limit_are_refused(tmp_path: Path, count: int) -> None:
    with pytest.raises(InputError, match="more than splatkit reads"):
        read_bytes_as_file(tmp_path, legacy_file(3, count, 3, [bytes(100)]))
    with pytest.raises(InputError, match="more than splatkit reads"):
        read_bytes_as_file(tmp_path, struct.pack("<IIIBBBBI12s", 0x5053474E, 4, count, 3, 12, 0, 6, 32, bytes(12)))


def test_a_tiny_file_claiming_many_splats_is_refused_before_inflating(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="compressed bytes can hold"):
        read_bytes_as_file(tmp_path, legacy_file(3, spz.SPZ_MAX_COUNT, 3, [bytes(100)]))
    with pytest.raises(InputError, match="bytes can hold"):
        read_bytes_as_file(tmp_path, struct.pack("<IIIBBBBI12s", 0x5053474E, 4, 1_000_000, 3, 12, 0, 6, 32,
                                                 bytes(12)) + bytes(64))


def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    # a 1-splat header followed by 128 MiB of zeros: ~130 KB on disk (Z_RLE: quick to build)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    blocks, _ = two_splats(3, 0)
    parts = [compressor.compress(legacy_payload(3, 1, 0, [b[: len(b) // 2] for b in blocks]))]
    zeros = bytes(1 << 20)
    parts += [compressor.compress(zeros) for _ in range(128)]
    bomb = b"".join(parts) + compressor.flush()
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="bytes after"):
            read_bytes_as_file(tmp_path, bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20                                         # never the 128 MiB


@needs_zstd
def test_version_4_structure_errors_are_refused(tmp_path: Path) -> None:
    import zstandard

    blocks, _ = two_splats(4, 1)
    good = ngsp_file(2, 1, blocks)
    assert spz.decode_spz(good) is not None
    frames = [zstandard.ZstdCompressor().compress(b) for b in blocks]
    sizes = [(len(f), len(b)) for f, b in zip(frames, blocks)]
    cases = {
        "streams": ngsp_file(2, 1, blocks, stream_count=5),
        "claims": ngsp_file(2, 1, blocks, toc=[sizes[0], (sizes[1][0], 3)] + sizes[2:]),
        "adds up": ngsp_file(2, 1, blocks, toc=[(sizes[0][0] + 1, sizes[0][1])] + sizes[1:]),
        "followed by": good + b"x",
        "without the extensions flag": ngsp_file(2, 1, blocks, extensions=struct.pack("<II", 0x12340001, 0)),
        "extension": ngsp_file(2, 1, blocks, flags=0x2, extensions=struct.pack("<II", 0x12340001, 9)),
        "ZSTD frame of": ngsp_file(2, 1, blocks, streams=[zstandard.ZstdCompressor().compress(bytes(1000))]
                                   + frames[1:], toc=[(len(zstandard.ZstdCompressor().compress(bytes(1000))), 18)]
                                   + sizes[1:]),
        "not valid ZSTD": ngsp_file(2, 1, blocks, streams=[b"\0" * sizes[0][0]] + frames[1:]),
        "TOC offset": good[:16] + struct.pack("<I", 10 ** 6) + good[20:],
    }
    for match, data in cases.items():
        with pytest.raises(InputError, match=match):
            read_bytes_as_file(tmp_path, data)


def test_a_version_4_frame_lying_about_its_size_is_not_allocated(tmp_path: Path) -> None:
    pytest.importorskip("zstandard")
    blocks, _ = two_splats(4, 0)
    # a hand-made frame header declaring 2**40 content bytes (single-segment, 8-byte size field)
    lying = bytes([0x28, 0xB5, 0x2F, 0xFD, 0xE0]) + struct.pack("<Q", 1 << 40) + bytes(8)
    data = ngsp_file(2, 0, blocks, streams=[lying], toc=[(len(lying), 18)], stream_count=5)
    with pytest.raises(InputError):
        read_bytes_as_file(tmp_path, data)


@pytest.mark.parametrize("version", VERSIONS)
def test_damaged_copies_are_refused_or_read(tmp_path: Path, version: int) -> None:
    data = spz.encode_spz(cloud_in_range(64, 2), version=version)
    for damaged in corruptions(data, flips=24):
        try:
            cloud = spz.decode_spz(damaged.data, source=damaged.label)
        except InputError as e:
            assert damaged.label in str(e)
        else:
            cloud.validate(source=damaged.label)                    # a flip in a value: still a cloud
