"""Contract checks for file formats: the class, foreign and damaged files, and a write/read round trip.

Readers are hostile-input readers (see :mod:`splatkit.formats`): ``detect`` answers True or False
for anything and never raises; ``describe`` and ``decode`` either succeed or raise
:class:`splatkit.InputError` naming the file. These checks feed a format missing, empty, foreign,
truncated and bit-flipped paths to prove it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from splatkit.contracts import GaussianCloud
from splatkit.errors import ContractError, InputError, PluginError
from splatkit.formats import FORMAT_HOLDS, Format
from splatkit.plugins.registry import FormatRegistry
from splatkit.testing.contract_check_error import ContractCheckError
from splatkit.testing.corruption import corruptions
from splatkit.testing.import_check import check_import_is_light
from splatkit.testing.synthetic import synthetic_cloud

__all__ = ["check_format_class", "check_format_rejects_foreign_paths", "check_format_survives_corruption",
           "check_format_reads", "check_format"]

#: Damaged files tried per member of a folder sample (each file of a file sample gets more).
_FOLDER_FLIPS = 4
_FOLDER_MEMBERS = 8
_FOLDER_MEMBER_BYTES = 8 * 1024 * 1024
_MAX_LISTED = 8


def _raise(what: str, problems: list[str]) -> None:
    if problems:
        shown = problems[:_MAX_LISTED] + ([f"... and {len(problems) - _MAX_LISTED} more"]
                                          if len(problems) > _MAX_LISTED else [])
        lines = "\n".join(f"  - {p}" for p in shown)
        raise ContractCheckError(f"{what} breaks the format contract:\n{lines}")


def _label(format_cls: type) -> str:
    return f"format {getattr(format_cls, 'name', '?')} ({format_cls.__qualname__})"


def check_format_class(format_cls: type, *, check_import: bool = True) -> None:
    """Check a format class without reading anything.

    The :class:`~splatkit.plugins.FormatRegistry` accepts it (a :class:`splatkit.formats.Format`
    subclass, a short ``name``, ``holds`` one of ``"splats"``, ``"reconstruction"``,
    ``"photos"``, lower-case ``suffixes`` with the dot); ``description`` is one non-empty line;
    ``unavailable_reason()`` returns None or a reason; ``can_write()`` is a bool and only a splat
    format writes; ``format_cls()`` builds with no arguments; with ``check_import``, importing
    its module imports no heavy package (:func:`~splatkit.testing.check_import_is_light`).

    Raises
    ------
    ContractCheckError
        Listing every rule broken.
    """
    if not (isinstance(format_cls, type) and issubclass(format_cls, Format)):
        raise ContractCheckError(f"{format_cls!r} is not a subclass of splatkit.formats.Format")
    problems: list[str] = []
    try:
        FormatRegistry().add(format_cls)
    except PluginError as e:
        problems.append(f"the format registry refuses it: {e}")
    if format_cls.holds not in FORMAT_HOLDS:
        _raise(_label(format_cls), problems)
    if not isinstance(format_cls.suffixes, tuple) or not all(isinstance(s, str) for s in format_cls.suffixes):
        problems.append(f"suffixes must be a tuple of str, got {format_cls.suffixes!r}")
    description = format_cls.description
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        problems.append(f"description must be one non-empty line for `splatkit plugins`, got {description!r}")
    try:
        reason = format_cls.unavailable_reason()
    except Exception as e:
        problems.append(f"unavailable_reason() raised {type(e).__name__}: {e}")
    else:
        if reason is not None and not (isinstance(reason, str) and reason.strip()):
            problems.append(f"unavailable_reason() must return None or a non-empty str, got {reason!r}")
    writes = format_cls.can_write()
    if not isinstance(writes, bool):
        problems.append(f"can_write() must return a bool, got {writes!r}")
    elif writes and format_cls.holds != "splats":
        problems.append(f"write(cloud, path) writes a GaussianCloud, but this format holds {format_cls.holds}")
    try:
        format_cls()
    except Exception as e:
        problems.append(f"{format_cls.__qualname__}() raised {type(e).__name__}: {e}; formats are built with no "
                        "arguments")
    if check_import and format_cls.__module__ != "__main__":
        try:
            check_import_is_light(format_cls.__module__)
        except ContractCheckError as e:
            problems.append(str(e))
    _raise(_label(format_cls), problems)


def _detect(fmt: Format, path: Path, what: str, problems: list[str]) -> bool | None:
    try:
        found = fmt.detect(path)
    except Exception as e:
        problems.append(f"detect() raised {type(e).__name__} on {what}: {e}; it must answer False")
        return None
    if not isinstance(found, (bool, np.bool_)):
        problems.append(f"detect() returned {found!r} on {what}; it must return a bool")
        return None
    return bool(found)


def _describe_problems(fmt: Format, path: Path, what: str, *, may_fail: bool) -> list[str]:
    """``describe(path)`` is a JSON-able dict with ``"type"`` first; or (``may_fail``) an InputError."""
    try:
        info = fmt.describe(path)
    except InputError as e:
        if not may_fail:
            return [f"describe() refused {what}: {e}"]
        return [] if e.path else [f"describe() raised an InputError without the file (path=) on {what}: {e}"]
    except Exception as e:
        return [f"describe() raised {type(e).__name__} on {what}: {e}; malformed input must be an InputError"]
    if not isinstance(info, dict) or not info:
        return [f"describe() returned {type(info).__name__} on {what}; expected a non-empty dict"]
    if next(iter(info)) != "type" or not isinstance(info["type"], str):
        return [f"describe() on {what}: the first key must be 'type' (a str), got keys {list(info)[:4]}"]
    try:
        json.dumps(info, allow_nan=False)
    except (TypeError, ValueError) as e:
        return [f"describe() on {what} is not strict JSON: {e}"]
    return []


def _decode(fmt: Format, path: Path, what: str, *, may_fail: bool) -> tuple[GaussianCloud | None, list[str]]:
    try:
        cloud = fmt.decode(path)
    except InputError as e:
        if not may_fail:
            return None, [f"decode() refused {what}: {e}"]
        return None, [] if e.path else [f"decode() raised an InputError without the file (path=) on {what}: {e}"]
    except Exception as e:
        return None, [f"decode() raised {type(e).__name__} on {what}: {e}; malformed input must be an InputError"]
    if not isinstance(cloud, GaussianCloud):
        return None, [f"decode() returned {type(cloud).__name__} on {what}; expected a GaussianCloud"]
    try:
        cloud.validate(source=str(path))
    except ContractError as e:
        return None, [f"decode() returned an invalid cloud on {what} (non-finite values must be an InputError): {e}"]
    return cloud, []


def check_format_rejects_foreign_paths(format_cls: type[Format], folder: str | Path) -> None:
    """Feed ``detect``/``describe``/``decode`` paths that are not of this format.

    Under neutral names (``random.bin``, ``notes.txt``, ...) a missing path, an empty file, an
    empty folder, a folder of foreign files, random bytes and a text file must all be
    ``detect() -> False``. The same empty, random and text content named with each of the format's
    suffixes may be detected (a cheap check may go by the suffix), but then ``describe`` and
    ``decode`` must refuse it with an :class:`~splatkit.InputError` naming the file.

    Raises
    ------
    ContractCheckError
        Listing every rule broken.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    content = {"empty": b"", "random": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes(),
               "notes": b"Not a splat file.\n" * 64}
    fmt = format_cls()
    problems: list[str] = []
    neutral: list[tuple[Path, str]] = [(folder / "missing", "a missing path")]
    for stem, data in content.items():
        path = folder / f"{stem}{'.txt' if stem == 'notes' else '.bin'}"
        path.write_bytes(data)
        neutral.append((path, f"{stem} content ({path.name})"))
    (folder / "empty_folder").mkdir(exist_ok=True)
    mixed = folder / "foreign_folder"
    mixed.mkdir(exist_ok=True)
    (mixed / "random.bin").write_bytes(content["random"])
    (mixed / "notes.txt").write_bytes(content["notes"])
    neutral += [(folder / "empty_folder", "an empty folder"), (mixed, "a folder of foreign files")]
    for path, what in neutral:
        if _detect(fmt, path, what, problems):
            problems.append(f"detect() says True for {what}")
    for suffix in format_cls.suffixes:
        if _detect(fmt, folder / f"missing{suffix}", f"a missing missing{suffix}", problems):
            problems.append(f"detect() says True for a missing missing{suffix}")
        named = []
        for stem, data in content.items():
            path = folder / f"{stem}{suffix}"
            path.write_bytes(data)
            named.append((path, f"{stem} content named {path.name}"))
        (folder / f"folder{suffix}").mkdir(exist_ok=True)
        named.append((folder / f"folder{suffix}", f"an empty folder named folder{suffix}"))
        for path, what in named:
            if _detect(fmt, path, what, problems):
                problems += _describe_problems(fmt, path, what, may_fail=True)
                if format_cls.holds == "splats":
                    cloud, found = _decode(fmt, path, what, may_fail=True)
                    problems += found
                    if cloud is not None:
                        problems.append(f"decode() read {len(cloud)} Gaussians from {what}")
    _raise(_label(format_cls), problems)


