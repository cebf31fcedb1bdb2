"""The ``meta.json`` schema of SOG files: every key, file name and check, in one place.

A parsed ``meta.json`` becomes one frozen dataclass, checked once: :class:`SogMeta` for v2
(``"version": 2``) or :class:`SogMetaV1` for the two legacy SOGS layouts (no ``"version"``: the
dispatch rule of splat-transform's ``read-sog.ts`` and of the PlayCanvas engine). Readers ask
:func:`parse_meta`; the encoder (:mod:`splatkit.compress.sog_encoder`) builds a :class:`SogMeta`
and writes :meth:`SogMeta.to_json`, so no other module spells a key or a member name.

Every malformed key is an :class:`~splatkit.errors.InputError` that names ``meta.json``, the
dotted key and the file. The ``"splatkit"`` object (:class:`SplatkitExtension`, ignored by other
readers) is parsed with the rest; a value that is present but malformed is kept as a problem and
refused only by the operation that uses it (adding the offset back, dropping PLAS padding,
``splatkit info``), so a file edited by another tool still reads with that step turned off.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from splatkit.contracts import Georeference
from splatkit.errors import ContractError, InputError

__all__ = [
    "SOG_FORMAT",
    "SOG_VERSION",
    "SOG_V1_VERSION",
    "META_NAME",
    "CODEBOOK_ENTRIES",
    "MAX_PALETTE_ENTRIES",
    "V1_DIALECTS",
    "SogFiles",
    "SplatkitExtension",
    "ShNMeta",
    "SogMeta",
    "V1Group",
    "SogMetaV1",
    "is_v1_meta",
    "v1_dialect",
    "parse_meta",
    "load_meta",
    "validate_meta",
    "validate_meta_v1",
    "member_names",
    "member_names_v1",
]

logger = logging.getLogger(__name__)

SOG_FORMAT = "sog"
SOG_VERSION = 2
#: The version splatkit records for legacy files (their ``meta.json`` has none).
SOG_V1_VERSION = 1
META_NAME = "meta.json"
#: Entries of the ``scales``, ``sh0`` and ``shN`` codebooks.
CODEBOOK_ENTRIES = 256
#: Most SH palette entries (``shN.count``): labels are 16-bit.
MAX_PALETTE_ENTRIES = 65536
#: The two legacy layouts: ``"sogs"`` (the final one) and ``"sogs-1.0"`` (the first SOGS release,
#: recognised by its ``opacities`` entry); see :mod:`splatkit.io.sog.v1`.
V1_DIALECTS = ("sogs", "sogs-1.0")


@dataclass(frozen=True, kw_only=True)
class SogFiles:
    """The image members of a v2 SOG by role; the defaults are the names every writer uses."""

    means_l: str = "means_l.webp"
    means_u: str = "means_u.webp"
    quats: str = "quats.webp"
    scales: str = "scales.webp"
    sh0: str = "sh0.webp"
    shn_centroids: str = "shN_centroids.webp"
    shn_labels: str = "shN_labels.webp"


# --------------------------------------------------------------------------------------------
# Checking JSON values


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Keys:
    """Typed reads of dotted keys of one parsed ``meta.json``; failures name the key and the file."""

    def __init__(self, meta: Mapping[str, Any], source: str | Path, *, prefix: str, missing_hint: str) -> None:
        self.meta = meta
        self.source = source
        self.prefix = prefix
        self.missing_hint = missing_hint

    def error(self, message: str) -> InputError:
        return InputError(f"{META_NAME}: {self.prefix}{message}", path=self.source)

    def need(self, dotted: str) -> Any:
        node: Any = self.meta
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise self.error(f"missing key {dotted!r}{self.missing_hint}")
            node = node[part]
        return node

    def numbers(self, dotted: str, length: int) -> tuple[float, ...]:
        value = self.need(dotted)
        if not isinstance(value, list) or len(value) != length or not all(_is_finite_number(v) for v in value):
            raise self.error(f"{dotted!r} must be a list of {length} finite numbers")
        return tuple(float(v) for v in value)

    def scalar(self, dotted: str) -> float:
        value = self.need(dotted)
        # SOGS writes a scalar; a one-element list is accepted too (numpy .tolist() of a 1-d array).
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not _is_finite_number(value):
            raise self.error(f"{dotted!r} must be a finite number")
        return float(value)

    def files(self, dotted: str, length: int) -> tuple[str, ...]:
        value = self.need(dotted)
        if not isinstance(value, list) or len(value) != length or not all(isinstance(v, str) and v for v in value):
            raise self.error(f"{dotted!r} must list {length} file name(s)")
        return tuple(value)

    def codebook(self, key: str) -> tuple[float, ...]:
        """``meta[key]["codebook"]``: 256 finite numbers, a ``null`` first entry patched.

        Older splat-transform versions wrote ``null`` for a ``-Infinity`` entry 0 (JSON has no
        infinities); the PlayCanvas engine patches it as ``codebook[1] + (codebook[1] -
        codebook[255]) / 255`` (``src/scene/gsplat/gsplat-sog-data.js``, ``_patchCodebooks``), and
        so does this reader, with a warning.
        """
        dotted = f"{key}.codebook"
        value = self.need(dotted)
        if not isinstance(value, list) or len(value) != CODEBOOK_ENTRIES:
            raise self.error(f"{dotted!r} must be a list of {CODEBOOK_ENTRIES} finite numbers")
        bad = next((i for i, v in enumerate(value) if not (_is_finite_number(v) or (i == 0 and v is None))), None)
        if bad is not None:
            raise self.error(f"{dotted!r} must be a list of {CODEBOOK_ENTRIES} finite numbers, but entry {bad} is "
                             f"{value[bad]!r} (only entry 0 may be null, as older splat-transform wrote it); "
                             "re-export the file")
        if value[0] is not None:
            return tuple(float(v) for v in value)
        rest = [float(v) for v in value[1:]]
        first = rest[0] + (rest[0] - rest[-1]) / 255.0
        logger.warning("%s: %r has a null entry 0 (written by an older splat-transform); patched to %g as the "
                       "PlayCanvas engine does", self.source, dotted, first)
        return (first, *rest)


def _generator(meta: Mapping[str, Any]) -> str | None:
    asset = meta.get("asset")
    generator = asset.get("generator") if isinstance(asset, Mapping) else None
    return generator if isinstance(generator, str) else None


# --------------------------------------------------------------------------------------------
# The "splatkit" extension object


@dataclass(frozen=True, kw_only=True)
class SplatkitExtension:
    """``meta["splatkit"]``: what splatkit's encoder records beside the SOG data.

    Attributes
    ----------
    offset : (x, y, z) or None
        Subtracted from the positions before encoding (the recentring); decoding adds it back.
    georeference : Georeference or None
        The cloud's ENU origin.
    source_count : int or None
        Splats in the cloud given to the encoder.
    dropped_invalid : int or None
        Splats the encoder dropped for NaN/Inf values or a zero quaternion.
    order : str or None
        ``"morton"`` or ``"plas"``.
    padding : int
        Transparent PLAS padding splats included in ``count`` (their ``scales`` alpha is 0).
    palette_numbering : str or None
        ``"file-position"`` or ``"k-means"`` (None without SH).
    problems : Mapping[str, str]
        Field name -> why the file's value was refused; :meth:`used` raises it.
    """

    offset: tuple[float, float, float] | None = None
    georeference: Georeference | None = None
    source_count: int | None = None
    dropped_invalid: int | None = None
    order: str | None = None
    padding: int = 0
    palette_numbering: str | None = None
    problems: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", MappingProxyType(dict(self.problems)))

    def used(self, name: str, source: str | Path) -> Any:
        """The value of field ``name``, for a step that needs it.

        Raises
        ------
        InputError
            Naming ``meta.json``, the key and ``source`` when the file's value was malformed.
        """
        if name not in _EXTENSION_KEYS:
            raise KeyError(name)
        if name in self.problems:
            raise InputError(f"{META_NAME}: 'splatkit.{name}' {self.problems[name]}", path=source)
        return getattr(self, name)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written under ``"splatkit"`` (every key, in this order)."""
        return {
            "offset": None if self.offset is None else [float(v) for v in self.offset],
            "georeference": None if self.georeference is None else self.georeference.to_dict(),
            "source_count": self.source_count,
            "dropped_invalid": self.dropped_invalid,
            "order": self.order,
            "padding": self.padding,
            "palette_numbering": self.palette_numbering,
        }

    @classmethod
    def from_json(cls, value: Any, *, count: int, source: str | Path) -> SplatkitExtension | None:
        """Parse ``meta["splatkit"]`` (None when absent or null) of a file holding ``count`` splats.

        Raises
        ------
        InputError
            When it is not a JSON object; a malformed key is kept in :attr:`problems` instead.
        """
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InputError(f"{META_NAME}: 'splatkit' must be an object", path=source)
        problems: dict[str, str] = {}
        parsed: dict[str, Any] = {}

        def take(key: str, ok: Callable[[Any], bool], convert: Callable[[Any], Any], problem: str) -> None:
            # problem: a str.format template of what is wrong with {raw}
            if key not in value or value[key] is None:
                return
            raw = value[key]
            if ok(raw):
                parsed[key] = convert(raw)
            else:
                problems[key] = problem.format(raw=raw)

        take("offset", lambda v: isinstance(v, list) and len(v) == 3 and all(_is_finite_number(x) for x in v),
             lambda v: tuple(float(x) for x in v),
             "must be a list of 3 finite numbers, got {raw!r}; fix or remove it (decode with apply_offset=False to "
             "ignore it)")
        take("source_count", _is_count, int, "must be a non-negative integer, got {raw!r}")
        take("dropped_invalid", _is_count, int, "must be a non-negative integer, got {raw!r}")
        take("order", lambda v: isinstance(v, str), str, "must be a string, got {raw!r}")
        take("palette_numbering", lambda v: isinstance(v, str), str, "must be a string, got {raw!r}")
        if value.get("padding") is not None:
            padding = value["padding"]
            if _is_count(padding) and padding <= count:
                parsed["padding"] = padding
            else:
                problems["padding"] = f"must be an integer in 0..count, got {padding!r}"
        if value.get("georeference") is not None:
            try:
                parsed["georeference"] = Georeference.from_dict(value["georeference"])
            except ContractError as e:
                problems["georeference"] = f"is invalid: {e}"
        return cls(**parsed, problems=problems)


