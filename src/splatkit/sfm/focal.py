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
    bundle adjustment and keep the released focal only when the fit demands it: the mean
    reprojection error drops by ``min_gain`` or more against the same adjustment with the focal
    held (the EXIF value is wrong, e.g. a 35 mm equivalent written for a cropped image).
    Otherwise the EXIF focal stays, and a release that wanted to move it beyond ``max_drift``
    is a warning of its own (the EXIF focal may be wrong and the photos cannot tell).

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
    warning : str or None
        Set when the released focal moved beyond ``max_drift`` but was not kept: the EXIF focal
        may be wrong and the fit cannot tell (a loud warning, with what to try).
    """

    keep_released: bool
    reason: str
    warning: str | None = None


def decide_release(ratios: Sequence[float], error_fixed_px: float, error_released_px: float, *,
                   max_drift: float = DEFAULT_MAX_DRIFT, min_gain: float = 0.05,
                   gps_fixed_m: float | None = None, gps_released_m: float | None = None,
                   min_gps_gain: float = 0.2) -> ReleaseDecision:
    """Keep the released focal lengths, or go back to the EXIF ones?

    The released focal is kept only when the fit demands it: the mean reprojection error drops by
    ``min_gain`` or more against the same adjustment with the focal held. On a nadir grid the
    focal can move 5 % (honest EXIF) or 32 % (EXIF 20 % short) for 0.01 % and 2 % lower error:
    that is the ambiguity, not information, and the EXIF focal is the safer value.

    Parameters
    ----------
    ratios : sequence of float
        Released / EXIF focal per camera.
    error_fixed_px, error_released_px : float
        Mean reprojection error of the same bundle adjustment with the focal held at EXIF and
        released.
    max_drift : float
        A release that moves further than this and is not kept is a warning.
    min_gain : float
        Fraction by which releasing must lower the mean reprojection error to be kept.
    gps_fixed_m, gps_released_m : float, optional
        Median horizontal distance between camera centres and GPS priors in both adjustments.
        GPS is independent evidence: where a wrong focal bends the camera path (a street
        sequence), the released focal fits the GPS better; on the flat-nadir ambiguity it does not
        (moving cameras up or down together leaves their horizontal positions alone).
    min_gps_gain : float
        Fraction by which releasing must lower that GPS residual to be kept on that ground.
    """
    worst = max((abs(r - 1.0) for r in ratios), default=0.0)
    gain = 1.0 - error_released_px / error_fixed_px if error_fixed_px > 0 else 0.0
    errors = f"mean reprojection error {error_fixed_px:.3f} -> {error_released_px:.3f} px"
    if gain >= min_gain:
        return ReleaseDecision(True, f"the fit demands the released focal ({worst:.1%} from EXIF): {errors} "
                                     f"({gain:.1%} lower, threshold {min_gain:.0%})")
    if gps_fixed_m is not None and gps_released_m is not None and gps_fixed_m > 0:
        gps_gain = 1.0 - gps_released_m / gps_fixed_m
        if gps_gain >= min_gps_gain:
            return ReleaseDecision(True, f"the GPS demands the released focal ({worst:.1%} from EXIF): median "
                                         f"horizontal GPS residual {gps_fixed_m:.2f} -> {gps_released_m:.2f} m "
                                         f"({gps_gain:.0%} lower, threshold {min_gps_gain:.0%}); {errors}")
    reason = (f"released focal would move {worst:.1%} from EXIF for only {gain:.1%} lower error ({errors}, "
              f"threshold {min_gain:.0%}): the EXIF focal is kept")
    warning = None
    if worst > max_drift:
        warning = (f"FOCAL LENGTH AMBIGUOUS: releasing the focal length in bundle adjustment moves it {worst:.0%} "
                   f"from EXIF (ratio {max(ratios, key=lambda r: abs(r - 1.0)):.2f}) for only {gain:.1%} lower "
                   "reprojection error; the EXIF focal was kept. If the EXIF focal is wrong the model is wrong "
                   "too. Try: " + "; ".join((
                       "check the EXIF focal length and sensor width against the camera's specification",
                       "if the EXIF value is wrong, run with focal_refinement='free'",
                       "add oblique photos or a second flight height to make the focal observable")))
        logger.warning(warning)
    return ReleaseDecision(False, reason, warning)
