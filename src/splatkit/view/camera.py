"""The viewer's camera in a URL fragment, in the conventions of splatkit's renderers.

``#viewmat=r00,r01,r02,t0,r10,r11,r12,t1,r20,r21,r22,t2&K=fx,fy,cx,cy&size=W,H``

* ``viewmat``: the top three rows of the 4x4 ``cam_from_world`` matrix, row-major, OpenCV axes
  (x right, y down, z forward), exactly what :func:`splatkit.render.rasterize` takes;
* ``K``: pinhole intrinsics in pixels for an image of ``size`` (pixel centres at ``j + 0.5``);
* ``size``: the image size ``K`` refers to. A canvas of another size keeps the vertical field
  of view: ``K`` is scaled by ``canvas_height / H`` about the image centre.

The page writes the same fragment while the user moves (a view can be shared by its URL) and
reads it on load and on ``hashchange``. ``static/viewer.js`` parses it; keep both in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

import numpy as np

from splatkit.errors import InputError

__all__ = ["camera_fragment", "parse_camera_fragment"]


def _numbers(values: Sequence[float] | np.ndarray) -> str:
    # repr() of a Python float round-trips exactly.
    return ",".join(repr(float(v)) for v in np.asarray(values, np.float64).ravel())


def camera_fragment(viewmat: np.ndarray, K: np.ndarray, width: int, height: int) -> str:
    """The fragment (without ``#``) that makes the viewer render this camera.

    Parameters
    ----------
    viewmat : [4, 4] or [3, 4]
        ``cam_from_world``, OpenCV axes.
    K : [3, 3]
        Pinhole intrinsics in pixels.
    width, height
        The image size ``K`` is for.
    """
    viewmat = np.asarray(viewmat, np.float64)
    K = np.asarray(K, np.float64)
    if viewmat.shape not in ((4, 4), (3, 4)) or K.shape != (3, 3):
        raise InputError(f"camera_fragment needs viewmat [4, 4] or [3, 4] and K [3, 3], got {viewmat.shape} "
                         f"and {K.shape}")
    return (f"viewmat={_numbers(viewmat[:3])}&K={_numbers([K[0, 0], K[1, 1], K[0, 2], K[1, 2]])}"
            f"&size={int(width)},{int(height)}")


def parse_camera_fragment(fragment: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Inverse of :func:`camera_fragment`: ``(viewmat [4, 4], K [3, 3], (W, H))``.

    Raises
    ------
    InputError
        A key is missing or does not hold the right count of finite numbers.
    """
    fields = dict(parse_qsl(fragment.lstrip("#"), keep_blank_values=True))

    def numbers(key: str, count: int) -> list[float]:
        try:
            values = [float(v) for v in fields[key].split(",")]
        except (KeyError, ValueError):
            values = []
        if len(values) != count or not all(np.isfinite(values)):
            raise InputError(f"camera fragment: {key!r} must hold {count} finite numbers, got {fields.get(key)!r}")
        return values

    viewmat = np.eye(4)
    viewmat[:3] = np.reshape(numbers("viewmat", 12), (3, 4))
    fx, fy, cx, cy = numbers("K", 4)
    w, h = numbers("size", 2)
    return viewmat, np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]]), (int(w), int(h))
