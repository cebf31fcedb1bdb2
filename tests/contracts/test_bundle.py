"""CompressedBundle: flat member names, bytes only, JSON-able meta, read-only mappings."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from splatkit import CompressedBundle, ContractError

member_names = st.text(st.characters(blacklist_characters="/\\", blacklist_categories=("Cs",)), min_size=1,
                       max_size=20).filter(lambda s: s not in (".", ".."))


def bundle(**changes: object) -> CompressedBundle:
    args = {"format": "sog", "version": 2, "meta": {"count": 3}, "members": {"meta.json": b"{}"}, "source_count": 3}
    return CompressedBundle(**{**args, **changes})


@given(members=st.dictionaries(member_names, st.binary(max_size=64), max_size=5))
def test_flat_names_and_bytes_are_kept_and_counted(members: dict[str, bytes]) -> None:
    b = bundle(members={k: bytearray(v) for k, v in members.items()})
    assert dict(b.members) == members
    assert all(type(v) is bytes for v in b.members.values())
    assert b.nbytes == sum(len(v) for v in members.values())


@pytest.mark.parametrize("name", ["", ".", "..", "a/b.webp", "/etc/passwd", "..\\x", "dir\\file"])
def test_member_names_must_be_flat_file_names(name: str) -> None:
    with pytest.raises(ContractError, match="must be a flat file name") as excinfo:
        bundle(members={name: b"x"})
    assert type(excinfo.value) is ContractError and excinfo.value.field == "CompressedBundle.members"
    assert repr(name) in str(excinfo.value)


@pytest.mark.parametrize("data", ["text", 3, None, memoryview(b"x")])
def test_members_must_be_bytes(data: object) -> None:
    with pytest.raises(ContractError, match="member 'means.webp' must be bytes"):
        bundle(members={"means.webp": data})


def test_meta_must_be_json_able() -> None:
    with pytest.raises(ContractError, match="CompressedBundle.meta must be JSON-able"):
        bundle(meta={"when": object()})


@pytest.mark.parametrize(("changes", "field"), [({"format": ""}, "CompressedBundle.format"),
                                                ({"source_count": -1}, "CompressedBundle.source_count")])
def test_format_and_source_count_are_checked(changes: dict, field: str) -> None:
    with pytest.raises(ContractError) as excinfo:
        bundle(**changes)
    assert excinfo.value.field == field


def test_mappings_are_read_only_copies() -> None:
    members = {"a.webp": b"1"}
    meta = {"count": 1}
    b = bundle(members=members, meta=meta)
    members["b.webp"] = b"2"
    meta["count"] = 99
    assert set(b.members) == {"a.webp"} and b.meta["count"] == 1
    with pytest.raises(TypeError):
        b.members["c.webp"] = b"3"  # type: ignore[index]
    with pytest.raises(TypeError):
        b.meta["count"] = 2  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.format = "ply"  # type: ignore[misc]


def test_validate_rejects_empty_members_by_name() -> None:
    assert bundle().validate().format == "sog"
    with pytest.raises(ContractError, match=r"members are empty: \['shN_centroids.webp'\]"):
        bundle(members={"meta.json": b"{}", "shN_centroids.webp": b""}).validate()


def test_replace_keeps_a_valid_bundle() -> None:
    import dataclasses

    from splatkit.contracts import CompressedBundle

    bundle = CompressedBundle(format="x", version=1, meta={"a": {"b": [1, 2]}}, members={"m": b"1"}, source_count=1)
    again = dataclasses.replace(bundle, source_count=2)
    assert again.meta == bundle.meta and again.source_count == 2
