"""Synthetic drone surveys of any size: the demo scene seen by a nadir lawnmower grid with GPS.

The SfM benchmark and tests need surveys of 100 or 300 photos whose poses are known exactly.
:func:`survey_config` lays a grid of about ``n_photos`` straight-down views over the painted
part of the demo scene (a 90 m x 70 m area, flown at 40 m: ~75-90 % forward and side overlap),
with no orbit, and :func:`splatkit.demo.generate_demo_photos` renders it (ground truth beside the
photos, as for the demo).
"""

from __future__ import annotations

import math
from typing import Any

from splatkit.demo.generate import DemoConfig
from splatkit.errors import ContractError

__all__ = ["SURVEY_AREA_M", "SURVEY_HEIGHT_M", "survey_config"]

#: East-west and north-south extent of the camera grid (metres): the cameras' footprints then stay
#: within the painted texture (radius 75 m); beyond it the ground is a plain meadow.
SURVEY_AREA_M = (90.0, 70.0)
#: Flying height above the ENU origin (metres); the tallest building is 12 m.
SURVEY_HEIGHT_M = 40.0


def survey_config(n_photos: int, **overrides: Any) -> DemoConfig:
    """A :class:`DemoConfig` for a nadir grid survey of about ``n_photos`` photos (no orbit).

    The grid has ``columns x rows >= n_photos`` with columns/rows close to the area's aspect,
    exactly ``n_photos`` when it factors well (100 -> 10 x 10, 300 -> 20 x 15), else up to one
    lane more.
    Photos are rendered without supersampling (a 300-photo survey then takes minutes, not tens
    of minutes, on 2 cores) and the GPS carries 1 m horizontal / 3 m vertical noise, like a
    consumer drone's.

    Parameters
    ----------
    n_photos : int
        Photos wanted, at least 4.
    **overrides
        Any other :class:`DemoConfig` field (e.g. ``gps=False``, ``exif_focal_scale=0.8``).

    Raises
    ------
    ContractError
        ``n_photos < 4``.
    """
    if n_photos < 4:
        raise ContractError(f"survey_config: a grid survey needs at least 4 photos, got {n_photos}",
                            field="n_photos", actual=n_photos)
    width_m, height_m = SURVEY_AREA_M
    ideal = math.sqrt(n_photos * width_m / height_m)
    # An exact count when a divisor of n_photos is close to the ideal column count.
    exact = [c for c in range(max(2, math.floor(0.75 * ideal)), math.ceil(1.3 * ideal) + 1)
             if n_photos % c == 0 and n_photos // c >= 2]
    columns = min(exact, key=lambda c: abs(c - ideal)) if exact else max(2, math.ceil(ideal))
    rows = max(2, math.ceil(n_photos / columns))
    fields: dict[str, Any] = {
        "n_orbit": 0,
        "grid_columns": columns,
        "grid_rows": rows,
        "grid_spacing_x_m": width_m / (columns - 1),
        "grid_spacing_y_m": height_m / (rows - 1),
        "nadir_height_m": SURVEY_HEIGHT_M,
        "supersample": 1,
        "gps_noise_m": 1.0,
        "gps_noise_vertical_m": 3.0,
    }
    fields.update(overrides)
    return DemoConfig(**fields)
