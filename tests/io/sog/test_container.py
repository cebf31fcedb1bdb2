"""The SOG container: ZIP structure, folder layout, meta.json validation, bad input."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
from splatkit.contracts import CompressedBundle
from splatkit.errors import InputError
from splatkit.io import sog
from splatkit.io.sog import container
from tests.compress.synthetic import synthetic_cloud

MEMBERS = ["means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
           "shN_centroids.webp", "shN_labels.webp"]


@pytest.fixture(scope="module")
def bundle() -> CompressedBundle:
    return encode_sog(synthetic_cloud(700, 1, seed=3), SogEncodeOptions(device="cpu")).bundle


def test_zip_is_stored_without_comment_meta_last(bundle: CompressedBundle, tmp_path: Path) -> None:
    path = sog.write_sog(bundle, tmp_path / "a.sog")
    data = path.read_bytes()
    # The engine reads the end-of-central-directory record at length - 22: no comment allowed.
    assert data[-22:-18] == b"PK\x05\x06"
    assert struct.unpack("<H", data[-2:])[0] == 0
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == [*MEMBERS, "meta.json"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        assert zf.comment == b""
        meta = json.loads(zf.read("meta.json"))
    assert meta["version"] == 2 and meta["count"] == 700
    # no leftovers of the atomic write
    assert [p.name for p in tmp_path.iterdir()] == ["a.sog"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(1, 1500), sh_degree=st.integers(0, 2), order=st.sampled_from(["morton", "plas"]),
       seed=st.integers(0, 2**16))
def test_any_cloud_gives_a_stored_comment_free_zip_of_v2_sized_images(tmp_path: Path, count: int, sh_degree: int,
                                                                        order: str, seed: int) -> None:
    enc = encode_sog(synthetic_cloud(count, sh_degree, seed=seed), SogEncodeOptions(order=order, device="cpu"))
    path = sog.write_sog(enc.bundle, tmp_path / f"p{seed}-{count}.sog")
    data = path.read_bytes()
    assert data[-22:-18] == b"PK\x05\x06" and struct.unpack("<H", data[-2:])[0] == 0   # no comment
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names[-1] == "meta.json" and sorted(names[:-1]) == sorted(enc.bundle.members)
        assert all("/" not in n and i.compress_type == zipfile.ZIP_STORED for n, i in zip(names, infos))
        meta = json.loads(zf.read("meta.json"))
        w, h = sog.image_size(meta["count"])
        assert w % 4 == 0 and h % 4 == 0 and w <= sog.MAX_TEXTURE_SIZE and h <= sog.MAX_TEXTURE_SIZE
        assert w * h >= meta["count"] >= count
        for name in names[:-1]:
            tex = sog.decode_webp(zf.read(name), member=name, source=path)
            if name == "shN_centroids.webp":
                assert tex.shape[:2] == (-(-meta["shN"]["count"] // 64), 64 * (0, 3, 8, 15)[sh_degree])
            else:
                assert tex.shape[:2] == (h, w), name
    assert len(sog.decode_sog(sog.read_sog(path))) == count
    path.unlink()


def test_members_are_lossless_webp_of_the_v2_sizes(bundle: CompressedBundle) -> None:
    w, h = sog.image_size(700)
    for name in MEMBERS:
        data = bundle.members[name]
        assert data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8L", name
        tex = sog.decode_webp(data, member=name, source="x")
        if name == "shN_centroids.webp":
            assert tex.shape[1] == 64 * 3 and tex.shape[0] == -(-bundle.meta["shN"]["count"] // 64)
        else:
            assert tex.shape[:2] == (h, w), name


def test_folder_layout_and_meta_path(bundle: CompressedBundle, tmp_path: Path) -> None:
    folder = sog.write_sog(bundle, tmp_path / "scene")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*MEMBERS, "meta.json"])
    a = sog.decode_sog(sog.read_sog(folder))
    b = sog.decode_sog(sog.read_sog(folder / "meta.json"))
    c = sog.decode_sog(sog.read_sog(sog.write_sog(bundle, tmp_path / "x.sog")))
    assert a.equals(b) and a.equals(c)
    facts = sog.info(tmp_path / "x.sog")
    assert facts["count"] == 700 and facts["sh_degree"] == 1 and facts["bundled"]
    assert facts["bytes"] == (tmp_path / "x.sog").stat().st_size
    assert set(facts["members"]) == set(MEMBERS)


def test_same_input_same_bytes(tmp_path: Path) -> None:
    cloud = synthetic_cloud(300, 1, seed=8)
    a = sog.write_sog(encode_sog(cloud).bundle, tmp_path / "a.sog").read_bytes()
    b = sog.write_sog(encode_sog(cloud).bundle, tmp_path / "b.sog").read_bytes()
    assert a == b


def test_truncated_and_non_zip_files(bundle: CompressedBundle, tmp_path: Path) -> None:
    good = sog.write_sog(bundle, tmp_path / "good.sog").read_bytes()
    (tmp_path / "cut.sog").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="cut.sog"):
        sog.read_sog(tmp_path / "cut.sog")
    (tmp_path / "text.sog").write_text("hello")
    with pytest.raises(InputError, match="not a readable SOG archive"):
        sog.read_sog(tmp_path / "text.sog")
    with pytest.raises(InputError, match="no such"):
        sog.read_sog(tmp_path / "missing.sog")
    with pytest.raises(InputError, match="no meta.json"):
        sog.read_sog(tmp_path)


def _rezip(bundle: CompressedBundle, path: Path, meta: object | None = None, drop: str | None = None,
           replace: dict[str, bytes] | None = None, meta_bytes: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in bundle.members.items():
            if name != drop:
                zf.writestr(name, (replace or {}).get(name, data))
        zf.writestr("meta.json", meta_bytes if meta_bytes is not None else json.dumps(meta or dict(bundle.meta)))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m.pop("version"), "legacy SOG v1"),
    (lambda m: m.update(version=3), "unsupported SOG version 3"),
    (lambda m: m.pop("count"), "'count'"),
    (lambda m: m["means"].pop("mins"), "'means.mins'"),
    (lambda m: m["scales"].update(codebook=[0.0] * 10), "'scales.codebook'"),
    (lambda m: m["sh0"].update(files=[]), "'sh0.files'"),
    (lambda m: m["shN"].update(bands=4), "'shN.bands'"),
    (lambda m: m.update(count=-1), "'count'"),
])
def test_bad_meta_names_the_key(bundle: CompressedBundle, tmp_path: Path, mutate, message: str) -> None:
    meta = json.loads(json.dumps(dict(bundle.meta)))
    mutate(meta)
    path = _rezip(bundle, tmp_path / "bad.sog", meta)
    with pytest.raises(InputError, match="meta.json") as info:
        sog.read_sog(path)
    assert message in str(info.value)


def test_meta_not_json(bundle: CompressedBundle, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        sog.read_sog(_rezip(bundle, tmp_path / "bad.sog", meta_bytes=b"{oops"))


def test_missing_member_is_named(bundle: CompressedBundle, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'quats.webp'"):
        sog.read_sog(_rezip(bundle, tmp_path / "bad.sog", drop="quats.webp"))


def test_zip_bomb_member_is_refused_before_decompressing(bundle: CompressedBundle, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 MiB of zeros deflate to about 64 KB; the declared size is refused before reading
    path = tmp_path / "bomb.sog"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in bundle.members.items():
            zf.writestr(name, bytes(64 << 20) if name == "quats.webp" else data)
        zf.writestr("meta.json", json.dumps(dict(bundle.meta)))
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(container, "MAX_MEMBER_BYTES", 32 << 20)
    with pytest.raises(InputError, match="'quats.webp' holds 67108864 bytes .*ZIP bomb"):
        sog.read_sog(path)


def test_member_and_total_limits_apply_to_folders_and_meta(bundle: CompressedBundle, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = sog.write_sog(bundle, tmp_path / "scene", bundled=False)
    zipped = sog.write_sog(bundle, tmp_path / "a.sog")
    sizes = {name: len(data) for name, data in bundle.members.items()}
    monkeypatch.setattr(container, "MAX_TOTAL_BYTES", sum(sizes.values()) - 1)
    with pytest.raises(InputError, match="add up to more than"):
        sog.read_sog(zipped)
    with pytest.raises(InputError, match="add up to more than"):
        sog.read_sog(folder)
    monkeypatch.setattr(container, "MAX_TOTAL_BYTES", 1 << 40)
    monkeypatch.setattr(container, "MAX_META_BYTES", 10)
    with pytest.raises(InputError, match="'meta.json' holds"):
        sog.read_sog(zipped)


def _webp(shape: tuple[int, int]) -> bytes:
    return sog.encode_webp(np.full((*shape, 4), 255, np.uint8), effort=0)


def test_wrong_size_images_are_named(bundle: CompressedBundle, tmp_path: Path) -> None:
    w, h = sog.image_size(700)
    path = _rezip(bundle, tmp_path / "a.sog", replace={"scales.webp": _webp((h, w + 4))})
    with pytest.raises(InputError, match="'scales.webp'.*same size"):
        sog.decode_sog(sog.read_sog(path))
    meta = json.loads(json.dumps(dict(bundle.meta)))
    meta["count"] = w * h + 1
    with pytest.raises(InputError, match="too small for count"):
        sog.decode_sog(sog.read_sog(_rezip(bundle, tmp_path / "b.sog", meta)))
    path = _rezip(bundle, tmp_path / "c.sog", replace={"shN_centroids.webp": _webp((11, 64 * 8))})
    with pytest.raises(InputError, match="'shN_centroids.webp'.*wide"):
        sog.decode_sog(sog.read_sog(path))
    labels = np.zeros((h, w, 4), np.uint8)
    labels[..., 1] = 255                                   # label 65280: beyond the palette
    path = _rezip(bundle, tmp_path / "d.sog", replace={"shN_labels.webp": sog.encode_webp(labels, effort=0)})
    with pytest.raises(InputError, match="'shN_labels.webp'"):
        sog.decode_sog(sog.read_sog(path))


def test_undecodable_member_is_named(bundle: CompressedBundle, tmp_path: Path) -> None:
    path = _rezip(bundle, tmp_path / "a.sog", replace={"sh0.webp": b"RIFF\x00\x00WEBPjunk"})
    with pytest.raises(InputError, match="'sh0.webp'"):
        sog.decode_sog(sog.read_sog(path))
    png = io.BytesIO()
    from PIL import Image

    Image.new("RGBA", sog.image_size(700)).save(png, format="PNG")
    path = _rezip(bundle, tmp_path / "b.sog", replace={"sh0.webp": png.getvalue()})
    with pytest.raises(InputError, match="'sh0.webp' is PNG"):
        sog.decode_sog(sog.read_sog(path))


def test_write_failure_leaves_no_file(bundle: CompressedBundle, tmp_path: Path, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(OSError):
        sog.write_sog(bundle, tmp_path / "a.sog")
    assert list(tmp_path.iterdir()) == []


def test_info_of_a_folder_counts_every_file(bundle: CompressedBundle, tmp_path: Path) -> None:
    folder = sog.write_sog(bundle, tmp_path / "scene")
    facts = sog.info(folder / "meta.json")
    assert not facts["bundled"]
    assert facts["bytes"] == sum(p.stat().st_size for p in folder.iterdir())
    assert facts["offset"] == bundle.meta["splatkit"]["offset"]


def test_corrupt_deflated_member_is_named(bundle: CompressedBundle, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.sog"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in bundle.members.items():
            zf.writestr(name, data)
        zf.writestr("meta.json", json.dumps(dict(bundle.meta)))
        quats = zf.getinfo("quats.webp")
    data = bytearray(path.read_bytes())
    # The compressed data follows the 30-byte local header, the name and the extra field.
    name_len, extra_len = struct.unpack("<HH", data[quats.header_offset + 26: quats.header_offset + 30])
    start = quats.header_offset + 30 + name_len + extra_len
    data[start] = 0xFF        # first DEFLATE block: final, reserved type 3 -> "invalid block type"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt.sog: SOG member 'quats.webp' is corrupt") as info:
        sog.read_sog(path)
    assert isinstance(info.value.__cause__, zlib.error)      # the decompressor failed, not the CRC check


def test_folder_write_refuses_to_delete_foreign_files(bundle: CompressedBundle, tmp_path: Path) -> None:
    folder = tmp_path / "scene"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    (folder / "photos").mkdir()
    (folder / "old.webp").write_bytes(b"stale")
    for target in (folder, folder / "meta.json"):
        with pytest.raises(InputError, match=r"scene: .*'notes.txt', 'photos'.*new or empty folder"):
            sog.write_sog(bundle, target)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "old.webp", "photos"]
    assert (folder / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene"]      # no temporary leftovers
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        sog.write_sog(bundle, tmp_path / "file", bundled=False)
    assert (tmp_path / "file").read_text() == "x"


def test_folder_write_replaces_a_previous_sog(bundle: CompressedBundle, tmp_path: Path) -> None:
    folder = sog.write_sog(bundle, tmp_path / "scene")
    (folder / "stale.webp").write_bytes(b"from an older export")
    other = encode_sog(synthetic_cloud(300, 0, seed=5), SogEncodeOptions(device="cpu")).bundle
    assert sog.write_sog(other, folder / "meta.json") == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted([*other.members, "meta.json"])
    assert sog.decode_sog(sog.read_sog(folder)).equals(sog.decode_sog(other))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene"]


def test_info_bytes_per_splat_excludes_plas_padding(tmp_path: Path) -> None:
    plas = encode_sog(synthetic_cloud(700, 1, seed=3), SogEncodeOptions(order="plas", device="cpu")).bundle
    padding = plas.meta["splatkit"]["padding"]
    assert padding > 0
    facts = sog.info(sog.write_sog(plas, tmp_path / "plas.sog"))
    assert facts["count"] == 700 + padding and facts["padding"] == padding
    assert facts["bytes_per_splat"] == facts["bytes"] / 700


@pytest.mark.parametrize("offset", [[float("nan"), 0.0, 0.0], [0.0, float("inf"), 0.0], [True, 0.0, 0.0],
                                    [0.0, 0.0], "0,0,0", [0.0, None, 0.0]],
                         ids=["nan", "inf", "bool", "two", "string", "null"])
def test_bad_offset_is_refused(bundle: CompressedBundle, tmp_path: Path, offset: object) -> None:
    meta = json.loads(json.dumps(dict(bundle.meta)))
    meta["splatkit"]["offset"] = offset
    # json.dumps writes NaN/Infinity and json.loads reads them back: the file path must refuse them too
    read = sog.read_sog(_rezip(bundle, tmp_path / "bad.sog", meta))
    with pytest.raises(InputError, match=r"meta.json: 'splatkit.offset' must be a list of 3 finite numbers"):
        sog.decode_sog(read, source=tmp_path / "bad.sog")
    assert sog.decode_sog(read, apply_offset=False).means.shape == (700, 3)


def test_deeply_nested_meta_is_not_valid_json(bundle: CompressedBundle, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="meta.json is not valid JSON: nested too deeply"):
        sog.read_sog(_rezip(bundle, tmp_path / "deep.sog", meta_bytes=b"[" * 100_000))
    folder = tmp_path / "deep"
    folder.mkdir()
    (folder / "meta.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InputError, match="deep.meta.json: meta.json is not valid JSON"):
        sog.read_sog(folder)


@pytest.mark.parametrize("key", ["scales", "sh0", "shN"])
def test_null_first_codebook_entry_is_patched_as_the_engine_does(
        bundle: CompressedBundle, tmp_path: Path, key: str, caplog: pytest.LogCaptureFixture) -> None:
    # Older splat-transform wrote null for a -Infinity codebook[0]; the engine patches it to
    # codebook[1] + (codebook[1] - codebook[255]) / 255.
    codebook = list(bundle.meta[key]["codebook"])
    patched_value = codebook[1] + (codebook[1] - codebook[255]) / 255
    with_null = json.loads(json.dumps(dict(bundle.meta)))
    with_null[key]["codebook"][0] = None
    with_patch = json.loads(json.dumps(dict(bundle.meta)))
    with_patch[key]["codebook"][0] = patched_value
    expected = sog.decode_sog(CompressedBundle(format="sog", version=2, meta=with_patch, members=bundle.members,
                                               source_count=700))
    assert not expected.equals(sog.decode_sog(bundle))         # some splat really uses entry 0

    null_bundle = CompressedBundle(format="sog", version=2, meta=with_null, members=bundle.members, source_count=700)
    with caplog.at_level("WARNING", logger="splatkit.io.sog"):
        assert sog.decode_sog(null_bundle).equals(expected)
    assert f"'{key}.codebook' has a null entry 0" in caplog.text
    assert null_bundle.meta[key]["codebook"][0] is None          # the caller's meta is left alone
    assert sog.decode_sog(sog.read_sog(_rezip(bundle, tmp_path / "old.sog", with_null))).equals(expected)


@pytest.mark.parametrize("key", ["scales", "sh0", "shN"])
def test_null_codebook_entry_elsewhere_is_refused(bundle: CompressedBundle, tmp_path: Path, key: str) -> None:
    meta = json.loads(json.dumps(dict(bundle.meta)))
    meta[key]["codebook"][5] = None
    with pytest.raises(InputError, match=rf"bad.sog: meta.json: '{key}.codebook' .*entry 5 is None"):
        sog.read_sog(_rezip(bundle, tmp_path / "bad.sog", meta))
    meta[key]["codebook"][0] = float("nan")
    meta[key]["codebook"][5] = 0.0
    with pytest.raises(InputError, match=rf"'{key}.codebook' .*entry 0 is nan"):
        sog.read_sog(_rezip(bundle, tmp_path / "nan.sog", meta))
