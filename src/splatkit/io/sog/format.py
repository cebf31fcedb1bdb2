"""SOG as a whole: decoding either version, ``splatkit info`` facts, and the registered format class.

Writing needs the encoder's lossy fitting (:mod:`splatkit.compress.sog_encoder`, the
``compress/sog`` stage), so :class:`SogFormat` reads, describes and decodes but does not write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from splatkit.contracts import CompressedBundle, GaussianCloud
from splatkit.formats import Format
from splatkit.io.sog.container import SOG_SUFFIX, is_sog, load_sog
from splatkit.io.sog.meta import SOG_FORMAT, SogMeta, SogMetaV1, parse_meta
from splatkit.io.sog.v1 import decode_v1
from splatkit.io.sog.v2 import decode_v2

__all__ = ["SogFormat", "decode_sog", "info"]


def decode_sog(bundle: CompressedBundle, *, apply_offset: bool = True, drop_padding: bool = True,
               source: str | Path = "<SOG bundle>") -> GaussianCloud:
    """Decode a SOG bundle (v2, or legacy v1) back to a Gaussian cloud.

    Parameters
    ----------
    bundle
        Members and ``meta`` as read by :func:`~splatkit.io.sog.read_sog` or made by the encoder.
    apply_offset
        Add back the recentring offset stored under ``meta["splatkit"]["offset"]`` (other tools
        ignore it and see the recentred cloud). ``False`` gives what splat-transform decodes.
    drop_padding
        Drop the transparent padding splats of a PLAS-ordered splatkit file: ``meta["splatkit"]
        ["padding"]`` counts them and their ``scales`` texel has alpha 0 (every other writer,
        and every real splat, has 255 there). ``False`` keeps them, as other readers do.
    source
        Used in error messages.

    Returns
    -------
    GaussianCloud
        ``count`` Gaussians (less the padding) in file order, with the georeference from
        ``meta["splatkit"]``. Legacy v1 files decode without either option.

    Raises
    ------
    InputError
        Bad ``meta.json``, a missing or undecodable member, or a texture of the wrong size
        (the message names the member).
    """
    meta = parse_meta(bundle.meta, source=source)
    if isinstance(meta, SogMetaV1):
        return decode_v1(meta, bundle.members, source=source)
    return decode_v2(meta, bundle.members, apply_offset=apply_offset, drop_padding=drop_padding, source=source)


def info(path: str | Path) -> dict[str, Any]:
    """Facts about a ``.sog`` file or SOG folder for ``splatkit info`` (no image decoding).

    Returns
    -------
    dict
        ``format``, ``version``, ``dialect`` (legacy v1: ``"sogs"`` or ``"sogs-1.0"``; None for
        v2), ``bundled``, ``count``, ``sh_degree``, ``palette_size``, ``bytes`` (total),
        ``bytes_per_splat`` (per real splat: PLAS padding excluded), ``members`` (name -> bytes),
        ``generator``, plus ``offset``, ``georeference`` and ``padding`` (transparent splats
        included in ``count``) when the file was written by splatkit. A v1 file's SH degree and
        palette size need the centroid image and read as None.

    Raises
    ------
    InputError
        As :func:`~splatkit.io.sog.load_sog`, or a malformed ``splatkit.padding``.
    """
    path = Path(path)
    loaded = load_sog(path)
    meta = loaded.meta
    extension = meta.splatkit
    padding = 0 if extension is None else extension.used("padding", path)
    splat_count = meta.count - padding     # PLAS padding splats are in ``count`` but carry no data
    if isinstance(meta, SogMeta):
        dialect, sh_degree, palette_size = None, meta.sh_degree, meta.palette_size
    else:
        dialect = meta.dialect
        sh_degree = palette_size = None if meta.shn is not None else 0
    offset = None if extension is None else extension.offset
    georeference = None if extension is None else extension.georeference
    return {
        "format": SOG_FORMAT,
        "version": meta.version,
        "dialect": dialect,
        "bundled": loaded.bundled,
        "count": meta.count,
        "sh_degree": sh_degree,
        "palette_size": palette_size,
        "bytes": loaded.size,
        "bytes_per_splat": (loaded.size / splat_count) if splat_count else None,
        "members": {name: len(data) for name, data in loaded.members.items()},
        "generator": meta.generator,
        "offset": None if offset is None else list(offset),
        "georeference": None if georeference is None else georeference.to_dict(),
        "padding": padding,
    }


class SogFormat(Format):
    """SOG: PlayCanvas's web format (v2, and legacy v1 SOGS), a ``.sog`` ZIP or a folder with ``meta.json``."""

    name = SOG_FORMAT
    holds = "splats"
    suffixes = (SOG_SUFFIX,)
    description = "PlayCanvas SOG (v2; legacy v1 SOGS read): a .sog ZIP or a folder with meta.json and WebP images"

    def detect(self, path: Path) -> bool:
        try:
            return is_sog(path)
        except (OSError, ValueError):
            return False

    def describe(self, path: Path) -> dict[str, Any]:
        """``{"type": "sog", **info(path)}``."""
        return {"type": SOG_FORMAT, **info(path)}

    def decode(self, path: Path) -> GaussianCloud:
        loaded = load_sog(path)
        meta = loaded.meta
        if isinstance(meta, SogMetaV1):
            return decode_v1(meta, loaded.members, source=path)
        return decode_v2(meta, loaded.members, source=path)
