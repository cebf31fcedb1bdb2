"""Typed data contracts between stages: numpy-only, frozen, validated at every boundary.

photos (:class:`ImageSet`) -> :class:`Reconstruction` -> :class:`GaussianCloud` -> :class:`CompressedBundle`.
"""

from splatkit.contracts.bundle import CompressedBundle
from splatkit.contracts.gaussians import SH_COEFFS_FOR_DEGREE, GaussianCloud, sh_degree_for_coeffs
from splatkit.contracts.georeference import Georeference
from splatkit.contracts.images import CameraHints, GpsPosition, ImageRecord, ImageSet
from splatkit.contracts.posed_images import PosedImages
from splatkit.contracts.reconstruction import (
    CAMERA_MODELS,
    DEFAULT_MIN_FRAMES,
    DEFAULT_MIN_POINTS,
    Camera,
    Frames,
    Points,
    Reconstruction,
    Tracks,
)

__all__ = [
    "CAMERA_MODELS",
    "DEFAULT_MIN_FRAMES",
    "DEFAULT_MIN_POINTS",
    "SH_COEFFS_FOR_DEGREE",
    "Camera",
    "CameraHints",
    "CompressedBundle",
    "Frames",
    "GaussianCloud",
    "Georeference",
    "GpsPosition",
    "ImageRecord",
    "ImageSet",
    "Points",
    "PosedImages",
    "Reconstruction",
    "Tracks",
    "sh_degree_for_coeffs",
]