_EXTENSION_KEYS = frozenset(f.name for f in fields(SplatkitExtension)) - {"problems"}


# --------------------------------------------------------------------------------------------
# v2


@dataclass(frozen=True, kw_only=True)
class ShNMeta:
    """``meta["shN"]``: the higher-order SH palette.

    Attributes
    ----------
    count : int
        Palette entries, 1..65536.
    bands : int
        SH bands above the DC term, 1..3.
    codebook : tuple of 256 floats
        Values the palette's texels index.
    """

    count: int
    bands: int
    codebook: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.bands not in (1, 2, 3) or not 1 <= self.count <= MAX_PALETTE_ENTRIES:
            raise ContractError(f"SOG shN: bands must be 1..3 and count 1..{MAX_PALETTE_ENTRIES}, got "
                                f"{self.bands} and {self.count}", field="ShNMeta")
        _check_codebook(self.codebook, "ShNMeta.codebook")


def _check_codebook(codebook: tuple[float, ...], name: str) -> None:
    if len(codebook) != CODEBOOK_ENTRIES:
        raise ContractError(f"SOG {name} must hold {CODEBOOK_ENTRIES} entries, got {len(codebook)}", field=name,
                            expected=CODEBOOK_ENTRIES, actual=len(codebook))


@dataclass(frozen=True, kw_only=True)
class SogMeta:
    """A SOG v2 ``meta.json``.

    Attributes
    ----------
    count : int
        Splats (texels used) in every per-splat image, PLAS padding included.
    means_mins, means_maxs : (3,) floats
        Per-axis symlog range of the 16-bit positions.
    scales_codebook, sh0_codebook : tuple of 256 floats
        Log-scale and ``f_dc`` codebooks.
    shn : ShNMeta or None
        The SH palette (None: SH degree 0).
    files : SogFiles
        The image members.
    generator : str or None
        ``asset.generator``.
    splatkit : SplatkitExtension or None
        The ``"splatkit"`` object.
    """

    version: ClassVar[int] = SOG_VERSION

    count: int
    means_mins: tuple[float, ...]
    means_maxs: tuple[float, ...]
    scales_codebook: tuple[float, ...]
    sh0_codebook: tuple[float, ...]
    shn: ShNMeta | None = None
    files: SogFiles = SogFiles()
    generator: str | None = None
    splatkit: SplatkitExtension | None = None

    def __post_init__(self) -> None:
        if not _is_count(self.count) or len(self.means_mins) != 3 or len(self.means_maxs) != 3:
            raise ContractError(f"SOG meta: count must be >= 0 and means ranges 3 values, got {self.count}, "
                                f"{self.means_mins}, {self.means_maxs}", field="SogMeta")
        _check_codebook(self.scales_codebook, "SogMeta.scales_codebook")
        _check_codebook(self.sh0_codebook, "SogMeta.sh0_codebook")

    @property
    def sh_degree(self) -> int:
        return 0 if self.shn is None else self.shn.bands

    @property
    def palette_size(self) -> int:
        return 0 if self.shn is None else self.shn.count

    def member_names(self) -> list[str]:
        """Every image file named, in ``meta.json`` order."""
        f = self.files
        names = [f.means_l, f.means_u, f.quats, f.scales, f.sh0]
        return names + [f.shn_centroids, f.shn_labels] if self.shn is not None else names

    def to_json(self) -> dict[str, Any]:
        """The ``meta.json`` object (the key order splat-transform writes, ``splatkit`` last)."""
        f = self.files
        meta: dict[str, Any] = {"version": SOG_VERSION}
        if self.generator is not None:
            meta["asset"] = {"generator": self.generator}
        meta.update({
            "count": self.count,
            "means": {"mins": list(self.means_mins), "maxs": list(self.means_maxs), "files": [f.means_l, f.means_u]},
            "scales": {"codebook": list(self.scales_codebook), "files": [f.scales]},
            "quats": {"files": [f.quats]},
            "sh0": {"codebook": list(self.sh0_codebook), "files": [f.sh0]},
        })
        if self.shn is not None:
            meta["shN"] = {"count": self.shn.count, "bands": self.shn.bands, "codebook": list(self.shn.codebook),
                           "files": [f.shn_centroids, f.shn_labels]}
        if self.splatkit is not None:
            meta["splatkit"] = self.splatkit.to_json()
        return meta

    @classmethod
    def from_json(cls, meta: Any, *, source: str | Path = META_NAME) -> SogMeta:
        """Check a parsed v2 ``meta.json``; a ``null`` codebook entry 0 is patched (with a warning).

        Raises
        ------
        InputError
            Naming the missing or malformed key; a legacy v1 file (no ``version``) or an unknown
            version is refused with what to do.
        """
        if not isinstance(meta, Mapping):
            raise InputError(f"{META_NAME}: must be a JSON object", path=source)
        keys = _Keys(meta, source, prefix="", missing_hint=" (not a SOG v2 meta.json?)")
        version = meta.get("version")
        if version is None:
            raise keys.error("has no 'version': this is a legacy SOG v1 (SOGS) file; read it with read_sog() or "
                             "validate it with splatkit.io.sog.validate_meta_v1()")
        if version != SOG_VERSION:
            raise keys.error(f"unsupported SOG version {version!r}; expected {SOG_VERSION}")
        count = keys.need("count")
        if not _is_count(count):
            raise keys.error(f"'count' must be a non-negative integer, got {count!r}")
        means_mins = keys.numbers("means.mins", 3)
        means_maxs = keys.numbers("means.maxs", 3)
        means_l, means_u = keys.files("means.files", 2)
        scales_codebook = keys.codebook("scales")
        (scales,) = keys.files("scales.files", 1)
        (quats,) = keys.files("quats.files", 1)
        sh0_codebook = keys.codebook("sh0")
        (sh0,) = keys.files("sh0.files", 1)
        shn = None
        files = SogFiles(means_l=means_l, means_u=means_u, quats=quats, scales=scales, sh0=sh0)
        if "shN" in meta:
            bands = keys.need("shN.bands")
            if bands not in (1, 2, 3) or isinstance(bands, bool):
                raise keys.error(f"'shN.bands' must be 1, 2 or 3, got {bands!r}")
            palette = keys.need("shN.count")
            if not _is_count(palette) or not 1 <= palette <= MAX_PALETTE_ENTRIES:
                raise keys.error(f"'shN.count' must be an integer in 1..{MAX_PALETTE_ENTRIES}, got {palette!r}")
            shn = ShNMeta(count=palette, bands=int(bands), codebook=keys.codebook("shN"))
            centroids, labels = keys.files("shN.files", 2)
            files = SogFiles(means_l=means_l, means_u=means_u, quats=quats, scales=scales, sh0=sh0,
                             shn_centroids=centroids, shn_labels=labels)
        return cls(count=count, means_mins=means_mins, means_maxs=means_maxs, scales_codebook=scales_codebook,
                   sh0_codebook=sh0_codebook, shn=shn, files=files, generator=_generator(meta),
                   splatkit=SplatkitExtension.from_json(meta.get("splatkit"), count=count, source=source))


