"""OpenSfM cameras -> COLMAP camera models in pixels (projection itself: :mod:`splatkit.sfm.camera_models`).

OpenSfM (``opensfm/io.py::camera_from_json``, ``opensfm/src/geometry/camera_instances.h``) models
a camera as PROJECTION -> DISTORTION -> AFFINE in *normalized* image coordinates: origin at the
image centre, the larger image side spans 1 (``S = max(width, height)``), focal lengths and
principal-point offsets (``c_x, c_y``) in units of S. COLMAP works in pixels with the top-left
pixel's centre at (0.5, 0.5); OpenSfM's normalization is ``xn = (px + 0.5 - w/2) / S`` with the
top-left pixel's centre at px = 0 (``opensfm/features.py``), so in COLMAP pixels::

    x_colmap = xn * S + w / 2        y_colmap = yn * S + h / 2
    f_px = f * S                     cx = w / 2 + c_x * S,  cy = h / 2 + c_y * S

Every mapping below is exact (the same function of the 3D point), not a refit:

=================  =====================================================================
OpenSfM            COLMAP
=================  =====================================================================
perspective        SIMPLE_RADIAL (k2 == 0) or RADIAL; principal point at the centre
brown              OPENCV (k3 == 0) or FULL_OPENCV (k3 in slot 9, k4..k6 = 0)
fisheye            SIMPLE_RADIAL_FISHEYE (k2 == 0) or RADIAL_FISHEYE (equidistant theta)
fisheye_opencv     OPENCV_FISHEYE
fisheye62          THIN_PRISM_FISHEYE when k5 == k6 == 0 (sx1 = sy1 = 0)
fisheye624         THIN_PRISM_FISHEYE when k5 == k6 == s1 == s3 == 0 (sx1 = s0, sy1 = s2)
radial             RADIAL (focal_x == focal_y) or OPENCV (p1 = p2 = 0)
simple_radial      SIMPLE_RADIAL (focal_x == focal_y) or OPENCV (k2 = p1 = p2 = 0)
dual               as perspective when transition == 1, as fisheye when transition == 0
spherical, equi-   refused: no COLMAP model that 3DGS trainers accept
rectangular
=================  =====================================================================

Distortion formulas compared: OpenSfM ``camera_distortions_functions.h`` (``Disto2``, ``Disto24``,
``Disto2468``, ``Disto62``, ``Disto624``, ``DistoBrown``) and ``camera_projections_functions.h``
(``FisheyeProjection``: theta = atan2(r, z)); COLMAP ``src/colmap/sensor/models.h``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from splatkit.contracts.reconstruction import Camera
from splatkit.errors import InputError

__all__ = [
    "SUPPORTED_PROJECTIONS",
    "opensfm_camera_to_colmap",
    "normalized_to_pixels",
]

#: OpenSfM projection types that convert (some only for parameter values COLMAP can express).
SUPPORTED_PROJECTIONS: tuple[str, ...] = (
    "perspective", "brown", "fisheye", "fisheye_opencv", "fisheye62", "fisheye624",
    "radial", "simple_radial", "dual",
)
_PANORAMAS = ("spherical", "equirectangular")


def opensfm_camera_to_colmap(
    obj: Mapping[str, Any],
    *,
    camera_id: int = 1,
    key: str = "",
    path: str | Path | None = None,
) -> Camera:
    """Convert one OpenSfM camera JSON object to an equivalent COLMAP :class:`Camera` in pixels.

    Parameters
    ----------
    obj
        The camera object from ``reconstruction.json`` / ``camera_models.json``
        (``projection_type``, ``width``, ``height`` and the type's parameters; missing
        distortion terms are 0, as in OpenSfM's reader).
    camera_id
        Id to give the COLMAP camera.
    key
        OpenSfM camera id, for messages.
    path
        The file the camera came from, for messages.

    Returns
    -------
    Camera
        Parameters in COLMAP order and pixels (see the module docstring for the mapping).

    Raises
    ------
    InputError
        For a projection type COLMAP cannot express (panoramas, unknown types, or parameter
        values outside what the target model can represent), or missing/invalid values.
    """
    name = f"camera {key!r}" if key else "camera"
    ptype = str(obj.get("projection_type", "perspective"))

    def num(field: str, default: float | None = 0.0) -> float:
        value = obj.get(field, default)
        if value is None:
            raise InputError(f"{name} ({ptype}) lacks {field!r}", path=path)
        try:
            out = float(value)
        except (TypeError, ValueError):
            out = float("nan")
        if not np.isfinite(out):
            raise InputError(f"{name} ({ptype}): {field} must be a finite number, got {value!r}", path=path)
        return out

    try:
        width, height = int(obj.get("width", 0)), int(obj.get("height", 0))
    except (TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:
        raise InputError(f"{name} needs positive integer width and height to convert normalized units to "
                         f"pixels, got {obj.get('width')!r} x {obj.get('height')!r}", path=path)
    s = float(max(width, height))
    cx0, cy0 = width / 2.0, height / 2.0

    def refuse(why: str) -> InputError:
        return InputError(
            f"{name} has OpenSfM projection_type {ptype!r}, which COLMAP cannot express: {why}. Convertible types: "
            f"{', '.join(SUPPORTED_PROJECTIONS)}. Re-run OpenSfM with a camera_models_overrides.json that sets a "
            "convertible projection_type (e.g. 'brown' or 'perspective') for this camera", path=path)

    def make(model: str, params: list[float]) -> Camera:
        return Camera(model=model, width=width, height=height, params=np.array(params, np.float64),
                      camera_id=camera_id)

    if ptype == "dual":
        transition = num("transition", 0.5)
        if transition == 1.0:
            ptype = "perspective"
        elif transition == 0.0:
            ptype = "fisheye"
        else:
            raise refuse(f"transition={transition} blends a perspective and a fisheye projection; only "
                         "transition 1 (perspective) or 0 (fisheye) convert exactly")

    if ptype in ("perspective", "fisheye"):
        f, k1, k2 = num("focal", None) * s, num("k1"), num("k2")
        fish = ptype == "fisheye"
        if k2 == 0.0:
            return make("SIMPLE_RADIAL_FISHEYE" if fish else "SIMPLE_RADIAL", [f, cx0, cy0, k1])
        return make("RADIAL_FISHEYE" if fish else "RADIAL", [f, cx0, cy0, k1, k2])

    if ptype in ("brown", "fisheye_opencv", "fisheye62", "fisheye624", "radial", "simple_radial"):
        # Affine step (transformations_functions.h): u = fx x + c_x, v = fx * aspect y + c_y with
        # aspect = focal_y / focal_x, i.e. fy = focal_y.
        fx, fy = num("focal_x", None) * s, num("focal_y", None) * s
        cx, cy = cx0 + num("c_x") * s, cy0 + num("c_y") * s
        if ptype == "brown":
            k1, k2, k3, p1, p2 = (num(k) for k in ("k1", "k2", "k3", "p1", "p2"))
            if k3 == 0.0:
                return make("OPENCV", [fx, fy, cx, cy, k1, k2, p1, p2])
            return make("FULL_OPENCV", [fx, fy, cx, cy, k1, k2, p1, p2, k3, 0.0, 0.0, 0.0])
        if ptype == "fisheye_opencv":
            return make("OPENCV_FISHEYE", [fx, fy, cx, cy] + [num(k) for k in ("k1", "k2", "k3", "k4")])
        if ptype in ("fisheye62", "fisheye624"):
            k = {n: num(n) for n in ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2", "s0", "s1", "s2", "s3")}
            extra = ["k5", "k6"] + (["s1", "s3"] if ptype == "fisheye624" else [])
            nonzero = [n for n in extra if k[n] != 0.0]
            if nonzero:
                raise refuse(f"COLMAP's THIN_PRISM_FISHEYE has no {'/'.join(nonzero)} term "
                             f"({', '.join(f'{n}={k[n]}' for n in nonzero)})")
            sx1, sy1 = (k["s0"], k["s2"]) if ptype == "fisheye624" else (0.0, 0.0)
            return make("THIN_PRISM_FISHEYE",
                        [fx, fy, cx, cy, k["k1"], k["k2"], k["p1"], k["p2"], k["k3"], k["k4"], sx1, sy1])
        k1, k2 = num("k1"), (num("k2") if ptype == "radial" else 0.0)
        if fx == fy:
            if ptype == "radial":
                return make("RADIAL", [fx, cx, cy, k1, k2])
            return make("SIMPLE_RADIAL", [fx, cx, cy, k1])
        return make("OPENCV", [fx, fy, cx, cy, k1, k2, 0.0, 0.0])

    if ptype in _PANORAMAS:
        raise refuse("panoramas have no COLMAP pinhole-family model and 3DGS trainers need perspective "
                     "images; cut the panoramas into perspective views (OpenSfM `undistort` does) first")
    raise refuse("unknown projection type")


def normalized_to_pixels(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """OpenSfM normalized image coordinates -> COLMAP pixel coordinates.

    Parameters
    ----------
    xy : float64 [M, 2]
        Origin at the image centre, larger image side = 1.
    width, height
        Image size in pixels.

    Returns
    -------
    float64 [M, 2]
        Pixels with the top-left pixel's centre at (0.5, 0.5).
    """
    s = float(max(width, height))
    return np.asarray(xy, np.float64) * s + np.array([width / 2.0, height / 2.0])

