"""The demo flight plan: an orbit of oblique views and a nadir lawnmower grid, with GPS positions.

Conventions: world frame is local ENU metres (x east, y north, z up) around a fixed WGS84 origin;
poses are ``cam_from_world`` (``x_cam = R X + t``) with OpenCV camera axes (x right, y down,
z forward), as everywhere in splatkit. The camera is a centred pinhole whose focal length is
given as a 35 mm equivalent, ``f_px = f_35 / 36 * max(width, height)`` -- the same formula
:meth:`splatkit.contracts.CameraHints.focal_px` reads back from EXIF, so the EXIF hint is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splatkit.contracts.georeference import WGS84_A, WGS84_F, lla_to_ecef

__all__ = ["Intrinsics", "Shot", "camera_rotation", "orbit_shots", "nadir_grid_shots", "enu_to_lla"]

_WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


@dataclass(frozen=True)
class Intrinsics:
    """A centred pinhole camera in pixels (COLMAP ``PINHOLE``: fx, fy, cx, cy)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_35mm(cls, width: int, height: int, focal_35mm: float) -> "Intrinsics":
        """Square pixels, principal point at the image centre, focal from the 35 mm equivalent."""
        f = focal_35mm / 36.0 * max(width, height)
        return cls(width=width, height=height, fx=f, fy=f, cx=width / 2.0, cy=height / 2.0)


@dataclass(frozen=True, eq=False)
class Shot:
    """One photo of the flight.

    Attributes
    ----------
    kind : {"orbit", "nadir"}
    centre : float64 [3]
        Camera centre, ENU metres.
    rotation : float64 [3, 3]
        ``cam_from_world`` rotation.
    """

    kind: str
    centre: np.ndarray
    rotation: np.ndarray

    @property
    def translation(self) -> np.ndarray:
        """``cam_from_world`` translation ``t = -R c``, float64 [3]."""
        return -self.rotation @ self.centre


def camera_rotation(heading_deg: float, pitch_deg: float) -> np.ndarray:
    """``cam_from_world`` rotation of a camera with no roll.

    Parameters
    ----------
    heading_deg
        Compass direction the camera faces, degrees clockwise from north (for a nadir camera: the
        direction the top of the image points to).
    pitch_deg
        Degrees below the horizon: 0 looks at the horizon, 90 straight down.

    Returns
    -------
    float64 [3, 3]
        Rows are the camera's x (right), y (down), z (forward) axes in ENU.
    """
    h, p = np.radians(heading_deg), np.radians(pitch_deg)
    forward = np.array([np.cos(p) * np.sin(h), np.cos(p) * np.cos(h), -np.sin(p)])
    down = -np.array([np.sin(p) * np.sin(h), np.sin(p) * np.cos(h), np.cos(p)])
    right = np.cross(down, forward)  # right-handed: x = y cross z
    return np.stack([right, down, forward])


def orbit_shots(n: int, *, radius_m: float, height_m: float, target: np.ndarray, rng: np.random.Generator,
                jitter_deg: float = 1.5) -> list[Shot]:
    """``n`` views evenly spaced on a circle, each aimed at ``target`` (with a small random jitter).

    Parameters
    ----------
    radius_m, height_m
        Circle radius around the origin and altitude above z = 0.
    target : float64 [3]
        Point the cameras look at.
    jitter_deg
        Uniform random error added to heading and pitch, as a hand-flown orbit would have.
    """
    shots = []
    for k in range(n):
        azimuth = 2.0 * np.pi * k / n  # clockwise from north, starting north of the target
        centre = np.array([radius_m * np.sin(azimuth), radius_m * np.cos(azimuth), height_m])
        to_target = target - centre
        heading = np.degrees(np.arctan2(to_target[0], to_target[1]))
        pitch = np.degrees(np.arctan2(-to_target[2], np.hypot(to_target[0], to_target[1])))
        heading += rng.uniform(-jitter_deg, jitter_deg)
        pitch += rng.uniform(-jitter_deg, jitter_deg)
        shots.append(Shot(kind="orbit", centre=centre, rotation=camera_rotation(heading, pitch)))
    return shots


def nadir_grid_shots(columns: int, rows: int, *, spacing_x_m: float, spacing_y_m: float, height_m: float,
                     rng: np.random.Generator, jitter_deg: float = 2.0, jitter_m: float = 0.8) -> list[Shot]:
    """A lawnmower (serpentine) grid of straight-down views, image top to the north.

    Lanes run east-west, south to north, alternating direction, as a survey app flies them.

    Parameters
    ----------
    columns, rows
        Shots per lane and number of lanes.
    spacing_x_m, spacing_y_m
        Distance between shots along a lane and between lanes.
    height_m
        Altitude above z = 0.
    jitter_deg, jitter_m
        Uniform random error on heading/tilt and on position (wind, GPS-guided autopilot).
    """
    xs = (np.arange(columns) - (columns - 1) / 2.0) * spacing_x_m
    ys = (np.arange(rows) - (rows - 1) / 2.0) * spacing_y_m
    shots = []
    for lane, y in enumerate(ys):
        for x in xs if lane % 2 == 0 else xs[::-1]:
            centre = np.array([x, y, height_m]) + rng.uniform(-jitter_m, jitter_m, size=3)
            heading = rng.uniform(-jitter_deg, jitter_deg)
            pitch = 90.0 - rng.uniform(0.0, jitter_deg)
            shots.append(Shot(kind="nadir", centre=centre, rotation=camera_rotation(heading, pitch)))
    return shots


def enu_to_lla(enu: np.ndarray, lat0: float, lon0: float, alt0: float) -> np.ndarray:
    """Local ENU metres around ``(lat0, lon0, alt0)`` to WGS84 latitude, longitude, altitude.

    The inverse of :func:`splatkit.sfm.georeference.lla_to_enu`: ENU -> ECEF by the rotation at
    the origin, ECEF -> geodetic by Bowring's fixed-point iteration on the latitude (converges to
    well below a millimetre in five steps at drone altitudes).

    Parameters
    ----------
    enu : float64 [N, 3]
    lat0, lon0 : float
        Degrees.
    alt0 : float
        Metres.

    Returns
    -------
    float64 [N, 3]
        Latitude and longitude in degrees, altitude in metres.
    """
    enu = np.asarray(enu, dtype=np.float64).reshape(-1, 3)
    phi, lam = np.radians(lat0), np.radians(lon0)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    # Columns of R_ecef_from_enu are the east, north, up unit vectors at the origin.
    ecef_from_enu = np.array([[-sl, -sp * cl, cp * cl],
                              [cl, -sp * sl, cp * sl],
                              [0.0, cp, sp]])
    ecef = lla_to_ecef(np.array([lat0]), np.array([lon0]), np.array([alt0]))[0] + enu @ ecef_from_enu.T
    x, y, z = ecef[:, 0], ecef[:, 1], ecef[:, 2]
    lon = np.arctan2(y, x)
    r = np.hypot(x, y)
    lat = np.arctan2(z, r * (1.0 - _WGS84_E2))
    for _ in range(5):
        n = WGS84_A / np.sqrt(1.0 - _WGS84_E2 * np.sin(lat) ** 2)
        alt = r / np.cos(lat) - n
        lat = np.arctan2(z, r * (1.0 - _WGS84_E2 * n / (n + alt)))
    n = WGS84_A / np.sqrt(1.0 - _WGS84_E2 * np.sin(lat) ** 2)
    alt = r / np.cos(lat) - n
    return np.column_stack([np.degrees(lat), np.degrees(lon), alt])