# --------------------------------------------------------------------------------------------
# v1 (legacy SOGS)


@dataclass(frozen=True, kw_only=True)
class V1Group:
    """One image group of a v1 ``meta.json``: its ranges (empty when it has none) and files."""

    mins: tuple[float, ...]
    maxs: tuple[float, ...]
    files: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SogMetaV1:
    """A legacy SOG v1 ``meta.json`` (see :mod:`splatkit.io.sog.v1` for the layouts).

    Attributes
    ----------
    count : int
        ``means.shape[0]``.
    dialect : {"sogs", "sogs-1.0"}
        Which layout.
    means, scales, quats, sh0 : V1Group
        ``quats`` has ranges only in ``"sogs-1.0"``; ``sh0`` has 4 (RGB + logit opacity) in
        ``"sogs"``, 3 in ``"sogs-1.0"``.
    opacities : V1Group or None
        ``"sogs-1.0"`` only: scalar range (one value each) and one grey image.
    shn : V1Group or None
        Scalar range and the centroid and label image(s) (2 in ``"sogs"``, 3 in ``"sogs-1.0"``).
    generator : str or None
        ``asset.generator``, when a writer set one.
    splatkit : SplatkitExtension or None
        The ``"splatkit"`` object, when a writer set one.
    """

    version: ClassVar[int] = SOG_V1_VERSION

    count: int
    dialect: str
    means: V1Group
    scales: V1Group
    quats: V1Group
    sh0: V1Group
    opacities: V1Group | None = None
    shn: V1Group | None = None
    generator: str | None = None
    splatkit: SplatkitExtension | None = None

    def member_names(self) -> list[str]:
        """Every image file named."""
        names = [*self.means.files, *self.quats.files, *self.scales.files, *self.sh0.files]
        if self.opacities is not None:
            names += self.opacities.files
        if self.shn is not None:
            names += self.shn.files
        return names

    @classmethod
    def from_json(cls, meta: Any, *, source: str | Path = META_NAME) -> SogMetaV1:
        """Check a parsed v1 ``meta.json``.

        Raises
        ------
        InputError
            Naming the missing or malformed key.
        """
        if not isinstance(meta, Mapping):
            raise InputError(f"{META_NAME}: must be a JSON object", path=source)
        keys = _Keys(meta, source, prefix="legacy SOG v1 (no 'version'): ", missing_hint="")
        shape = keys.need("means.shape")
        if (not isinstance(shape, list) or len(shape) != 2 or not all(_is_count(v) for v in shape)
                or shape[1] != 3):
            raise keys.error(f"'means.shape' must be [count, 3], got {shape!r}")
        dialect = v1_dialect(meta)
        early = dialect == "sogs-1.0"

        def group(key: str, ranges: int, files: int) -> V1Group:
            if ranges == 1:
                mins, maxs = (keys.scalar(f"{key}.mins"),), (keys.scalar(f"{key}.maxs"),)
            elif ranges:
                mins, maxs = keys.numbers(f"{key}.mins", ranges), keys.numbers(f"{key}.maxs", ranges)
            else:
                mins = maxs = ()
            return V1Group(mins=mins, maxs=maxs, files=keys.files(f"{key}.files", files))

        means = group("means", 3, 2)
        scales = group("scales", 3, 1)
        quats = group("quats", 3 if early else 0, 1)
        opacities = group("opacities", 1, 1) if early else None
        sh0 = group("sh0", 3 if early else 4, 1)
        shn = group("shN", 1, 3 if early else 2) if "shN" in meta else None
        count = shape[0]
        return cls(count=count, dialect=dialect, means=means, scales=scales, quats=quats, sh0=sh0,
                   opacities=opacities, shn=shn, generator=_generator(meta),
                   splatkit=SplatkitExtension.from_json(meta.get("splatkit"), count=count, source=source))


