"""Focal safety: keep bundle adjustment from trading focal length for flying height.

On a nadir survey of near-flat ground, scaling the focal length and the height above ground by
the same factor leaves every image almost unchanged (the focal/altitude ambiguity), so a freely
refined focal can wander far from the truth while the reprojection error stays low: a held-out
DJI survey came back at 0.51x its EXIF focal with a 1.36 px error and nothing flagged it, and
training then fit a 121 degree field of view. GPS does not help: shifting every camera up or
down together moves the ground with them.

The policy (``focal_refinement``):

``fixed``
    Focal lengths stay at their EXIF value (principal points are never refined).
``free``
    COLMAP refines them from the start, as before.
``auto``
    When every camera's focal comes from EXIF, map with it fixed, then *release* it in one last
    bundle adjustment and keep the released focal when it stays within ``max_drift`` of EXIF
    (real lenses differ from their nominal focal by a few percent), or when it moves further but
    the fit demands it (mean reprojection error down by ``min_gain`` or more: the EXIF value is
    wrong, e.g. a 35 mm equivalent written for a cropped image). Otherwise the EXIF focal stays.

Whatever the policy, :func:`focal_checks` compares every camera's final focal with its EXIF
prior, and a ratio beyond ``max_drift`` is a warning in the log and the report, with what to try
(:data:`FOCAL_DRIFT_HINTS`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FOCAL_POLICIES",
    "DEFAULT_MAX_DRIFT",
    "FOCAL_DRIFT_HINTS",
    "FocalCheck",
    "ReleaseDecision",
    "decide_release",
    "focal_checks",
    "focal_warnings",
]

logger = logging.getLogger(__name__)

FOCAL_POLICIES = ("auto", "fixed", "free")
#: Relative focal change beyond which the refined focal is called a drift (the issue's 15 %).
DEFAULT_MAX_DRIFT = 0.15
#: What a user can do about a drifted focal length.
FOCAL_DRIFT_HINTS: tuple[str, ...] = (
    "if the EXIF focal length is right, run with focal_refinement='fixed' to keep it",
    "add oblique photos (gimbal pitch -45 to -70 deg) or a second flight height: they break the "
    "focal/altitude ambiguity of flat nadir surveys",
    "check the EXIF focal length and sensor width (a resized or cropped photo keeps its original "
    "35 mm equivalent)",
)


@dataclass(frozen=True)
class FocalCheck:
    """One camera's final focal length against its EXIF prior.

    Attributes
    ----------
    label : str
        The camera (make model, focal mm, size).
    prior_px : float
        Focal length the mapping started from (EXIF, or the 1.2 x image-size guess).
    prior_from_exif : bool
    refined_px : float
        Final focal length (mean of fx and fy for two-focal models).
    ratio : float
        ``refined_px / prior_px``.
    drifted : bool
        EXIF prior and ``|ratio - 1| > max_drift``.
    """

    label: str
    prior_px: float
    prior_from_exif: bool
    refined_px: float
    ratio: float
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        return {"camera": self.label, "exif_focal_px" if self.prior_from_exif else "guessed_focal_px": self.prior_px,
                "refined_focal_px": self.refined_px, "ratio": self.ratio, "drifted": self.drifted}


def focal_checks(cameras: Sequence[tuple[str, float, bool, float]], *,
                 max_drift: float = DEFAULT_MAX_DRIFT) -> list[FocalCheck]:
    """Compare refined and prior focal lengths.

    Parameters
    ----------
    cameras : sequence of (label, prior_px, prior_from_exif, refined_px)
        One entry per camera of the model.
    max_drift : float
        Relative change beyond which an EXIF focal counts as drifted.
    """
    out = []
    for label, prior, from_exif, refined in cameras:
        ratio = float(refined) / float(prior) if prior > 0 else float("nan")
        out.append(FocalCheck(label=label, prior_px=float(prior), prior_from_exif=bool(from_exif),
                              refined_px=float(refined), ratio=ratio,
                              drifted=bool(from_exif) and not abs(ratio - 1.0) <= max_drift))
    return out


def focal_warnings(checks: Sequence[FocalCheck], *, max_drift: float = DEFAULT_MAX_DRIFT,
                   log: logging.Logger = logger) -> list[str]:
    """Loud warnings for drifted cameras (logged at WARNING, returned for the report)."""
    warnings = []
    for c in checks:
        if not c.drifted:
            continue
        msg = (f"FOCAL LENGTH DRIFT: camera {c.label}: bundle adjustment moved the focal length from the "
               f"EXIF {c.prior_px:.0f} px to {c.refined_px:.0f} px ({c.ratio:.2f}x, more than "
               f"{max_drift:.0%} off). On nadir surveys of flat ground this is usually the focal/altitude "
               "ambiguity, and the undistorted images then claim a wrong field of view. Try: "
               + "; ".join(FOCAL_DRIFT_HINTS))
        log.warning(msg)
        warnings.append(msg)
    return warnings


@dataclass(frozen=True)
class ReleaseDecision:
    """Whether the focal released in the last bundle adjustment is kept.

    Attributes
    ----------
    keep_released : bool
    reason : str
    """

    keep_released: bool
    reason: str


def decide_release(ratios: Sequence[float], error_fixed_px: float, error_released_px: float, *,
                   max_drift: float = DEFAULT_MAX_DRIFT, min_gain: float = 0.2) -> ReleaseDecision:
    """Keep the released focal lengths, or go back to the EXIF ones?

    Parameters
    ----------
    ratios : sequence of float
        Released / EXIF focal per camera.
    error_fixed_px, error_released_px : float
        Mean reprojection error with the focal fixed at EXIF and after releasing it.
    max_drift : float
        Released focals within this relative change of EXIF are kept (ordinary calibration).
    min_gain : float
        Beyond ``max_drift``, the released focals are kept only when they lower the mean
        reprojection error by at least this fraction: the fit demands it.
    """
    worst = max((abs(r - 1.0) for r in ratios), default=0.0)
    if worst <= max_drift:
        return ReleaseDecision(True, f"released focal within {max_drift:.0%} of EXIF (largest change {worst:.1%})")
    gain = 1.0 - error_released_px / error_fixed_px if error_fixed_px > 0 else 0.0
    if gain >= min_gain:
        return ReleaseDecision(True, f"released focal moved {worst:.0%} from EXIF and the fit demands it: mean "
                                     f"reprojection error {error_fixed_px:.3f} -> {error_released_px:.3f} px "
                                     f"({gain:.0%} lower, threshold {min_gain:.0%})")
    return ReleaseDecision(False, f"released focal would move {worst:.0%} from EXIF for only {gain:.0%} lower "
                                  f"reprojection error ({error_fixed_px:.3f} -> {error_released_px:.3f} px): the "
                                  "EXIF focal is kept (focal/altitude ambiguity)")
