"""Focal safety: refined vs EXIF focal per camera, drift warnings, the release decision."""

from __future__ import annotations

import logging

import pytest

from splatkit.sfm.focal import FOCAL_DRIFT_HINTS, decide_release, focal_checks, focal_warnings


def test_checks_compare_refined_with_exif_and_flag_drift_beyond_the_threshold() -> None:
    checks = focal_checks([("drone 4000x3000", 2900.0, True, 1480.0), ("ok", 1000.0, True, 1080.0),
                           ("guessed", 1200.0, False, 600.0)], max_drift=0.15)
    assert [c.drifted for c in checks] == [True, False, False]  # a guessed focal cannot drift from EXIF
    assert checks[0].ratio == pytest.approx(1480.0 / 2900.0)
    assert checks[0].to_dict()["exif_focal_px"] == 2900.0
    assert "guessed_focal_px" in checks[2].to_dict()


def test_drift_is_a_loud_warning_with_what_to_try(caplog: pytest.LogCaptureFixture) -> None:
    checks = focal_checks([("drone", 2900.0, True, 1480.0), ("ok", 1000.0, True, 1010.0)])
    with caplog.at_level(logging.WARNING):
        warnings = focal_warnings(checks)
    assert len(warnings) == 1
    assert "FOCAL LENGTH DRIFT" in warnings[0] and "0.51x" in warnings[0]
    assert "focal_refinement='fixed'" in warnings[0]
    assert all(hint in warnings[0] for hint in FOCAL_DRIFT_HINTS)
    assert warnings[0] in caplog.text


@pytest.mark.parametrize(("ratios", "fixed", "released", "keep", "warns"), [
    ([1.049], 0.1958, 0.1958, False, False),  # measured, honest EXIF: a 5 % move for nothing
    ([1.321], 0.1979, 0.1945, False, True),   # measured, EXIF 20 % short: the fit cannot tell
    ([1.03], 0.50, 0.40, True, False),        # the lens differs from its nominal focal
    ([0.75], 2.00, 0.60, True, False),        # a wrong EXIF focal the fit does see
])
def test_release_is_kept_only_when_the_fit_demands_it(ratios: list[float], fixed: float, released: float,
                                                       keep: bool, warns: bool) -> None:
    decision = decide_release(ratios, fixed, released, max_drift=0.15, min_gain=0.05)
    assert decision.keep_released is keep
    assert decision.reason
    assert (decision.warning is not None) is warns
    if warns:
        assert "FOCAL LENGTH AMBIGUOUS" in decision.warning and "focal_refinement='free'" in decision.warning


def test_a_release_that_fits_the_gps_much_better_is_kept() -> None:
    # A street sequence with a wrong EXIF focal: reprojection hardly changes, the GPS fit does.
    decision = decide_release([0.81], 0.661, 0.654, gps_fixed_m=15.7, gps_released_m=5.0)
    assert decision.keep_released and "GPS demands" in decision.reason
    # On the nadir ambiguity the horizontal GPS fit does not move: EXIF kept.
    assert not decide_release([1.32], 0.198, 0.195, gps_fixed_m=0.9, gps_released_m=0.88).keep_released