def is_v1_meta(meta: Any) -> bool:
    """True for a JSON object without a ``version`` key (the v1 dispatch rule)."""
    return isinstance(meta, Mapping) and "version" not in meta


def v1_dialect(meta: Mapping[str, Any]) -> str:
    """``"sogs-1.0"`` for the first SOGS release's layout (an ``opacities`` entry), else ``"sogs"``."""
    return "sogs-1.0" if "opacities" in meta else "sogs"


# --------------------------------------------------------------------------------------------
# Entry points


def parse_meta(meta: Any, *, source: str | Path = META_NAME) -> SogMeta | SogMetaV1:
    """The schema of a parsed ``meta.json`` of either version (v1 when it has no ``version``).

    Raises
    ------
    InputError
        Naming the missing or malformed key.
    """
    return SogMetaV1.from_json(meta, source=source) if is_v1_meta(meta) else SogMeta.from_json(meta, source=source)


def load_meta(meta: Any, *, source: str | Path = META_NAME) -> tuple[SogMeta | SogMetaV1, dict[str, Any]]:
    """:func:`parse_meta`, and the JSON object to keep: a copy with null codebook entries patched.

    ``meta`` itself is never modified; unknown keys are kept.
    """
    parsed = parse_meta(meta, source=source)
    return parsed, _patched_json(meta, parsed)


