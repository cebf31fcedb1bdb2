"""Features for the pycolmap backend: camera groups, SIFT extraction and matching.

photos (:class:`~splatkit.contracts.ImageSet`) -> :func:`group_cameras` (one COLMAP camera per
device, with its EXIF focal as a prior) -> :func:`extract_features` (SIFT on every core, into
COLMAP's database) -> :func:`match_features` (exhaustive, GPS neighbours or sequential pairs).

pycolmap is passed in by the caller (imported inside the stage's ``run`` only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splatkit.contracts import ImageRecord, ImageSet
from splatkit.errors import InputError
from splatkit.sfm.pose_priors import GpsPriors, spatial_pairing, write_pose_priors

__all__ = ["GUESSED_FOCAL_FACTOR", "CameraGroup", "group_cameras", "initial_params", "extract_features",
           "match_features", "sift_first_octave"]

#: Focal guess when EXIF says nothing: COLMAP's ``default_focal_length_factor``.
GUESSED_FOCAL_FACTOR = 1.2


@dataclass(frozen=True)
class CameraGroup:
    """Images that share one camera, and the focal prior they start from.

    Attributes
    ----------
    names : tuple[str, ...]
    width, height : int
    focal_px : float
        EXIF focal in pixels, or the guess ``1.2 * max(w, h)``.
    focal_from_exif : bool
    label : str
        Human description (make model, focal, size) for the report.
    """

    names: tuple[str, ...]
    width: int
    height: int
    focal_px: float
    focal_from_exif: bool
    label: str


def group_cameras(image_set: ImageSet, mode: str) -> list[CameraGroup]:
    """Split the photos into cameras.

    ``per_device``: one camera per (make, model, focal mm, width, height) -- photos with no EXIF
    group by image size alone. ``single``: one camera (all photos must share a size).
    ``per_image``: one camera per photo.

    Raises
    ------
    InputError
        ``single`` with photos of different sizes.
    """
    def key(r: ImageRecord) -> tuple[Any, ...]:
        if mode == "per_image":
            return (r.name,)
        if mode == "single":
            return ()
        return (*r.camera.device_key(), r.width, r.height)

    groups: dict[tuple[Any, ...], list[ImageRecord]] = {}
    for r in image_set:
        groups.setdefault(key(r), []).append(r)
    out = []
    for recs in groups.values():
        sizes = {(r.width, r.height) for r in recs}
        if len(sizes) > 1:
            raise InputError(f"camera_mode='single' needs photos of one size; found {sorted(sizes)[:4]}: use "
                             "camera_mode='per_device'", path=image_set.source or image_set.root)
        first = recs[0]
        focals = [r.camera.focal_px(r.width, r.height) for r in recs]
        known = [f for f in focals if f]
        focal = sum(known) / len(known) if known else GUESSED_FOCAL_FACTOR * max(first.width, first.height)
        cam = first.camera
        make_model = " ".join(x for x in (cam.make, cam.model) if x) or "unknown camera"
        mm = f" {cam.focal_length_mm:g} mm" if cam.focal_length_mm else ""
        out.append(CameraGroup(names=tuple(r.name for r in recs), width=first.width, height=first.height,
                               focal_px=float(focal), focal_from_exif=bool(known),
                               label=f"{make_model}{mm} {first.width}x{first.height}"))
    return out


def initial_params(model: str, group: CameraGroup) -> str:
    """COLMAP parameter string for ``model`` with the focal prior and a centred principal point."""
    f, cx, cy = group.focal_px, group.width / 2.0, group.height / 2.0
    from splatkit.contracts import CAMERA_MODELS

    values = []
    for name in CAMERA_MODELS[model][1]:
        values.append({"f": f, "fx": f, "fy": f, "cx": cx, "cy": cy}.get(name, 0.0))
    return ",".join(repr(float(v)) for v in values)


def extract_features(pycolmap: Any, database: Path, image_dir: Path, groups: list[CameraGroup], *,
                     camera_model: str, max_image_size: int, max_num_features: int, threads: int) -> None:
    """SIFT features of every photo into ``database``, one COLMAP camera per group.

    Parameters
    ----------
    database : Path
        COLMAP database (created when missing).
    image_dir : Path
        Folder holding the photos under their :class:`CameraGroup` names.
    camera_model : str
        COLMAP camera model of every camera.
    max_image_size, max_num_features : int
        Longer side the photos are read at, and the SIFT feature cap per photo.
    threads : int
        Extraction threads.
    """
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.use_gpu = False
    extraction.num_threads = threads
    extraction.max_image_size = max_image_size
    extraction.sift.max_num_features = max_num_features
    # One SINGLE-camera extraction per group: that is how COLMAP assigns our cameras, and
    # passing camera_params marks the EXIF focal as a prior (has_prior_focal_length).
    for group in groups:
        extraction.sift.first_octave = sift_first_octave(max(group.width, group.height) / max_image_size)
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = camera_model
        reader.default_focal_length_factor = GUESSED_FOCAL_FACTOR
        if group.focal_from_exif:
            reader.camera_params = initial_params(camera_model, group)
        pycolmap.extract_features(database, image_dir, image_names=list(group.names),
                                  camera_mode=pycolmap.CameraMode.SINGLE, reader_options=reader,
                                  extraction_options=extraction, device=pycolmap.Device.cpu)


#: How many times larger than ``max_image_size`` a photo must be for SIFT to skip the doubled octave.
NO_UPSAMPLING_SHRINK = 2.0


def sift_first_octave(shrink: float) -> int:
    """SIFT's first octave for photos read ``shrink`` times smaller than they are.

    COLMAP's default, -1, doubles the image to find features smaller than a pixel, and that
    octave is most of SIFT's time: 3.4 s for a 12 MP photo read at 1,600 px, 1.2 s from octave
    0, on this machine, with about half the features (so matching is faster too). A photo
    shrunk 2x or more (a drone photo read at 1,600 px) then only loses features finer than
    4 of its own pixels; caliterra-30 keeps its registration and sub-pixel error
    (docs/benchmarks.md). Photos read at or near full size (lund, fern) keep -1.
    """
    return 0 if shrink >= NO_UPSAMPLING_SHRINK else -1


def match_features(pycolmap: Any, database: Path, matcher: str, n_images: int, *, threads: int,
                   priors: GpsPriors | None, notes: list[str]) -> tuple[str, dict[str, Any]]:
    """Match the features in ``database`` with ``matcher`` (``exhaustive|spatial|sequential``).

    Returns
    -------
    (str, dict)
        The matcher used (``spatial`` falls back to ``exhaustive`` unless every photo has GPS;
        the reason is appended to ``notes``) and, for ``spatial``, how the neighbourhood was sized.
    """
    options = pycolmap.FeatureMatchingOptions()
    options.use_gpu = False
    options.num_threads = threads
    pairing_report: dict[str, Any] = {}
    if matcher == "spatial":
        if priors is None or len(priors.names) < n_images:
            have = 0 if priors is None else len(priors.names)
            notes.append(f"spatial matching needs GPS on every image; {have}/{n_images} have it: "
                         "fell back to exhaustive matching")
            matcher = "exhaustive"
        else:
            # The database holds priors for every photo: splatkit's ENU ones when gps_priors
            # is on, COLMAP's WGS84 ones from EXIF otherwise (DJI XMP-only GPS would be
            # missing there, so write ours for pairing either way).
            write_pose_priors(pycolmap, database, priors)
    if matcher == "exhaustive":
        pycolmap.match_exhaustive(database, matching_options=options, device=pycolmap.Device.cpu)
    elif matcher == "spatial":
        assert priors is not None
        sized = spatial_pairing(priors.enu)
        pairing = pycolmap.SpatialPairingOptions()
        pairing.max_num_neighbors = sized.max_num_neighbors
        pairing.max_distance = sized.max_distance_m  # ENU metres, altitude ignored (ignore_z)
        pairing.ignore_z = True
        pairing_report = {"max_distance_m": sized.max_distance_m, "max_num_neighbors": sized.max_num_neighbors,
                          "spacing_m": sized.spacing_m, "sized_by": sized.why}
        pycolmap.match_spatial(database, matching_options=options, pairing_options=pairing,
                               device=pycolmap.Device.cpu)
    else:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = 10
        pycolmap.match_sequential(database, matching_options=options, pairing_options=pairing,
                                  device=pycolmap.Device.cpu)
    return matcher, pairing_report
