"""Mapper choice from the survey."""

from __future__ import annotations

import pytest

from splatkit.errors import ContractError
from splatkit.sfm.mappers import choose_mapper
from splatkit.sfm.pycolmap_backend import PycolmapConfig


def test_auto_picks_by_image_count_and_gps() -> None:
    assert choose_mapper(30, True, "auto")[0] == "incremental"
    assert choose_mapper(300, True, "auto")[0] == "global"
    assert choose_mapper(150, False, "auto")[0] == "incremental"  # no GPS: incremental for longer
    assert choose_mapper(300, False, "auto")[0] == "global"
    assert choose_mapper(5000, True, "auto")[0] == "hierarchical"
    assert choose_mapper(300, True, "auto", incremental_max_images=400)[0] == "incremental"
    assert choose_mapper(10, True, "global") == ("global", "asked for")


def test_config_validates_the_new_choices() -> None:
    config = PycolmapConfig(mapper="global", focal_refinement="fixed", gps_std_vertical_m=20.0)
    assert config.mapper == "global"
    with pytest.raises(ContractError, match="mapper"):
        PycolmapConfig(mapper="fast")
    with pytest.raises(ContractError, match="focal_refinement"):
        PycolmapConfig(focal_refinement="sometimes")
    with pytest.raises(ContractError, match="gps_std"):
        PycolmapConfig(gps_std_horizontal_m=0.0)