def _damaged_problems(fmt: Format, target: Path, what: str) -> list[str]:
    problems: list[str] = []
    _detect(fmt, target, what, problems)
    problems += _describe_problems(fmt, target, what, may_fail=True)
    if fmt.holds == "splats":
        problems += _decode(fmt, target, what, may_fail=True)[1]
    return problems


def check_format_survives_corruption(format_cls: type[Format], path: str | Path, workdir: str | Path, *,
                                     flips: int = 16) -> None:
    """Damage copies of ``path`` (truncated, one byte flipped) and read each.

    ``detect`` must not raise; ``describe`` and ``decode`` must return a valid result (a
    JSON-able dict with ``"type"`` first; a cloud that validates) or raise an
    :class:`~splatkit.InputError` naming the file -- never another exception. For a folder, each
    of its first files (up to 8, each up to 8 MB) is damaged in turn in a copy of the folder.
    ``path`` itself is not touched.

    Raises
    ------
    ContractCheckError
        Listing every damaged copy that broke a rule.
    """
    path, workdir = Path(path), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    fmt = format_cls()
    problems: list[str] = []
    if path.is_file():
        target = workdir / f"damaged{path.suffix}"
        for damage in corruptions(path.read_bytes(), flips=flips):
            target.write_bytes(damage.data)
            problems += _damaged_problems(fmt, target, f"{path.name} {damage.label}")
    else:
        copy = workdir / path.name
        shutil.copytree(path, copy, symlinks=True)
        # Top-level files first: that is where a folder format keeps what its reader opens.
        members = sorted((p for p in copy.rglob("*") if p.is_file() and not p.is_symlink()
                          and p.stat().st_size <= _FOLDER_MEMBER_BYTES),
                         key=lambda p: (len(p.relative_to(copy).parts), p.as_posix()))[:_FOLDER_MEMBERS]
        for member in members:
            original = member.read_bytes()
            rel = member.relative_to(copy).as_posix()
            for damage in corruptions(original, flips=_FOLDER_FLIPS):
                member.write_bytes(damage.data)
                problems += _damaged_problems(fmt, copy, f"{path.name} with {rel} {damage.label}")
            member.write_bytes(original)
    _raise(_label(format_cls), problems)


