"""The compressed bundle: what compression produces and web viewers load."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from splatkit.errors import ContractError

__all__ = ["CompressedBundle"]


@dataclass(frozen=True, kw_only=True, eq=False)
class CompressedBundle:
    """A compressed Gaussian cloud as named binary members plus JSON metadata.

    Attributes
    ----------
    format : str
        Codec name, e.g. ``"sog"`` or ``"ply"``.
    version : int
        Format version written in the metadata (SOG: 2; 1 for a legacy v1 file read back).
    meta : Mapping[str, Any]
        JSON-able metadata (for SOG, the content of ``meta.json``).
    members : Mapping[str, bytes]
        File name -> bytes (e.g. ``"means_l.webp"``). Names are flat, no folders.
    source_count : int
        Number of Gaussians in the cloud that was compressed (before padding or dropping).
    """

    format: str
    version: int
    meta: Mapping[str, Any]
    members: Mapping[str, bytes]
    source_count: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.format:
            raise ContractError("CompressedBundle.format must be a codec name", field="CompressedBundle.format")
        try:
            json.dumps(dict(self.meta))  # dict(): after dataclasses.replace it is our read-only proxy
        except (TypeError, ValueError) as e:
            raise ContractError(f"CompressedBundle.meta must be JSON-able: {e}", field="CompressedBundle.meta") from e
        members = dict(self.members)
        for name, data in members.items():
            if not name or "/" in name or "\\" in name or name in (".", ".."):
                raise ContractError(f"CompressedBundle member name {name!r} must be a flat file name",
                                    field="CompressedBundle.members")
            if not isinstance(data, (bytes, bytearray)):
                raise ContractError(f"CompressedBundle member {name!r} must be bytes",
                                    field="CompressedBundle.members")
        object.__setattr__(self, "members", MappingProxyType({k: bytes(v) for k, v in members.items()}))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        if self.source_count < 0:
            raise ContractError("CompressedBundle.source_count must be >= 0", field="CompressedBundle.source_count")

    @property
    def nbytes(self) -> int:
        """Total size of the members in bytes."""
        return sum(len(v) for v in self.members.values())

    def validate(self) -> "CompressedBundle":
        """Check members are non-empty. Codec-specific checks live in the codec's reader."""
        empty = [k for k, v in self.members.items() if not v]
        if empty:
            raise ContractError(f"CompressedBundle members are empty: {empty}", field="CompressedBundle.members")
        return self
