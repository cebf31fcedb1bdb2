"""Camera poses with tracks: what SfM produces and training consumes.

Conventions (fixed here, used everywhere):

- Cameras use COLMAP's models and parameter order, in pixels, with the principal point measured
  from the top-left corner of the top-left pixel (pixel centres at +0.5).
- Poses are ``cam_from_world``: ``x_cam = R @ X_world + t``, OpenCV axes (x right, y down,
  z forward).
- Tracks are flat observation arrays: observation ``m`` says point ``point_index[m]`` was seen in
  frame ``frame_index[m]`` at pixel ``xy[m]``.
"""

from dataclasses import dataclass, field

import numpy as np

from splatkit.contracts._checks import as_readonly_array, check_finite
from splatkit.contracts.georeference import Georeference
from splatkit.contracts.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE
from splatkit.errors import ContractError

__all__ = [
    "CAMERA_MODELS",
    "Camera",
    "Frames",
    "Points",
    "Tracks",
    "Reconstruction",
    "DEFAULT_MIN_POINTS",
    "DEFAULT_MIN_FRAMES",
    "is_safe_relative_name",
]

#: COLMAP camera models: name -> (model id, parameter names).
CAMERA_MODELS: dict[str, tuple[int, tuple[str, ...]]] = {
    "SIMPLE_PINHOLE": (0, ("f", "cx", "cy")),
    "PINHOLE": (1, ("fx", "fy", "cx", "cy")),
    "SIMPLE_RADIAL": (2, ("f", "cx", "cy", "k")),
    "RADIAL": (3, ("f", "cx", "cy", "k1", "k2")),
    "OPENCV": (4, ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2")),
    "OPENCV_FISHEYE": (5, ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4")),
    "FULL_OPENCV": (6, ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")),
    "FOV": (7, ("fx", "fy", "cx", "cy", "omega")),
    "SIMPLE_RADIAL_FISHEYE": (8, ("f", "cx", "cy", "k")),
    "RADIAL_FISHEYE": (9, ("f", "cx", "cy", "k1", "k2")),
    "THIN_PRISM_FISHEYE": (10, ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "sx1", "sy1")),
}

#: Trainability minimums: below these, 3DGS initialisation (kNN scales) is meaningless.
DEFAULT_MIN_POINTS = 100
DEFAULT_MIN_FRAMES = 3


@dataclass(frozen=True, kw_only=True, eq=False)
class Camera:
    """One intrinsic calibration shared by the frames that reference it.

    Attributes
    ----------
    model : str
        A key of :data:`CAMERA_MODELS`.
    width, height : int
        Image size in pixels.
    params : float64 [P]
        Parameters in COLMAP order for ``model``, in pixels.
    camera_id : int
        Identifier kept from the source (COLMAP camera id); unique within a reconstruction.
    """

    model: str
    width: int
    height: int
    params: np.ndarray
    camera_id: int = 1

    def __post_init__(self) -> None:
        if self.model not in CAMERA_MODELS:
            raise ContractError(f"Camera.model {self.model!r} is not a COLMAP model name",
                                field="Camera.model", expected=sorted(CAMERA_MODELS), actual=self.model)
        n = len(CAMERA_MODELS[self.model][1])
        params = as_readonly_array(self.params, "Camera.params", dtype=np.float64, shape=(n,))
        object.__setattr__(self, "params", params)
        for name in ("width", "height", "camera_id"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ContractError(f"Camera.{name} must be an int, got {value!r}", field=f"Camera.{name}")
            object.__setattr__(self, name, int(value))
        if self.width <= 0 or self.height <= 0:
            raise ContractError(f"Camera size must be positive, got {self.width}x{self.height}",
                                field="Camera.width/height", actual=(self.width, self.height))

    def validate(self, *, source: str = "") -> "Camera":
        """Check values: finite parameters, positive focal lengths, a size a decoder can hold.

        A focal length of 0 (or NaN) would project every point to the principal point and train
        a meaningless scene, so it is refused here, where every reader's cameras pass.

        Raises
        ------
        ContractError
            Naming ``Camera[id].<field>``, the value and ``source``.
        """
        check_finite(self.params, f"Camera[{self.camera_id}].params", source=source)
        where = f" (from {source})" if source else ""
        names = self.param_names
        for name in ("f", "fx", "fy"):
            if name in names and not self.params[names.index(name)] > 0:
                value = float(self.params[names.index(name)])
                raise ContractError(f"Camera[{self.camera_id}].{name} is {value!r}{where}; a focal length must be a "
                                    "positive number of pixels", field=f"Camera[{self.camera_id}].{name}",
                                    expected="> 0", actual=value)
        if self.width > MAX_IMAGE_SIDE or self.height > MAX_IMAGE_SIDE or self.width * self.height > MAX_IMAGE_PIXELS:
            raise ContractError(f"Camera[{self.camera_id}] is {self.width}x{self.height} pixels{where}, more than "
                                f"splatkit decodes ({MAX_IMAGE_PIXELS} pixels, {MAX_IMAGE_SIDE} per side)",
                                field=f"Camera[{self.camera_id}].width/height",
                                expected=f"<= {MAX_IMAGE_PIXELS} pixels", actual=(self.width, self.height))
        return self

    @property
    def param_names(self) -> tuple[str, ...]:
        return CAMERA_MODELS[self.model][1]

    @property
    def model_id(self) -> int:
        return CAMERA_MODELS[self.model][0]

    def focal_xy(self) -> tuple[float, float]:
        """(fx, fy) in pixels."""
        p = self.params
        return (float(p[0]), float(p[0])) if self.param_names[0] == "f" else (float(p[0]), float(p[1]))

    def principal_point(self) -> tuple[float, float]:
        """(cx, cy) in pixels."""
        names = self.param_names
        return float(self.params[names.index("cx")]), float(self.params[names.index("cy")])

    def K(self) -> np.ndarray:
        """Pinhole part of the calibration, float64 [3, 3]."""
        fx, fy = self.focal_xy()
        cx, cy = self.principal_point()
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def equals(self, other: "Camera") -> bool:
        return (self.model, self.width, self.height, self.camera_id) == (
            other.model, other.width, other.height, other.camera_id
        ) and np.array_equal(self.params, other.params)


def is_safe_relative_name(name: str) -> bool:
    """True for a relative path that stays inside its folder: no ``..`` part, not absolute, no NUL.

    Both ``/`` and ``\\`` count as separators, and a drive letter (``C:``) as absolute, so a name
    written on Windows cannot escape either.
    """
    parts = name.replace("\\", "/").split("/")
    return not (name.startswith(("/", "\\")) or (len(name) > 1 and name[0].isalpha() and name[1] == ":") or "\0" in name
                or ".." in parts)


@dataclass(frozen=True, kw_only=True, eq=False)
class Frames:
    """Registered images and their poses.

    Attributes
    ----------
    names : tuple[str, ...] [F]
        Image names (relative paths as in the image folder), unique.
    camera_index : int32 [F]
        Index into :attr:`Reconstruction.cameras` (a position, not a camera id).
    rotation : float64 [F, 3, 3]
        ``cam_from_world`` rotations.
    translation : float64 [F, 3]
        ``cam_from_world`` translations: ``x_cam = rotation @ X + translation``.
    """

    names: tuple[str, ...]
    camera_index: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def __post_init__(self) -> None:
        names = tuple(self.names)
        if not all(isinstance(n, str) and n for n in names):
            raise ContractError("Frames.names must be non-empty strings", field="Frames.names")
        unsafe = next((n for n in names if not is_safe_relative_name(n)), None)
        if unsafe is not None:
            # Training opens image_dir / name: a '..' or an absolute name would read outside it.
            raise ContractError(f"Frames.names: {unsafe!r} is not a relative path inside the image folder (no "
                                "'..', no absolute path, no NUL byte)", field="Frames.names",
                                expected="relative path", actual=unsafe)
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ContractError(f"Frames.names must be unique; repeated: {dup[:5]}", field="Frames.names")
        sizes = {"F": len(names)}
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "camera_index", as_readonly_array(
            self.camera_index, "Frames.camera_index", dtype=np.int32, shape=("F",), sizes=sizes))
        object.__setattr__(self, "rotation", as_readonly_array(
            self.rotation, "Frames.rotation", dtype=np.float64, shape=("F", 3, 3), sizes=sizes))
        object.__setattr__(self, "translation", as_readonly_array(
            self.translation, "Frames.translation", dtype=np.float64, shape=("F", 3), sizes=sizes))

    def __len__(self) -> int:
        return len(self.names)

    def centers(self) -> np.ndarray:
        """Camera centres in world coordinates, float64 [F, 3] (``-R^T t``)."""
        return -np.einsum("fji,fj->fi", self.rotation, self.translation)

    def world_from_cam(self) -> tuple[np.ndarray, np.ndarray]:
        """Inverse poses ``(R^T [F,3,3], -R^T t [F,3])``."""
        rt = np.transpose(self.rotation, (0, 2, 1))
        return rt, self.centers()


@dataclass(frozen=True, kw_only=True, eq=False)
class Points:
    """Sparse 3D points.

    Attributes
    ----------
    xyz : float64 [P, 3]
        World coordinates.
    rgb : uint8 [P, 3]
        Colour.
    error : float64 [P]
        Mean reprojection error in pixels (0 where unknown).
    """

    xyz: np.ndarray
    rgb: np.ndarray
    error: np.ndarray

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        object.__setattr__(self, "xyz", as_readonly_array(self.xyz, "Points.xyz", dtype=np.float64,
                                                          shape=("P", 3), sizes=sizes))
        object.__setattr__(self, "rgb", as_readonly_array(self.rgb, "Points.rgb", dtype=np.uint8,
                                                          shape=("P", 3), sizes=sizes))
        object.__setattr__(self, "error", as_readonly_array(self.error, "Points.error", dtype=np.float64,
                                                            shape=("P",), sizes=sizes))

    def __len__(self) -> int:
        return int(self.xyz.shape[0])


@dataclass(frozen=True, kw_only=True, eq=False)
class Tracks:
    """2D-3D correspondences as flat observation arrays (M observations).

    Attributes
    ----------
    point_index : int64 [M]
        Index into :attr:`Reconstruction.points`.
    frame_index : int64 [M]
        Index into :attr:`Reconstruction.frames`.
    xy : float64 [M, 2]
        Pixel coordinates in that frame's image (pixel centres at +0.5).
    """

    point_index: np.ndarray
    frame_index: np.ndarray
    xy: np.ndarray

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        object.__setattr__(self, "point_index", as_readonly_array(
            self.point_index, "Tracks.point_index", dtype=np.int64, shape=("M",), sizes=sizes))
        object.__setattr__(self, "frame_index", as_readonly_array(
            self.frame_index, "Tracks.frame_index", dtype=np.int64, shape=("M",), sizes=sizes))
        object.__setattr__(self, "xy", as_readonly_array(self.xy, "Tracks.xy", dtype=np.float64,
                                                         shape=("M", 2), sizes=sizes))

    def __len__(self) -> int:
        return int(self.point_index.shape[0])

    def lengths(self, num_points: int) -> np.ndarray:
        """Observations per point, int64 [P]."""
        return np.bincount(self.point_index, minlength=num_points)


def _empty_tracks() -> Tracks:
    return Tracks(point_index=np.zeros(0, np.int64), frame_index=np.zeros(0, np.int64),
                  xy=np.zeros((0, 2)))


@dataclass(frozen=True, kw_only=True, eq=False)
class Reconstruction:
    """A sparse SfM model: cameras, posed frames, points and their tracks.

    Attributes
    ----------
    cameras : tuple[Camera, ...]
        Intrinsics; frames refer to them by position.
    frames : Frames
        Registered images with ``cam_from_world`` poses.
    points : Points
        Sparse 3D points.
    tracks : Tracks
        Observations linking points to frames.
    georeference : Georeference or None
        ENU origin when the world frame is metres East-North-Up.
    source : str
        What produced this model (a path, a backend name), used in error messages.
    """

    cameras: tuple[Camera, ...]
    frames: Frames
    points: Points
    tracks: Tracks = field(default_factory=_empty_tracks)
    georeference: Georeference | None = None
    source: str = ""

    def __post_init__(self) -> None:
        cameras = tuple(self.cameras)
        if not all(isinstance(c, Camera) for c in cameras):
            raise ContractError("Reconstruction.cameras must hold Camera objects", field="Reconstruction.cameras")
        ids = [c.camera_id for c in cameras]
        if len(set(ids)) != len(ids):
            raise ContractError(f"Reconstruction.cameras: duplicate camera ids {ids}",
                                field="Reconstruction.cameras")
        object.__setattr__(self, "cameras", cameras)
        for name, kind in (("frames", Frames), ("points", Points), ("tracks", Tracks)):
            if not isinstance(getattr(self, name), kind):
                raise ContractError(f"Reconstruction.{name} must be a {kind.__name__}",
                                    field=f"Reconstruction.{name}")

    @property
    def _where(self) -> str:
        return f" in the model from {self.source}" if self.source else ""

    def validate(self) -> "Reconstruction":
        """Check values: finite numbers, indices in range, every track >= 2 observations.

        Returns ``self``. Raises :class:`ContractError` naming the field and the first offender.
        """
        src = self.source
        for cam in self.cameras:
            cam.validate(source=src)
        check_finite(self.frames.rotation, "Frames.rotation", source=src)
        check_finite(self.frames.translation, "Frames.translation", source=src)
        check_finite(self.points.xyz, "Points.xyz", source=src)
        check_finite(self.points.error, "Points.error", source=src)
        check_finite(self.tracks.xy, "Tracks.xy", source=src)
        r = self.frames.rotation
        if len(r):
            ortho = np.abs(np.einsum("fij,fkj->fik", r, r) - np.eye(3)).max(axis=(1, 2))
            det = np.linalg.det(r)
            bad = np.flatnonzero((ortho > 1e-6) | (np.abs(det - 1.0) > 1e-6))
            if len(bad):
                raise ContractError(
                    f"Frames.rotation[{bad[0]}] ({self.frames.names[bad[0]]}) is not a rotation{self._where}",
                    field="Frames.rotation", expected="orthonormal, det +1", actual=f"{len(bad)} bad")
        self._check_index(self.frames.camera_index, len(self.cameras), "Frames.camera_index")
        self._check_index(self.tracks.point_index, len(self.points), "Tracks.point_index")
        self._check_index(self.tracks.frame_index, len(self.frames), "Tracks.frame_index")
        if len(self.points):
            lengths = self.tracks.lengths(len(self.points))
            short = np.flatnonzero(lengths < 2)
            if len(short):
                raise ContractError(
                    f"{len(short)} point(s) have tracks shorter than 2 observations{self._where} "
                    f"(first: point {short[0]} with {lengths[short[0]]}); a 3D point needs two views",
                    field="Tracks", expected=">= 2 observations per point", actual=int(lengths[short[0]]))
        return self

    def _check_index(self, index: np.ndarray, size: int, field_name: str) -> None:
        if index.size and (index.min() < 0 or index.max() >= size):
            bad = int(index[(index < 0) | (index >= size)][0])
            raise ContractError(
                f"{field_name}: index {bad} out of range [0, {size}){self._where}",
                field=field_name, expected=f"[0, {size})", actual=bad)

    def check_trainable(
        self, *, min_points: int = DEFAULT_MIN_POINTS, min_frames: int = DEFAULT_MIN_FRAMES
    ) -> "Reconstruction":
        """Raise :class:`ContractError` when the model is too thin to initialise 3DGS training.

        Training initialises Gaussian scales from nearest-neighbour distances; with a handful of
        points that is meaningless (the historical ``n_samples=1`` kNN crash).
        """
        if len(self.points) < min_points or len(self.frames) < min_frames:
            raise ContractError(
                f"the model{f' from {self.source}' if self.source else ''} has {len(self.points)} points and "
                f"{len(self.frames)} registered images; training needs at least {min_points} points and "
                f"{min_frames} images. The SfM stage that produced it registered too little: check its "
                "report for unregistered images, add overlapping photos, or lower the minimums knowingly",
                field="Reconstruction", expected=(min_points, min_frames),
                actual=(len(self.points), len(self.frames)))
        return self

    def camera_of(self, frame: int) -> Camera:
        """The :class:`Camera` of frame ``frame``."""
        return self.cameras[int(self.frames.camera_index[frame])]