def check_format_reads(format_cls: type[Format], path: str | Path, *, expect: GaussianCloud | None = None,
                       max_sh_degree: int = 3, position_tolerance: float = 0.01,
                       formats: FormatRegistry | None = None) -> None:
    """Check that a file (or folder) of this format is detected, described and, for splats, decoded.

    With ``expect`` (the cloud that was written), the decoded cloud has as many Gaussians, SH
    degree ``min(expect.sh_degree, max_sh_degree)``, and the same bounding box of centres within
    ``position_tolerance`` times the box's largest side (lossy formats may reorder and quantise;
    a swapped axis or a lost offset moves the box). With ``formats``, the registry picks this
    format for ``path`` (no format registered before it claims the file).

    Raises
    ------
    ContractCheckError
        Listing every rule broken.
    """
    path = Path(path)
    fmt = format_cls()
    problems: list[str] = []
    what = path.name
    if not _detect(fmt, path, what, problems) and not problems:
        problems.append(f"detect() says False for {what}, a file of this format")
    problems += _describe_problems(fmt, path, what, may_fail=False)
    if format_cls.holds == "splats":
        cloud, found = _decode(fmt, path, what, may_fail=False)
        problems += found
        if cloud is not None and expect is not None:
            problems += _compare(cloud, expect, max_sh_degree=max_sh_degree, tolerance=position_tolerance)
    if formats is not None and not problems:
        chosen = formats.detect(path)
        if chosen is not format_cls:
            problems.append(f"the registry takes {what} for format {getattr(chosen, 'name', None)!r}, not "
                            f"{format_cls.name!r}: a format registered earlier detects it; make detect() stricter")
    _raise(_label(format_cls), problems)


