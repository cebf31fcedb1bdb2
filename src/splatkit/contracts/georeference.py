"""Where a model's local frame sits on Earth, and WGS84 -> local East-North-Up metres.

The geodesy lives here, beside the contract whose frame it defines, so that every layer (SfM,
the pipeline's report, the demo) converts GPS fixes the same way.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from splatkit.errors import ContractError

__all__ = ["WGS84_A", "WGS84_F", "Georeference", "lla_to_ecef", "ecef_to_enu", "lla_to_enu"]

#: WGS84 semi-major axis (m) and flattening (NIMA TR8350.2, table 3.1).
WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared


@dataclass(frozen=True, kw_only=True, slots=True)
class Georeference:
    """Origin of a local East-North-Up frame (metres) in WGS84.

    A model with a georeference has its world frame in ENU metres around this origin: x east,
    y north, z up.

    Attributes
    ----------
    lat, lon
        Degrees, WGS84.
    alt
        Metres above the WGS84 ellipsoid as EXIF reports it (usually above mean sea level).
    """

    lat: float
    lon: float
    alt: float

    def __post_init__(self) -> None:
        for name in ("lat", "lon", "alt"):
            value = getattr(self, name)
            # numbers.Real admits numpy scalars (np.float32 is not a float subclass); bool is excluded.
            if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or not math.isfinite(value):
                raise ContractError(f"Georeference.{name} must be a finite number, got {value!r}",
                                    field=f"Georeference.{name}", expected="finite float", actual=value)
            object.__setattr__(self, name, float(value))
        if not -90.0 <= self.lat <= 90.0 or not -180.0 <= self.lon <= 180.0:
            raise ContractError(
                f"Georeference: lat/lon out of range: {self.lat}, {self.lon}",
                field="Georeference", expected="lat in [-90, 90], lon in [-180, 180]",
                actual=(self.lat, self.lon),
            )

    def to_dict(self) -> dict[str, float]:
        """JSON-able form ``{"lat":, "lon":, "alt":}``."""
        return {"lat": float(self.lat), "lon": float(self.lon), "alt": float(self.alt)}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> "Georeference":
        """Inverse of :meth:`to_dict`; raises :class:`ContractError` on missing keys."""
        try:
            return cls(lat=float(data["lat"]), lon=float(data["lon"]), alt=float(data["alt"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ContractError(f"Georeference: need numeric lat, lon, alt; got {data!r}",
                                field="Georeference") from e

    def to_enu(self, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> np.ndarray:
        """WGS84 degrees/metres ``[N]`` each to ENU metres ``[N, 3]`` around this origin."""
        return lla_to_enu(lat, lon, alt, self)


def lla_to_ecef(lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> np.ndarray:
    """WGS84 geodetic coordinates to Earth-centred, Earth-fixed metres.

    Parameters
    ----------
    lat, lon : float64 [N]
        Degrees.
    alt : float64 [N]
        Metres above the ellipsoid.

    Returns
    -------
    float64 [N, 3]
        ECEF x, y, z in metres.
    """
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    h = np.asarray(alt, dtype=np.float64)
    # Prime-vertical radius of curvature N(phi) = a / sqrt(1 - e^2 sin^2 phi).
    n = WGS84_A / np.sqrt(1.0 - _WGS84_E2 * np.sin(phi) ** 2)
    x = (n + h) * np.cos(phi) * np.cos(lam)
    y = (n + h) * np.cos(phi) * np.sin(lam)
    z = (n * (1.0 - _WGS84_E2) + h) * np.sin(phi)
    return np.stack([x, y, z], axis=-1)


def _enu_from_ecef_rotation(lat0: float, lon0: float) -> np.ndarray:
    """Rows are the east, north and up unit vectors at (lat0, lon0), in ECEF, float64 [3, 3]."""
    phi, lam = np.radians(lat0), np.radians(lon0)
    sp, cp, sl, cl = np.sin(phi), np.cos(phi), np.sin(lam), np.cos(lam)
    return np.array([
        [-sl, cl, 0.0],
        [-sp * cl, -sp * sl, cp],
        [cp * cl, cp * sl, sp],
    ])


def ecef_to_enu(ecef: np.ndarray, ref: Georeference) -> np.ndarray:
    """ECEF metres ``[N, 3]`` to East-North-Up metres ``[N, 3]`` around ``ref``."""
    origin = lla_to_ecef(np.array([ref.lat]), np.array([ref.lon]), np.array([ref.alt]))[0]
    return (np.asarray(ecef, dtype=np.float64) - origin) @ _enu_from_ecef_rotation(ref.lat, ref.lon).T


def lla_to_enu(lat: np.ndarray, lon: np.ndarray, alt: np.ndarray, ref: Georeference) -> np.ndarray:
    """WGS84 degrees/metres ``[N]`` each to ENU metres ``[N, 3]`` around ``ref``."""
    return ecef_to_enu(lla_to_ecef(lat, lon, alt), ref)
