"""``splatkit view``: look at a splat file or a run in the browser, served from this machine only.

============  ==================================================================================
:mod:`.sources`  what a PATH is (``.sog``, SOG folder, 3DGS ``.ply``, run folder) and the exact
                 files it may serve
:mod:`.server`   the stdlib HTTP server on 127.0.0.1 that serves those files and the page, nothing else
:mod:`.camera`   the URL fragment that sets the viewer's camera (splatkit's renderer conventions)
:mod:`.cli`      the ``view`` sub-command
``static/``      the page: splatkit's own WebGL2 splat renderer (no third-party code)
============  ==================================================================================

This package imports only the standard library and :mod:`splatkit.io`; the page needs no network.
"""

from splatkit.view.camera import camera_fragment, parse_camera_fragment
from splatkit.view.server import ViewServer, serve
from splatkit.view.sources import ViewSource, resolve_source

__all__ = ["camera_fragment", "parse_camera_fragment", "ViewServer", "serve", "ViewSource", "resolve_source"]
