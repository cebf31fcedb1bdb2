"""Synthetic grid surveys: sizes, GPS noise, wrong EXIF focal, no GPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatkit.contracts import Georeference
from splatkit.demo import demo_ground_truth, generate_demo_photos
from splatkit.demo.survey import survey_config
from splatkit.errors import ContractError
from splatkit.io.images import read_image_set
from splatkit.sfm.georeference import lla_to_enu


@pytest.mark.parametrize(("n", "grid"), [(100, (10, 10)), (300, (20, 15)), (97, (12, 9))])
def test_survey_sizes(n: int, grid: tuple[int, int]) -> None:
    config = survey_config(n)
    assert (config.grid_columns, config.grid_rows) == grid
    assert config.n_orbit == 0 and config.grid_columns * config.grid_rows >= n


def test_too_small_a_survey_is_refused() -> None:
    with pytest.raises(ContractError):
        survey_config(3)


def test_gps_noise_wrong_focal_and_no_gps_reach_the_photos(tmp_path: Path) -> None:
    small = dict(width=64, height=48, grid_spacing_x_m=10.0, grid_spacing_y_m=10.0)
    noisy = survey_config(4, exif_focal_scale=0.8, **small)
    photos = generate_demo_photos(tmp_path / "a", config=noisy, max_workers=1)
    truth = demo_ground_truth(tmp_path / "a")
    images = read_image_set(photos, min_images=1)
    r = images.records[0]
    # EXIF focal is 0.8x the rendered one.
    assert r.camera.focal_px(r.width, r.height) == pytest.approx(0.8 * truth["camera"]["params"][0], rel=0.02)
    origin = Georeference(**truth["origin"])
    gps = np.array([[f["gps"]["lat"], f["gps"]["lon"], f["gps"]["alt"]] for f in truth["frames"]])
    offset = lla_to_enu(gps[:, 0], gps[:, 1], gps[:, 2], origin) - np.array([f["centre_enu"] for f in truth["frames"]])
    assert 0.05 < np.abs(offset).max() < 15.0  # noisy, within a few sigma

    photos = generate_demo_photos(tmp_path / "b", config=survey_config(4, gps=False, **small), max_workers=1)
    assert all(r.gps is None for r in read_image_set(photos, min_images=1))
    assert demo_ground_truth(tmp_path / "b")["frames"][0]["gps"] is None
    assert Image.open(next(photos.iterdir())).getexif().get_ifd(0x8825) == {}
