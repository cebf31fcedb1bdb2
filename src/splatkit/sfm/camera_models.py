"""COLMAP's camera models in numpy: project, distort, undistort, unproject.

The one implementation of the camera equations in splatkit's SfM code: both backends, the
undistortion to PINHOLE and the quality report (reprojection errors) use it. Equations and
parameter order follow COLMAP's ``src/colmap/sensor/models.h`` (parameter names as in
:data:`splatkit.contracts.CAMERA_MODELS`):

1. normalise: ``u = x / z, v = y / z`` (camera frame: x right, y down, z forward);
2. distort in normalised coordinates (:func:`distort_normalized`), per model family:

   * pinhole (``SIMPLE_PINHOLE``, ``PINHOLE``): none;
   * polynomial (``SIMPLE_RADIAL``, ``RADIAL``, ``OPENCV``, ``FULL_OPENCV``): radial
     ``1 + k1 r^2 + k2 r^4 (+ k3 r^6)``, for FULL_OPENCV divided by ``1 + k4 r^2 + k5 r^4 + k6 r^6``,
     plus OpenCV's tangential term ``(2 p1 u v + p2 (r^2 + 2u^2), 2 p2 u v + p1 (r^2 + 2v^2))``;
   * fisheye (``SIMPLE_RADIAL_FISHEYE``, ``RADIAL_FISHEYE``, ``OPENCV_FISHEYE``,
     ``THIN_PRISM_FISHEYE``): equidistant, the point is moved to radius ``theta = atan(r)``, then a
     radial polynomial in ``theta^2`` (THIN_PRISM_FISHEYE adds the tangential and thin-prism terms
     ``sx1 theta^2, sy1 theta^2`` on the moved point);
   * ``FOV`` (Devernay and Faugeras): radius scaled by ``atan(2 r tan(omega / 2)) / (omega r)``;

3. to pixels: ``px = fx * u' + cx, py = fy * v' + cy`` (COLMAP's pixel convention: the centre of
   the top-left pixel is (0.5, 0.5)).

Undistortion inverts step 2 with Newton steps, as COLMAP's ``IterativeUndistortion`` does (FOV has
a closed form, used here too). ``tests/sfm/test_camera_models.py`` checks every model against
pycolmap to 1e-6 px.
"""

from __future__ import annotations

import numpy as np

from splatkit.contracts.reconstruction import Camera
from splatkit.errors import ContractError

__all__ = [
    "SUPPORTED_MODELS",
    "PINHOLE_MODELS",
    "distort_normalized",
    "undistort_normalized",
    "img_from_cam",
    "cam_from_img",
]

PINHOLE_MODELS = frozenset({"SIMPLE_PINHOLE", "PINHOLE"})
_POLYNOMIAL_MODELS = frozenset({"SIMPLE_RADIAL", "RADIAL", "OPENCV", "FULL_OPENCV"})
_FISHEYE_MODELS = frozenset({"SIMPLE_RADIAL_FISHEYE", "RADIAL_FISHEYE", "OPENCV_FISHEYE", "THIN_PRISM_FISHEYE"})
#: Every model implemented here (all of :data:`splatkit.contracts.CAMERA_MODELS`).
SUPPORTED_MODELS = PINHOLE_MODELS | _POLYNOMIAL_MODELS | _FISHEYE_MODELS | {"FOV"}

# Below this, a radius is treated as zero (COLMAP: std::numeric_limits<double>::epsilon()).
_EPS = np.finfo(np.float64).eps


def _params(camera: Camera) -> dict[str, float]:
    """Parameter name -> value; ``k`` (one-coefficient models) is also available as ``k1``."""
    if camera.model not in SUPPORTED_MODELS:
        raise ContractError(f"camera model {camera.model} has no implementation; supported: "
                            f"{sorted(SUPPORTED_MODELS)}", field="Camera.model", actual=camera.model)
    p = {n: float(v) for n, v in zip(camera.param_names, camera.params)}
    if "k" in p:
        p["k1"] = p["k"]
    return p


def _radial_polynomial(r2: np.ndarray, coefficients: list[float]) -> np.ndarray:
    """``1 + c1 r2 + c2 r2^2 + ...`` (Horner), float64 like ``r2``."""
    out = np.zeros_like(r2)
    for c in reversed(coefficients):
        out = (out + c) * r2
    return 1.0 + out


def _tangential(u: np.ndarray, v: np.ndarray, r2: np.ndarray, p1: float, p2: float) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's decentering term (COLMAP OPENCV, FULL_OPENCV, THIN_PRISM_FISHEYE)."""
    uv = u * v
    return 2.0 * p1 * uv + p2 * (r2 + 2.0 * u * u), 2.0 * p2 * uv + p1 * (r2 + 2.0 * v * v)


