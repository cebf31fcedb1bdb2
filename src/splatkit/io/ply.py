"""3D Gaussian Splatting PLY files: the Inria / gsplat / SuperSplat layout.

One ``vertex`` element, one row per Gaussian, float32 properties in this order (what the Inria
reference code, gsplat's ``export_splats`` and SuperSplat write)::

    x y z nx ny nz f_dc_0 f_dc_1 f_dc_2 f_rest_0 .. f_rest_{3K-1} opacity
    scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3

* ``f_rest`` is **channel-major**: ``f_rest_{c*K + k}`` is coefficient ``k`` of colour channel
  ``c``, while :class:`~splatkit.contracts.GaussianCloud` keeps ``shN`` as ``[N, K, 3]``
  (coefficient-major). The SH degree follows from the ``f_rest`` count: 0, 9, 24, 45 -> 0..3.
* ``nx ny nz`` are unused by every splat tool; we write zeros and accept files without them.
* Values are pre-activation: ``opacity`` is a logit, ``scale_*`` natural logs, ``rot_*`` a
  ``(w, x, y, z)`` quaternion that need not be normalised.

Readers look properties up **by name** (splat-transform writes them in another order and without
normals), accept binary little/big-endian and ASCII, ``float`` or ``double``, and ignore extra
properties and elements. A georeference rides along as a header line
``comment splatkit_georeference <lat> <lon> <alt>``, which other readers skip as a comment.

The PlayCanvas/SuperSplat *compressed* PLY (a ``chunk`` element and ``packed_*`` vertex
properties) is detected and refused with the conversion command.

A PLY with zero Gaussians (``element vertex 0``) is valid: it reads back as an empty cloud, because
the contract allows N = 0 and refusing would only move the failure to a less useful place.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from splatkit.contracts.gaussians import SH_COEFFS_FOR_DEGREE, GaussianCloud
from splatkit.contracts.georeference import Georeference
from splatkit.errors import ContractError, InputError
from splatkit.formats import Format
from splatkit.io.atomic import atomic_path

__all__ = [
    "PlyFormat",
    "GEOREFERENCE_COMMENT",
    "canonical_property_names",
    "decode_ply",
    "encode_ply",
    "info",
    "is_ply_file",
    "read_ply",
    "write_ply",
]

logger = logging.getLogger(__name__)

#: Header comment keyword carrying the ENU origin: ``comment splatkit_georeference lat lon alt``.
GEOREFERENCE_COMMENT = "splatkit_georeference"

# PLY scalar type names (both spellings of the spec) -> numpy kind + size.
_PLY_TYPES: dict[str, str] = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
_FORMATS = {"ascii": None, "binary_little_endian": "<", "binary_big_endian": ">"}
_MAX_HEADER_LINE = 4096
_MAX_HEADER_LINES = 100_000
_F_REST = re.compile(r"f_rest_(\d+)\Z")
_CONVERT_COMPRESSED = ("convert it to a plain 3DGS PLY first, e.g. "
                       "`npx @playcanvas/splat-transform in.compressed.ply out.ply`")


def canonical_property_names(sh_degree: int) -> tuple[str, ...]:
    """Vertex property names, in file order, of the 3DGS PLY layout for ``sh_degree`` 0..3."""
    if sh_degree not in SH_COEFFS_FOR_DEGREE:
        raise ContractError(f"sh_degree must be 0..3, got {sh_degree!r}", field="sh_degree",
                            expected=(0, 1, 2, 3), actual=sh_degree)
    n_rest = 3 * SH_COEFFS_FOR_DEGREE[sh_degree]
    return (
        "x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2",
        *(f"f_rest_{i}" for i in range(n_rest)),
        "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
    )


# --------------------------------------------------------------------------------------------
# Writing


def _header(n: int, names: tuple[str, ...], georeference: Georeference | None) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0"]
    if georeference is not None:
        # repr() of a Python float round-trips exactly.
        lines.append(f"comment {GEOREFERENCE_COMMENT} {float(georeference.lat)!r} "
                     f"{float(georeference.lon)!r} {float(georeference.alt)!r}")
    lines.append(f"element vertex {n}")
    lines += [f"property float {name}" for name in names]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _vertex_table(cloud: GaussianCloud) -> np.ndarray:
    """The cloud as a little-endian float32 table ``[N, P]`` in canonical column order."""
    n, k = len(cloud), cloud.shN.shape[1]
    table = np.zeros((n, 17 + 3 * k), dtype="<f4")
    table[:, 0:3] = cloud.means
    # columns 3:6 are the normals, left at zero
    table[:, 6:9] = cloud.sh0
    # [N, K, 3] coefficient-major -> [N, 3, K] -> f_rest_{c*K + k}
    table[:, 9:9 + 3 * k] = cloud.shN.transpose(0, 2, 1).reshape(n, 3 * k)
    col = 9 + 3 * k
    table[:, col] = cloud.opacity_logits
    table[:, col + 1:col + 4] = cloud.log_scales
    table[:, col + 4:col + 8] = cloud.quats
    return table


def _checked_cloud(cloud: Any, where: str) -> GaussianCloud:
    if not isinstance(cloud, GaussianCloud):
        raise ContractError(f"expected a GaussianCloud to write to {where}, got {type(cloud).__name__}",
                            field="cloud", expected="GaussianCloud", actual=type(cloud).__name__)
    return cloud.validate(source=where)


def encode_ply(cloud: GaussianCloud) -> bytes:
    """The cloud as the bytes of a binary little-endian 3DGS PLY file (see :func:`write_ply`)."""
    cloud = _checked_cloud(cloud, "PLY bytes")
    return _header(len(cloud), canonical_property_names(cloud.sh_degree), cloud.georeference) \
        + _vertex_table(cloud).tobytes()


def write_ply(cloud: GaussianCloud, path: str | Path) -> Path:
    """Write ``cloud`` to ``path`` as a binary little-endian 3DGS PLY, atomically.

    Exactly the canonical layout (:func:`canonical_property_names`), float32, normals zero, plus
    a ``comment splatkit_georeference`` header line when the cloud has a georeference.

    Raises
    ------
    ContractError
        ``cloud`` is not a GaussianCloud or holds NaN/Inf (nothing is written).
    """
    path = Path(path)
    cloud = _checked_cloud(cloud, str(path))
    header = _header(len(cloud), canonical_property_names(cloud.sh_degree), cloud.georeference)
    table = _vertex_table(cloud)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(header)
            table.tofile(f)
            f.flush()
            os.fsync(f.fileno())
    logger.debug("wrote %d Gaussians (SH degree %d) to %s", len(cloud), cloud.sh_degree, path)
    return path


# --------------------------------------------------------------------------------------------
# Header


@dataclass(frozen=True)
class _Property:
    name: str
    type: str  # numpy code, e.g. "f4"
    list_types: tuple[str, str] | None = None  # (count type, item type) for list properties


@dataclass(frozen=True)
class _Element:
    name: str
    count: int
    properties: tuple[_Property, ...]

    def prop(self, name: str) -> _Property | None:
        return next((p for p in self.properties if p.name == name), None)


@dataclass(frozen=True)
class _Header:
    format: str
    elements: tuple[_Element, ...]
    comments: tuple[str, ...]
    data_offset: int

    def element(self, name: str) -> _Element | None:
        return next((e for e in self.elements if e.name == name), None)


def _parse_header(stream: IO[bytes], source: str) -> _Header:
    first = stream.readline(16)
    if first.rstrip(b"\r\n") != b"ply":
        raise InputError("not a PLY file (it does not start with the line 'ply')", path=source)
    fmt: str | None = None
    elements: list[tuple[str, int, list[_Property]]] = []
    comments: list[str] = []
    for lineno in range(2, _MAX_HEADER_LINES):
        raw = stream.readline(_MAX_HEADER_LINE)
        if not raw:
            raise InputError("PLY header has no 'end_header' line (file truncated or not a PLY)", path=source)
        if not raw.endswith(b"\n"):
            raise InputError(f"PLY header line {lineno} is unterminated or longer than "
                             f"{_MAX_HEADER_LINE} bytes (file truncated or not a PLY)", path=source)
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InputError(f"PLY header line {lineno} is not ASCII text", path=source) from None
        word, _, rest = line.partition(" ")
        tokens = rest.split()
        if word == "end_header":
            if fmt is None:
                raise InputError("PLY header has no 'format' line", path=source)
            return _Header(
                format=fmt,
                elements=tuple(_Element(n, c, tuple(p)) for n, c, p in elements),
                comments=tuple(comments),
                data_offset=stream.tell(),
            )
        if word in ("comment", "obj_info") or not word:
            if word == "comment":
                comments.append(rest.strip())
        elif word == "format":
            if len(tokens) != 2 or tokens[0] not in _FORMATS:
                raise InputError(f"PLY header line {lineno}: unsupported format {rest!r}; expected "
                                 "ascii, binary_little_endian or binary_big_endian 1.0", path=source)
            fmt = tokens[0]
        elif word == "element":
            if len(tokens) != 2 or not tokens[1].isdigit():
                raise InputError(f"PLY header line {lineno}: malformed element line {line!r}", path=source)
            elements.append((tokens[0], int(tokens[1]), []))
        elif word == "property":
            if not elements:
                raise InputError(f"PLY header line {lineno}: property before any element", path=source)
            prop = _parse_property(tokens, lineno, source)
            if any(p.name == prop.name for p in elements[-1][2]):
                raise InputError(f"PLY header line {lineno}: element {elements[-1][0]!r} declares property "
                                 f"{prop.name!r} twice", path=source)
            elements[-1][2].append(prop)
        else:
            raise InputError(f"PLY header line {lineno}: unknown keyword {word!r}", path=source)
    raise InputError(f"PLY header longer than {_MAX_HEADER_LINES} lines (not a PLY?)", path=source)


def _parse_property(tokens: list[str], lineno: int, source: str) -> _Property:
    def ply_type(name: str) -> str:
        if name not in _PLY_TYPES:
            raise InputError(f"PLY header line {lineno}: unknown property type {name!r}", path=source)
        return _PLY_TYPES[name]

    if len(tokens) == 4 and tokens[0] == "list":
        return _Property(tokens[3], ply_type(tokens[2]), (ply_type(tokens[1]), ply_type(tokens[2])))
    if len(tokens) == 2:
        return _Property(tokens[1], ply_type(tokens[0]))
    raise InputError(f"PLY header line {lineno}: malformed property line {' '.join(tokens)!r}", path=source)


def _georeference(header: _Header, source: str) -> Georeference | None:
    for comment in header.comments:
        word, _, rest = comment.partition(" ")
        if word != GEOREFERENCE_COMMENT:
            continue
        parts = rest.split()
        try:
            lat, lon, alt = (float(p) for p in parts)
            return Georeference(lat=lat, lon=lon, alt=alt)
        except (ValueError, ContractError) as e:
            raise InputError(f"malformed '{GEOREFERENCE_COMMENT}' comment {rest!r}: expected three finite "
                             f"numbers 'lat lon alt' ({e})", path=source) from e
    return None


# --------------------------------------------------------------------------------------------
# Layout checks (header only)


def _splat_element(header: _Header, source: str) -> _Element:
    if header.element("chunk") is not None or any(
            p.name.startswith("packed_") for e in header.elements for p in e.properties):
        raise InputError("this is the PlayCanvas/SuperSplat compressed PLY variant (a 'chunk' element and "
                         f"packed_* properties), which splatkit does not read; {_CONVERT_COMPRESSED}",
                         path=source)
    vertex = header.element("vertex")
    if vertex is not None:
        return vertex
    holder = next((e for e in header.elements if e.prop("x") is not None or e.prop("f_dc_0") is not None), None)
    if holder is not None:
        raise InputError(f"the splats are in element {holder.name!r}, but a 3DGS PLY keeps them in "
                         "element 'vertex'; rename the element", path=source)
    names = ", ".join(repr(e.name) for e in header.elements) or "none"
    raise InputError(f"no 'vertex' element (elements: {names}); not a 3DGS PLY", path=source)


def _required_names(vertex: _Element, source: str) -> tuple[list[str], int]:
    """Required property names (canonical order, no normals) and the SH degree."""
    rest = sorted(int(m.group(1)) for p in vertex.properties if (m := _F_REST.match(p.name)))
    by_count = {3 * k: degree for degree, k in SH_COEFFS_FOR_DEGREE.items()}
    if len(rest) not in by_count:
        raise InputError(f"{len(rest)} f_rest_* properties; a 3DGS PLY has 0, 9, 24 or 45 "
                         "(SH degree 0, 1, 2 or 3)", path=source)
    if rest != list(range(len(rest))):
        missing = sorted(set(range(len(rest))) - set(rest))
        raise InputError(f"f_rest_* properties are not numbered 0..{len(rest) - 1}: missing "
                         f"{['f_rest_%d' % i for i in missing]}", path=source)
    degree = by_count[len(rest)]
    names = [n for n in canonical_property_names(degree) if n not in ("nx", "ny", "nz")]
    missing_props = [n for n in names if vertex.prop(n) is None]
    if missing_props:
        raise InputError(f"vertex element lacks required 3DGS properties {missing_props}", path=source)
    for prop in vertex.properties:
        if prop.list_types is not None:
            raise InputError(f"vertex property {prop.name!r} is a list; 3DGS PLY vertices hold scalars only",
                             path=source)
    wanted = set(names)
    for prop in vertex.properties:
        if prop.name in wanted and prop.type not in ("f4", "f8"):
            ply_name = next(k for k, v in _PLY_TYPES.items() if v == prop.type)
            raise InputError(f"vertex property {prop.name!r} has type {ply_name}; 3DGS PLY stores float "
                             "(float32) values", path=source)
    extra = [p.name for p in vertex.properties if p.name not in wanted and p.name not in ("nx", "ny", "nz")]
    if extra:
        logger.debug("%s: ignoring extra vertex properties %s", source, extra)
    return names, degree


# --------------------------------------------------------------------------------------------
# Data


def _vertex_dtype(vertex: _Element, byte_order: str) -> np.dtype:
    return np.dtype([(p.name, byte_order + p.type) for p in vertex.properties])


def _skip_binary_elements(stream: IO[bytes], elements: list[_Element], byte_order: str, size: int,
                          source: str) -> None:
    """Move ``stream`` past ``elements`` (those stored before ``vertex``).

    Every step is checked against the file's ``size`` before seeking: a header may declare any
    count (``element face 99999999999999999999``), and a seek past 2**63 raises OverflowError.
    """
    for element in elements:
        if all(p.list_types is None for p in element.properties):
            nbytes = element.count * _vertex_dtype(element, byte_order).itemsize
            _check_room(stream, nbytes, size, element, source)
            stream.seek(nbytes, io.SEEK_CUR)
            continue
        # Rare (meshes store vertices first): walk rows to find the list lengths. Every row holds
        # at least one byte of list count, so the walk ends within the file's size.
        for _ in range(element.count):
            for prop in element.properties:
                if prop.list_types is None:
                    nbytes = np.dtype(prop.type).itemsize
                else:
                    count_dtype = np.dtype(byte_order + prop.list_types[0])
                    raw = stream.read(count_dtype.itemsize)
                    if len(raw) != count_dtype.itemsize:
                        raise InputError(f"file truncated inside element {element.name!r}", path=source)
                    n = int(np.frombuffer(raw, count_dtype)[0])
                    if n < 0:
                        raise InputError(f"element {element.name!r} holds a list of negative length {n}; the file "
                                         "is corrupt", path=source)
                    nbytes = n * np.dtype(prop.list_types[1]).itemsize
                _check_room(stream, nbytes, size, element, source)
                stream.seek(nbytes, io.SEEK_CUR)


def _check_room(stream: IO[bytes], nbytes: int, size: int, element: _Element, source: str) -> None:
    left = size - stream.tell()
    if nbytes > left:
        raise InputError(f"file truncated or corrupt: element {element.name!r} ({element.count} rows) needs "
                         f"{nbytes} bytes but only {max(left, 0)} follow; not a valid PLY", path=source)


def _read_binary(stream: IO[bytes], data: bytes | None, header: _Header, vertex: _Element,
                 size: int, source: str) -> np.ndarray:
    byte_order = _FORMATS[header.format]
    assert byte_order is not None
    before = list(header.elements[: header.elements.index(vertex)])
    stream.seek(header.data_offset)
    _skip_binary_elements(stream, before, byte_order, size, source)
    offset = stream.tell()
    dtype = _vertex_dtype(vertex, byte_order)
    need = vertex.count * dtype.itemsize
    if size - offset < need:
        raise InputError(f"file truncated: the vertex element needs {need} bytes ({vertex.count} rows x "
                         f"{dtype.itemsize} bytes) but only {max(size - offset, 0)} follow the header",
                         path=source)
    if data is not None:
        return np.frombuffer(data, dtype, count=vertex.count, offset=offset)
    return np.fromfile(stream, dtype, count=vertex.count)


def _read_ascii(stream: IO[bytes], header: _Header, vertex: _Element, source: str) -> np.ndarray:
    """The vertex rows as a float64 matrix ``[N, P]`` (P = all vertex properties, file order)."""
    stream.seek(header.data_offset)
    text = io.TextIOWrapper(stream, encoding="ascii", errors="strict", newline=None)
    skip = sum(e.count for e in header.elements[: header.elements.index(vertex)])
    lines: list[str] = []
    if vertex.count == 0:
        return np.zeros((0, len(vertex.properties)))
    try:
        for line in text:
            if not line.strip():
                continue  # tolerate blank lines
            if skip:
                skip -= 1
                continue
            lines.append(line)
            if len(lines) == vertex.count:
                break
    except UnicodeDecodeError:
        raise InputError("ASCII PLY body contains non-ASCII bytes", path=source) from None
    finally:
        text.detach()
    if len(lines) < vertex.count:
        raise InputError(f"file truncated: the vertex element declares {vertex.count} rows, found "
                         f"{len(lines)}", path=source)
    n_props = len(vertex.properties)
    try:
        values = np.array(" ".join(lines).split(), dtype=np.float64)
    except ValueError as e:
        raise InputError(f"ASCII PLY vertex data holds a non-numeric value ({e})", path=source) from None
    if values.size != vertex.count * n_props:
        row = next(i for i, line in enumerate(lines) if len(line.split()) != n_props)
        raise InputError(f"ASCII PLY vertex row {row} has {len(lines[row].split())} values, expected "
                         f"{n_props}", path=source)
    return values.reshape(vertex.count, n_props)


def _gather(vertex: _Element, table: np.ndarray, names: list[str]) -> np.ndarray:
    """Required columns as one float32 matrix ``[N, len(names)]`` in ``names`` order.

    ``table`` is the vertex data: a structured array (binary) or a float64 ``[N, P]`` matrix
    (ASCII). One gather pass instead of one strided pass per property keeps a 1M-splat SH3 file
    well under a second.
    """
    index = {p.name: j for j, p in enumerate(vertex.properties)}
    cols = [index[name] for name in names]
    with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32 range -> inf, reported later
        if table.dtype.names is None:
            return table[:, cols].astype(np.float32)
        field_types = {table.dtype[j] for j in range(len(vertex.properties))}
        if len(field_types) == 1 and next(iter(field_types)).kind == "f" and table.dtype.itemsize == (
                next(iter(field_types)).itemsize * len(vertex.properties)):
            flat = table.view(next(iter(field_types))).reshape(len(table), len(vertex.properties))
            return flat[:, cols].astype(np.float32)
        out = np.empty((len(table), len(names)), dtype=np.float32)
        for j, name in enumerate(names):
            out[:, j] = table[name]
        return out


def _check_finite(matrix: np.ndarray, names: list[str], source: str) -> None:
    finite = np.isfinite(matrix)
    if finite.all():
        return
    row, col = (int(i) for i in np.argwhere(~finite)[0])
    raise InputError(f"property {names[col]!r} is NaN/Inf (or outside the float32 range) at row {row} "
                     f"(value {float(matrix[row, col])!r}); {int((~finite).any(axis=1).sum())} row(s) affected; "
                     "remove or fix the non-finite splats (e.g. `splat-transform -N`)", path=source)


def _cloud_from_matrix(matrix: np.ndarray, degree: int, georeference: Georeference | None,
                       source: str) -> GaussianCloud:
    """Build the cloud from ``[N, 14 + 3K]`` float32 columns in canonical order without normals."""
    k = SH_COEFFS_FOR_DEGREE[degree]
    rest_end = 6 + 3 * k
    # f_rest_{c*K + k}: [N, 3, K] channel-major in the file -> [N, K, 3] in the contract
    shn = matrix[:, 6:rest_end].reshape(len(matrix), 3, k).transpose(0, 2, 1)
    try:
        return GaussianCloud(
            means=matrix[:, 0:3],
            sh0=matrix[:, 3:6],
            shN=shn,
            opacity_logits=matrix[:, rest_end],
            log_scales=matrix[:, rest_end + 1:rest_end + 4],
            quats=matrix[:, rest_end + 4:rest_end + 8],
            georeference=georeference,
        ).validate(source=source)
    except ContractError as e:  # cannot happen after the checks above; keep the file in the message
        raise InputError(f"not a valid Gaussian cloud: {e}", path=source) from e


def _read(stream: IO[bytes], data: bytes | None, size: int, source: str) -> tuple[GaussianCloud, _Header]:
    header = _parse_header(stream, source)
    vertex = _splat_element(header, source)
    names, degree = _required_names(vertex, source)
    georeference = _georeference(header, source)
    if header.format == "ascii":
        table = _read_ascii(stream, header, vertex, source)
    else:
        table = _read_binary(stream, data, header, vertex, size, source)
    matrix = _gather(vertex, table, names)
    _check_finite(matrix, names, source)
    cloud = _cloud_from_matrix(matrix, degree, georeference, source)
    logger.debug("read %d Gaussians (SH degree %d, %s) from %s", len(cloud), degree, header.format, source)
    return cloud, header


def _read_file(path: Path) -> tuple[GaussianCloud, Any]:
    """Open ``path`` and parse it; :class:`InputError` naming the file when it cannot be opened."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise InputError(f"cannot open PLY file: {e.strerror or e}", path=path) from e
    with f:
        return _read(f, None, os.fstat(f.fileno()).st_size, str(path))