def _compare(cloud: GaussianCloud, expect: GaussianCloud, *, max_sh_degree: int, tolerance: float) -> list[str]:
    degree = min(expect.sh_degree, max_sh_degree)
    problems = []
    if len(cloud) != len(expect):
        problems.append(f"wrote {len(expect)} Gaussians, decoded {len(cloud)}")
    if cloud.sh_degree != degree:
        problems.append(f"wrote SH degree {expect.sh_degree}, decoded {cloud.sh_degree} (expected {degree})")
    if len(cloud) and len(expect):
        size = float(np.ptp(expect.means, axis=0).max()) or 1.0
        low = np.abs(cloud.means.min(axis=0) - expect.means.min(axis=0)).max()
        high = np.abs(cloud.means.max(axis=0) - expect.means.max(axis=0)).max()
        if max(low, high) > tolerance * size:
            problems.append(f"the decoded centres' bounding box is off by {max(low, high):.4g} (> {tolerance} x "
                            f"{size:.4g}): an axis swapped, an offset or a scale lost?")
    return problems


def check_format(
    format_cls: type[Format],
    tmp_path: str | Path,
    sample: str | Path | Sequence[str | Path] | None = None,
    *,
    sh_degrees: Sequence[int] = (0, 3),
    n: int = 200,
    max_sh_degree: int | None = None,
    position_tolerance: float = 0.01,
    formats: FormatRegistry | None = None,
    check_import: bool = True,
) -> None:
    """Every check of a format: the class, foreign paths, files it writes or ``sample``, damaged copies.

    * :func:`check_format_class`.
    * :func:`check_format_rejects_foreign_paths`.
    * A splat format that writes: :func:`~splatkit.testing.synthetic_cloud` clouds of ``n``
      Gaussians at each of ``sh_degrees`` are written with ``write(cloud, path)`` (``path``
      named with the first suffix) and read back with :func:`check_format_reads`; the file of
      the highest degree is then damaged (:func:`check_format_survives_corruption`).
    * Each ``sample`` (needed when the format does not write): :func:`check_format_reads` and
      :func:`check_format_survives_corruption` on a copy.

    Parameters
    ----------
    format_cls
        The format class.
    tmp_path
        A folder for the files the checks write (pytest's ``tmp_path``).
    sample
        Path(s) of real files or folders of this format.
    sh_degrees, n
        The clouds written.
    max_sh_degree
        The highest SH degree the format stores (higher degrees are dropped on writing); default:
        the class attribute ``max_sh_degree`` when the format declares one, else 3.
    position_tolerance
        Allowed error of the decoded bounding box, relative to its largest side.
    formats
        The format registry (``PluginManager().formats``): it must pick this format for every
        written file and sample.
    check_import
        Also check that importing the format's module stays light.

    Raises
    ------
    ContractCheckError
        The first check that fails, listing every rule it found broken.
    """
    tmp_path = Path(tmp_path)
    check_format_class(format_cls, check_import=check_import)
    if max_sh_degree is None:
        max_sh_degree = int(getattr(format_cls, "max_sh_degree", 3))
    reason = format_cls.unavailable_reason()
    if reason is not None:
        raise ContractCheckError(f"{_label(format_cls)} is unavailable here ({reason}); skip the check instead")
    check_format_rejects_foreign_paths(format_cls, tmp_path / "foreign")
    samples = [] if sample is None else [Path(sample)] if isinstance(sample, (str, Path)) else [Path(s) for s in sample]
    writes = format_cls.can_write() and format_cls.holds == "splats"
    if not writes and not samples:
        raise ContractCheckError(f"{_label(format_cls)} does not write files; pass sample=<a file or folder of "
                                 "this format> so that reading it can be checked")
    written: list[Path] = []
    if writes:
        suffix = format_cls.suffixes[0] if format_cls.suffixes else ""
        for degree in sorted(sh_degrees):
            cloud = synthetic_cloud(n, degree, seed=degree)
            target = tmp_path / "written" / f"sh{degree}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            out = format_cls().write(cloud, target)
            if not isinstance(out, Path) or not out.exists():
                raise ContractCheckError(f"{_label(format_cls)}: write() returned {out!r}; it must return the Path "
                                         "it wrote")
            leftovers = sorted(p.name for p in out.parent.iterdir() if p.name.startswith("."))
            if leftovers:
                raise ContractCheckError(f"{_label(format_cls)}: write() left temporary files {leftovers}; write "
                                         "through splatkit.io.atomic")
            check_format_reads(format_cls, out, expect=cloud, max_sh_degree=max_sh_degree,
                               position_tolerance=position_tolerance, formats=formats)
            written.append(out)
        check_format_survives_corruption(format_cls, written[-1], tmp_path / "damaged_written")
    for i, path in enumerate(samples):
        check_format_reads(format_cls, path, formats=formats)
        check_format_survives_corruption(format_cls, path, tmp_path / f"damaged_sample_{i}")


