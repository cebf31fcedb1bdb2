"""The format protocol: how a file format tells splatkit what it can read, decode and describe.

A format is a class with ``name``, ``holds`` (what its files contain), ``suffixes``, a cheap
``detect(path)``, ``describe(path)`` for ``splatkit info`` and, for splat formats,
``decode(path) -> GaussianCloud`` (``splatkit decompress``, ``splatkit view``) and optionally
``write(cloud, path)``. Subclass :class:`Format` and register the class through the
``splatkit_register_formats`` hook (see :mod:`splatkit.plugins`); ``info``, ``decompress`` and
``view`` ask the registry, so a plugin's format works like the built-ins.

Readers are hostile-input readers: ``detect`` never raises for a foreign or broken file (it says
False), and ``describe``/``decode`` raise :class:`splatkit.InputError` naming the file for anything
malformed, with bounded work and memory for any input size.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from splatkit.contracts import GaussianCloud

__all__ = ["FORMAT_HOLDS", "FormatHolds", "Format"]

FormatHolds = Literal["splats", "reconstruction", "photos"]
#: What a format's files may contain: Gaussian splats (decodable to a GaussianCloud), an SfM
#: reconstruction (a COLMAP model, an OpenSfM folder) or photos (a folder or ZIP of images).
FORMAT_HOLDS: tuple[str, ...] = ("splats", "reconstruction", "photos")


class Format:
    """Base class for file formats; subclasses set the class attributes and override the methods.

    Class attributes
    ----------------
    name : str
        Short registry name, unique among formats (``"sog"``, ``"ply"``, ``"spz"``).
    holds : {"splats", "reconstruction", "photos"}
        What the files contain. Only ``"splats"`` formats implement :meth:`decode`.
    suffixes : tuple[str, ...]
        Lower-case file suffixes with the dot (``(".sog",)``); empty for folder formats. Used to
        pick a format for writing and in messages, never instead of :meth:`detect`.
    description : str
        One line for ``splatkit plugins``.
    install_hint : str
        What to install when unavailable.
    max_sh_degree : int
        The highest spherical-harmonics degree the format stores (a cloud with more bands is
        written with the extra bands dropped).
    """

    name: ClassVar[str]
    holds: ClassVar[str] = "splats"
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""
    max_sh_degree: ClassVar[int] = 3

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why the format cannot be read here (with the fix), or None when it can. Cheap."""
        return None

    @classmethod
    def is_available(cls) -> bool:
        return cls.unavailable_reason() is None

    @classmethod
    def can_write(cls) -> bool:
        """Whether :meth:`write` is implemented."""
        return cls.write is not Format.write

    def detect(self, path: Path) -> bool:
        """Whether ``path`` is a file or folder of this format.

        Cheap (reads at most a few kilobytes) and never raises: a missing, unreadable or foreign
        path is False.
        """
        raise NotImplementedError

    def describe(self, path: Path) -> dict[str, Any]:
        """JSON-able facts about ``path`` for ``splatkit info``; the ``"type"`` key comes first.

        Raises
        ------
        InputError
            When ``path`` is malformed (naming the file and what is wrong).
        """
        raise NotImplementedError

    def decode(self, path: Path) -> GaussianCloud:
        """The Gaussians in ``path`` (``holds == "splats"`` only), validated.

        Raises
        ------
        InputError
            When ``path`` is malformed.
        """
        raise NotImplementedError(f"format {self.name!r} holds {self.holds}, not splats")

    def write(self, cloud: GaussianCloud, path: Path) -> Path:
        """Write ``cloud`` to ``path`` atomically with default options; returns the path written."""
        raise NotImplementedError(f"format {self.name!r} has no writer")

    @classmethod
    def qualified_name(cls) -> str:
        return f"format/{cls.name}"
