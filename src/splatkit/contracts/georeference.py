"""Where a model's local frame sits on Earth."""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from splatkit.errors import ContractError

__all__ = ["Georeference"]


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