def distort_normalized(camera: Camera, uv: np.ndarray) -> np.ndarray:
    """Apply ``camera``'s lens distortion to normalised coordinates.

    Parameters
    ----------
    camera : Camera
        Any model of :data:`SUPPORTED_MODELS`.
    uv : float64 [N, 2]
        Undistorted normalised coordinates ``(x / z, y / z)``.

    Returns
    -------
    float64 [N, 2]
        Distorted normalised coordinates (multiply by the focal and add the principal point for
        pixels). NaN inputs stay NaN.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    p = _params(camera)
    model = camera.model
    u, v = uv[:, 0], uv[:, 1]
    if model in PINHOLE_MODELS:
        return uv.copy()
    if model in _POLYNOMIAL_MODELS:
        r2 = u * u + v * v
        ks = [p["k1"], p.get("k2", 0.0)] + ([p["k3"]] if model == "FULL_OPENCV" else [])
        radial = _radial_polynomial(r2, ks)
        if model == "FULL_OPENCV":
            radial = radial / _radial_polynomial(r2, [p["k4"], p["k5"], p["k6"]])
        du, dv = _tangential(u, v, r2, p.get("p1", 0.0), p.get("p2", 0.0))
        return np.stack([u * radial + du, v * radial + dv], axis=1)
    r = np.hypot(u, v)
    if model == "FOV":
        omega = p["omega"]
        with np.errstate(divide="ignore", invalid="ignore"):
            if abs(omega) < 1e-8:
                factor = np.ones_like(r)  # omega -> 0: no distortion
            else:
                # Limit r -> 0 of atan(2 r tan(w/2)) / (w r) is 2 tan(w/2) / w.
                factor = np.where(r > _EPS, np.arctan(2.0 * r * np.tan(omega / 2.0)) / (omega * r),
                                  2.0 * np.tan(omega / 2.0) / omega)
        return np.stack([u * factor, v * factor], axis=1)
    # Fisheye family: move the point to radius theta = atan(r) (equidistant projection).
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(r > _EPS, np.arctan(r) / r, 1.0)
    u, v = u * scale, v * scale
    t2 = u * u + v * v
    ks = {"SIMPLE_RADIAL_FISHEYE": ["k1"], "RADIAL_FISHEYE": ["k1", "k2"],
          "OPENCV_FISHEYE": ["k1", "k2", "k3", "k4"], "THIN_PRISM_FISHEYE": ["k1", "k2", "k3", "k4"]}[model]
    radial = _radial_polynomial(t2, [p[k] for k in ks])
    ud, vd = u * radial, v * radial
    if model == "THIN_PRISM_FISHEYE":
        du, dv = _tangential(u, v, t2, p["p1"], p["p2"])
        ud, vd = ud + du + p["sx1"] * t2, vd + dv + p["sy1"] * t2
    return np.stack([ud, vd], axis=1)


def undistort_normalized(camera: Camera, uv_distorted: np.ndarray, *, iterations: int = 100) -> np.ndarray:
    """Invert :func:`distort_normalized`.

    Parameters
    ----------
    camera : Camera
        Any model of :data:`SUPPORTED_MODELS`.
    uv_distorted : float64 [N, 2]
        Distorted normalised coordinates.
    iterations : int
        Newton steps at most (they stop once every step is below 1e-12).

    Returns
    -------
    float64 [N, 2]
        Undistorted normalised coordinates; a ray through the pixel is ``[u, v, 1]``.
    """
    target = np.asarray(uv_distorted, dtype=np.float64).reshape(-1, 2)
    p = _params(camera)
    if camera.model in PINHOLE_MODELS:
        return target.copy()
    if camera.model == "FOV" and abs(p["omega"]) >= 1e-8:
        # Closed form (COLMAP FOVCameraModel::Undistortion): r = tan(rd w) / (2 tan(w/2)).
        omega = p["omega"]
        rd = np.hypot(target[:, 0], target[:, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(rd > _EPS, np.tan(rd * omega) / (2.0 * rd * np.tan(omega / 2.0)),
                              omega / (2.0 * np.tan(omega / 2.0)))
        return target * factor[:, None]
    # Newton with a central-difference 2x2 Jacobian (COLMAP's IterativeUndistortion does the same).
    x = target.copy()
    h = 1e-9
    dx, dy = np.array([h, 0.0]), np.array([0.0, h])
    for _ in range(iterations):
        f = distort_normalized(camera, x) - target
        jx = (distort_normalized(camera, x + dx) - distort_normalized(camera, x - dx)) / (2 * h)
        jy = (distort_normalized(camera, x + dy) - distort_normalized(camera, x - dy)) / (2 * h)
        a, b, c, d = jx[:, 0], jy[:, 0], jx[:, 1], jy[:, 1]
        det = a * d - b * c
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        step = np.stack([(d * f[:, 0] - b * f[:, 1]) / det, (-c * f[:, 0] + a * f[:, 1]) / det], axis=1)
        x = x - step
        if np.abs(step).max(initial=0.0) < 1e-12:
            break
    return x


def img_from_cam(camera: Camera, xyz_cam: np.ndarray) -> np.ndarray:
    """Project camera-frame points to pixels.

    Parameters
    ----------
    camera : Camera
        Any model of :data:`SUPPORTED_MODELS`.
    xyz_cam : float64 [N, 3]
        Points in the camera frame (x right, y down, z forward).

    Returns
    -------
    float64 [N, 2]
        Pixel coordinates (top-left pixel centre at (0.5, 0.5)); NaN for points not in front of
        the camera (``z <= eps``), like COLMAP's cheirality check.
    """
    xyz = np.asarray(xyz_cam, dtype=np.float64).reshape(-1, 3)
    z = xyz[:, 2]
    front = z > _EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.where(front[:, None], xyz[:, :2] / z[:, None], np.nan)
    d = distort_normalized(camera, uv)
    fx, fy = camera.focal_xy()
    cx, cy = camera.principal_point()
    return np.stack([fx * d[:, 0] + cx, fy * d[:, 1] + cy], axis=1)


def cam_from_img(camera: Camera, xy: np.ndarray) -> np.ndarray:
    """Unproject pixels to undistorted normalised coordinates.

    Parameters
    ----------
    camera : Camera
        Any model of :data:`SUPPORTED_MODELS`.
    xy : float64 [N, 2]
        Pixel coordinates.

    Returns
    -------
    float64 [N, 2]
        ``(u, v)`` with the ray ``[u, v, 1]`` in the camera frame.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    fx, fy = camera.focal_xy()
    cx, cy = camera.principal_point()
    uv_d = np.stack([(xy[:, 0] - cx) / fx, (xy[:, 1] - cy) / fy], axis=1)
    return undistort_normalized(camera, uv_d)

