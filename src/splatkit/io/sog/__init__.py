"""SOG ("Spatially Ordered Gaussians"): the PlayCanvas web format, in one room.

A SOG is a ``meta.json`` plus lossless WebP images, bundled as one ``.sog`` ZIP or unbundled as a
folder holding ``meta.json``. Each decision about the format is made in one module here:

=================  ===========================================================================
:mod:`.meta`       the ``meta.json`` schema (v2 and legacy v1, the ``splatkit`` extension
                   object, member file names), parsed and checked once
:mod:`.container`  the stored ZIP and the folder: reading, atomic writing, size limits
:mod:`.packing`    per-attribute packing shared by both versions (texture size, symlog
                   positions, smallest-three quaternions, opacity alpha)
:mod:`.webp`       lossless WebP encode/decode of the images
:mod:`.v2`         the current layout: the encoder's pixel packers and the decoder, with the
                   per-attribute error bounds
:mod:`.v1`         the legacy SOGS layouts (read only)
:mod:`.format`     version dispatch, ``splatkit info`` facts and :class:`SogFormat`
=================  ===========================================================================

The lossy fitting (codebooks, palette, ordering) lives in :mod:`splatkit.compress`, which writes
files through this package. Each module's ``__all__`` is its public API; this package re-exports
all of them, so ``from splatkit.io.sog import read_sog, decode_sog, SogMeta`` works.
"""

from splatkit.io.sog import container, format, meta, packing, v1, v2, webp
from splatkit.io.sog.meta import *  # noqa: F403  (re-exported: meta.__all__)
from splatkit.io.sog.packing import *  # noqa: F403
from splatkit.io.sog.webp import *  # noqa: F403
from splatkit.io.sog.v2 import *  # noqa: F403
from splatkit.io.sog.v1 import *  # noqa: F403
from splatkit.io.sog.container import *  # noqa: F403
from splatkit.io.sog.format import *  # noqa: F403

__all__ = [*meta.__all__, *packing.__all__, *webp.__all__, *v2.__all__, *v1.__all__, *container.__all__,
           *format.__all__]
