"""The meta.json schema: one validator per version, a round trip, and every bad key named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit.contracts import Georeference
from splatkit.errors import ContractError, InputError
from splatkit.io import sog
from tests.io.sog.fixtures import make_sog_v1

V1_META = Path(make_sog_v1.__file__).resolve().parent / make_sog_v1.FOLDER / "meta.json"

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
# A codebook from a few drawn values, cycled to 256 entries (drawing 256 floats trips hypothesis'
# large-input health check and adds nothing: the schema treats every entry alike).
codebooks = st.lists(finite, min_size=1, max_size=8).map(lambda v: tuple((v * 256)[:256]))
names = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8).map(lambda s: s + ".webp")


@st.composite
def metas(draw: st.DrawFn) -> sog.SogMeta:
    count = draw(st.integers(0, 10**6))
    shn = None
    if draw(st.booleans()):
        shn = sog.ShNMeta(count=draw(st.integers(1, sog.MAX_PALETTE_ENTRIES)), bands=draw(st.integers(1, 3)),
                          codebook=draw(codebooks))
    roles = ("means_l", "means_u", "quats", "scales", "sh0") + (("shn_centroids", "shn_labels") if shn else ())
    files = sog.SogFiles(**{role: draw(names) for role in roles})
    extension = None
    if draw(st.booleans()):
        geo = draw(st.none() | st.builds(Georeference, lat=st.floats(-90, 90), lon=st.floats(-180, 180), alt=finite))
        extension = sog.SplatkitExtension(
            offset=tuple(draw(st.lists(finite, min_size=3, max_size=3))), georeference=geo,
            source_count=draw(st.integers(0, 10**6)), dropped_invalid=draw(st.integers(0, 10)),
            order=draw(st.sampled_from(["morton", "plas"])), padding=draw(st.integers(0, count)),
            palette_numbering=draw(st.none() | st.sampled_from(["k-means", "file-position"])))
    return sog.SogMeta(count=count, means_mins=tuple(draw(st.lists(finite, min_size=3, max_size=3))),
                       means_maxs=tuple(draw(st.lists(finite, min_size=3, max_size=3))),
                       scales_codebook=draw(codebooks),
                       sh0_codebook=draw(codebooks), shn=shn,
                       files=files, generator=draw(st.none() | st.just("splatkit test")), splatkit=extension)


@given(metas())
def test_v2_meta_round_trips_through_json(meta: sog.SogMeta) -> None:
    written = json.loads(json.dumps(meta.to_json()))
    assert sog.SogMeta.from_json(written) == meta
    assert sog.parse_meta(written) == meta
    assert sog.validate_meta(written) == written
    assert meta.member_names() == [n for key in ("means", "quats", "scales", "sh0", "shN")
                                   for n in written.get(key, {}).get("files", [])]


def test_the_encoder_writes_through_the_schema() -> None:
    from splatkit.compress.sog_encoder import SogEncodeOptions, encode_sog
    from tests.compress.synthetic import synthetic_cloud

    geo = Georeference(lat=48.1, lon=11.6, alt=520.0)
    enc = encode_sog(synthetic_cloud(300, 2, seed=1, georeference=geo), SogEncodeOptions(device="cpu"))
    assert dict(enc.bundle.meta) == enc.meta.to_json()
    assert sog.SogMeta.from_json(json.loads(json.dumps(dict(enc.bundle.meta)))) == enc.meta
    assert sorted(enc.bundle.members) == sorted(enc.meta.member_names())
    assert enc.meta.splatkit is not None and enc.meta.splatkit.georeference == geo


def test_the_v1_fixture_parses_as_v1() -> None:
    raw = json.loads(V1_META.read_text())
    meta = sog.parse_meta(raw)
    assert isinstance(meta, sog.SogMetaV1) and meta.version == sog.SOG_V1_VERSION
    assert (meta.count, meta.dialect, meta.splatkit) == (289, "sogs", None)
    assert sorted(meta.member_names()) == sorted(p.name for p in V1_META.parent.glob("*.webp"))
    assert sog.validate_meta_v1(raw) == raw


def _v2_json() -> dict[str, Any]:
    meta = sog.SogMeta(count=10, means_mins=(-1.0, -1.0, -1.0), means_maxs=(1.0, 1.0, 1.0),
                       scales_codebook=tuple(float(i) for i in range(256)), sh0_codebook=(0.5,) * 256,
                       shn=sog.ShNMeta(count=4, bands=1, codebook=(0.0,) * 256), generator="t",
                       splatkit=sog.SplatkitExtension(offset=(1.0, 2.0, 3.0), source_count=10, padding=2))
    return meta.to_json()


def _set(dotted: str, value: Any) -> Any:
    def mutate(meta: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        node = meta
        for part in parents:
            node = node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


_DELETE = object()

V2_BAD_KEYS = [
    ("count", _set("count", -1)), ("count", _set("count", True)), ("count", _set("count", _DELETE)),
    ("means.mins", _set("means.mins", [0.0, 0.0])), ("means.maxs", _set("means.maxs", [0.0, float("nan"), 0.0])),
    ("means.files", _set("means.files", ["a.webp"])), ("means", _set("means", _DELETE)),
    ("scales.codebook", _set("scales.codebook", [0.0] * 255)), ("scales.files", _set("scales.files", [""])),
    ("quats.files", _set("quats.files", _DELETE)),
    ("sh0.codebook", _set("sh0.codebook", [None] + [0.0] * 254 + [None])), ("sh0.files", _set("sh0.files", "s")),
    ("shN.bands", _set("shN.bands", 4)), ("shN.count", _set("shN.count", 0)),
    ("shN.count", _set("shN.count", 65537)), ("shN.codebook", _set("shN.codebook", "x")),
    ("shN.files", _set("shN.files", ["c.webp"])),
    ("'splatkit' must be an object", _set("splatkit", [1, 2])),
    ("unsupported SOG version 3", _set("version", 3)),
    ("legacy SOG v1", _set("version", _DELETE)),
]


@pytest.mark.parametrize("key, mutate", V2_BAD_KEYS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(V2_BAD_KEYS)])
def test_one_validator_names_each_bad_v2_key(tmp_path: Path, key: str, mutate) -> None:
    meta = _v2_json()
    mutate(meta)
    before = copy.deepcopy(meta)
    for check in (sog.parse_meta, sog.validate_meta, sog.SogMeta.from_json):
        with pytest.raises(InputError, match="meta.json") as info:
            check(meta, source=tmp_path / "scene.sog")
        assert key in str(info.value) and str(tmp_path / "scene.sog") in str(info.value)
    assert meta == before                      # the caller's object is never modified
    # the same through the container: the folder reader names meta.json and the key
    folder = tmp_path / "scene"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="meta.json") as info:
        sog.read_sog(folder)
    assert key in str(info.value)


V1_BAD_KEYS = [
    ("means.shape", _set("means.shape", [289, 4])), ("means.shape", _set("means.shape", _DELETE)),
    ("means.mins", _set("means.mins", [0.0])), ("scales.maxs", _set("scales.maxs", None)),
    ("sh0.mins", _set("sh0.mins", [0.0, 0.0, 0.0])), ("shN.mins", _set("shN.mins", "x")),
    ("shN.files", _set("shN.files", ["a.webp"])), ("quats.files", _set("quats.files", [])),
    ("quats.mins", _set("opacities", {"mins": 0.0, "maxs": 1.0, "files": ["o.webp"]})),
]


@pytest.mark.parametrize("key, mutate", V1_BAD_KEYS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(V1_BAD_KEYS)])
def test_one_validator_names_each_bad_v1_key(key: str, mutate) -> None:
    meta = json.loads(V1_META.read_text())
    mutate(meta)
    for check in (sog.parse_meta, sog.validate_meta_v1, sog.SogMetaV1.from_json):
        with pytest.raises(InputError, match=r"x\.sog: meta.json: legacy SOG v1") as info:
            check(meta, source="x.sog")
        assert key in str(info.value)


EXTENSION_BAD = [
    ("offset", [0.0, 0.0], "must be a list of 3 finite numbers"),
    ("offset", [0.0, float("inf"), 0.0], "must be a list of 3 finite numbers"),
    ("georeference", {"lat": 95.0, "lon": 0.0, "alt": 0.0}, "is invalid"),
    ("georeference", [1, 2, 3], "is invalid"),
    ("padding", 11, "must be an integer in 0..count"),
    ("padding", True, "must be an integer in 0..count"),
    ("source_count", -3, "must be a non-negative integer"),
    ("dropped_invalid", 1.5, "must be a non-negative integer"),
    ("order", 7, "must be a string"),
    ("palette_numbering", ["k-means"], "must be a string"),
]


@pytest.mark.parametrize("key, value, message", EXTENSION_BAD,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(EXTENSION_BAD)])
def test_the_splatkit_extension_keeps_a_bad_key_until_it_is_used(key: str, value: Any, message: str) -> None:
    meta = _v2_json()
    meta["splatkit"][key] = value
    parsed = sog.SogMeta.from_json(meta, source="x.sog")        # the rest of the file stays readable
    extension = parsed.splatkit
    assert extension is not None and set(extension.problems) == {key}
    with pytest.raises(InputError, match=rf"x\.sog: meta.json: 'splatkit.{key}' {message}"):
        extension.used(key, "x.sog")
    others = {"offset", "georeference", "padding", "source_count", "dropped_invalid", "order",
              "palette_numbering"} - {key}
    for other in others:
        extension.used(other, "x.sog")


def test_the_splatkit_extension_defaults_and_nulls() -> None:
    meta = _v2_json()
    meta["splatkit"] = {"offset": None, "georeference": None, "future_key": 1}
    extension = sog.SogMeta.from_json(meta).splatkit
    assert extension == sog.SplatkitExtension()
    assert extension.used("padding", "x") == 0 and extension.used("offset", "x") is None
    meta["splatkit"] = None
    assert sog.SogMeta.from_json(meta).splatkit is None
    with pytest.raises(KeyError):
        sog.SplatkitExtension().used("not_a_key", "x")


def test_null_first_codebook_entry_is_patched_once(caplog: pytest.LogCaptureFixture) -> None:
    meta = _v2_json()
    meta["scales"]["codebook"][0] = None
    with caplog.at_level("WARNING", logger="splatkit.io.sog"):
        parsed, kept = sog.load_meta(meta)
    assert caplog.text.count("has a null entry 0") == 1
    expected = 1.0 + (1.0 - 255.0) / 255.0
    assert parsed.scales_codebook[0] == kept["scales"]["codebook"][0] == expected
    assert meta["scales"]["codebook"][0] is None


@pytest.mark.parametrize("build", [
    lambda: sog.ShNMeta(count=1, bands=4, codebook=(0.0,) * 256),
    lambda: sog.ShNMeta(count=0, bands=1, codebook=(0.0,) * 256),
    lambda: sog.ShNMeta(count=1, bands=1, codebook=(0.0,) * 3),
    lambda: sog.SogMeta(count=1, means_mins=(0.0,), means_maxs=(1.0, 1.0, 1.0), scales_codebook=(0.0,) * 256,
                        sh0_codebook=(0.0,) * 256),
    lambda: sog.SogMeta(count=1, means_mins=(0.0,) * 3, means_maxs=(1.0,) * 3, scales_codebook=(0.0,) * 255,
                        sh0_codebook=(0.0,) * 256),
])
def test_the_writer_side_refuses_what_the_reader_would(build) -> None:
    with pytest.raises(ContractError):
        build()