def read_ply(path: str | Path) -> GaussianCloud:
    """Read a 3DGS PLY file into a validated :class:`GaussianCloud`.

    Accepts binary little-endian, binary big-endian and ASCII files; ``float`` or ``double``
    properties (converted to float32); properties in any order; files without normals; extra
    properties and elements (ignored). The SH degree is inferred from the number of ``f_rest_*``
    properties.

    Raises
    ------
    InputError
        Naming the file and what is wrong: not a PLY, truncated, no ``vertex`` element, a missing
        or non-float required property, an ``f_rest`` count other than 0/9/24/45, a NaN/Inf value
        (with the property and first row), or the compressed PLY variant.
    """
    cloud, _ = _read_file(Path(path))
    return cloud


def decode_ply(data: bytes, *, source: str = "<PLY bytes>") -> GaussianCloud:
    """Like :func:`read_ply`, from the bytes of a PLY file; ``source`` names them in errors."""
    data = bytes(data)
    cloud, _ = _read(io.BytesIO(data), data, len(data), source)
    return cloud


# --------------------------------------------------------------------------------------------
# Summary


def _sigmoid(x: float) -> float:
    # numerically safe for large |x|
    return float(1.0 / (1.0 + np.exp(-np.float64(x))))


def is_ply_file(path: str | Path) -> bool:
    """Cheap check for ``splatkit info``: ``path`` is a file whose first line is ``ply``."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            start = f.read(5)
    except OSError:
        return False
    return start.startswith((b"ply\n", b"ply\r\n"))


def info(path: str | Path) -> dict[str, Any]:
    """JSON-able summary of a 3DGS PLY file, for ``splatkit info``.

    Returns
    -------
    dict
        ``type`` ("3dgs-ply"), ``path``, ``format`` ("ply"), ``encoding`` (ascii / binary_little_endian /
        binary_big_endian), ``file_size_bytes``, ``count``, ``sh_degree``, ``properties`` (vertex
        property names in file order), ``bounds_min`` / ``bounds_max`` (``[3]`` of the means, None
        when empty), ``opacity_logit_range`` and ``opacity_range`` (after the sigmoid; None when
        empty), ``georeference`` (dict or None).

    Raises
    ------
    InputError
        As :func:`read_ply`.
    """
    path = Path(path)
    cloud, header = _read_file(path)
    vertex = header.element("vertex")
    assert vertex is not None
    empty = len(cloud) == 0
    lo = None if empty else float(cloud.opacity_logits.min())
    hi = None if empty else float(cloud.opacity_logits.max())
    return {
        "type": "3dgs-ply",
        "path": str(path),
        "format": "ply",
        "encoding": header.format,
        "file_size_bytes": path.stat().st_size,
        "count": len(cloud),
        "sh_degree": cloud.sh_degree,
        "properties": [p.name for p in vertex.properties],
        "bounds_min": None if empty else [float(v) for v in cloud.means.min(axis=0)],
        "bounds_max": None if empty else [float(v) for v in cloud.means.max(axis=0)],
        "opacity_logit_range": None if empty else [lo, hi],
        "opacity_range": None if empty else [_sigmoid(lo), _sigmoid(hi)],
        "georeference": None if cloud.georeference is None else cloud.georeference.to_dict(),
    }



class PlyFormat(Format):
    """The 3DGS PLY layout (``x y z``, ``f_dc_*``, ``f_rest_*``, ``opacity``, ``scale_*``, ``rot_*``)."""

    name = "ply"
    holds = "splats"
    suffixes = (".ply",)
    description = "3D Gaussian Splatting PLY (INRIA layout; ASCII or binary, any SH degree)"

    def detect(self, path: Path) -> bool:
        return is_ply_file(path)

    def describe(self, path: Path) -> dict[str, Any]:
        return info(path)

    def decode(self, path: Path) -> GaussianCloud:
        return read_ply(path)

    def write(self, cloud: GaussianCloud, path: Path) -> Path:
        return write_ply(cloud, path)