def _patched_json(meta: Mapping[str, Any], parsed: SogMeta | SogMetaV1) -> dict[str, Any]:
    result = dict(meta)
    if isinstance(parsed, SogMeta):
        codebooks = {"scales": parsed.scales_codebook, "sh0": parsed.sh0_codebook,
                     "shN": parsed.shn.codebook if parsed.shn is not None else None}
        for key, codebook in codebooks.items():
            if codebook is not None and meta[key]["codebook"][0] is None:
                result[key] = {**meta[key], "codebook": list(codebook)}   # a copy: the caller's meta stays
    return result


def validate_meta(meta: Any, *, source: str | Path = META_NAME) -> dict[str, Any]:
    """Check a parsed ``meta.json`` is SOG v2 and return it as a dict.

    A ``null`` first entry of the ``scales``, ``sh0`` or ``shN`` codebook (older splat-transform
    versions wrote one for ``-Infinity``) is patched as the PlayCanvas engine does, with a
    warning, in the returned copy; ``meta`` itself is never modified.

    Raises
    ------
    InputError
        Naming the missing/bad key; a legacy v1 file (no ``version``) or an unknown version is
        refused with what to do.
    """
    return _patched_json(meta, SogMeta.from_json(meta, source=source))


def validate_meta_v1(meta: Any, *, source: str | Path = META_NAME) -> dict[str, Any]:
    """Check a parsed v1 ``meta.json`` and return it as a dict.

    Raises
    ------
    InputError
        Naming the missing or malformed key.
    """
    SogMetaV1.from_json(meta, source=source)
    return dict(meta)


def member_names(meta: Mapping[str, Any]) -> list[str]:
    """Every image file a v2 ``meta`` refers to, in meta order."""
    return SogMeta.from_json(meta).member_names()


def member_names_v1(meta: Mapping[str, Any]) -> list[str]:
    """Every image file a v1 ``meta`` refers to."""
    return SogMetaV1.from_json(meta).member_names()
