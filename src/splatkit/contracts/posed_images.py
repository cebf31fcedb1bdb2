"""Posed images: a Reconstruction paired with the folder of images its frames name.

This is the training stage's input. The SfM stage's output folder (``images/`` + ``sparse/0``)
reads into one; checking it up front catches the seam where images and cameras disagree.
"""

from dataclasses import dataclass
from pathlib import Path

from splatkit.contracts.reconstruction import Reconstruction
from splatkit.errors import ContractError, InputError

__all__ = ["PosedImages"]


@dataclass(frozen=True, kw_only=True, eq=False)
class PosedImages:
    """A reconstruction whose frame names are files under ``image_dir``.

    Attributes
    ----------
    reconstruction : Reconstruction
        Cameras must be pinhole (``PINHOLE`` or ``SIMPLE_PINHOLE``) for 3DGS rasterizers.
    image_dir : Path
        Folder holding one image per frame, named as ``reconstruction.frames.names``.
    """

    reconstruction: Reconstruction
    image_dir: Path

    def __post_init__(self) -> None:
        if not isinstance(self.reconstruction, Reconstruction):
            raise ContractError("PosedImages.reconstruction must be a Reconstruction",
                                field="PosedImages.reconstruction")
        object.__setattr__(self, "image_dir", Path(self.image_dir))

    def validate(self, *, check_sizes: bool = True) -> "PosedImages":
        """Check the model, that every frame's image exists, cameras are pinhole, and sizes match.

        Raises
        ------
        InputError
            When an image is missing or its size differs from its camera's.
        ContractError
            When the model is invalid or a camera is not pinhole.
        """
        from PIL import Image

        rec = self.reconstruction.validate()
        for cam in rec.cameras:
            if cam.model not in ("PINHOLE", "SIMPLE_PINHOLE"):
                raise ContractError(
                    f"camera {cam.camera_id} is {cam.model}; training needs undistorted pinhole cameras "
                    "(the SfM stage's sparse/0 output, not its distorted/ model)",
                    field="Camera.model", expected="PINHOLE", actual=cam.model)
        missing = [n for n in rec.frames.names if not (self.image_dir / n).is_file()]
        if missing:
            raise InputError(f"{len(missing)} image(s) named by the model are missing, e.g. {missing[:3]}",
                             path=self.image_dir)
        if check_sizes:
            for i, name in enumerate(rec.frames.names):
                cam = rec.camera_of(i)
                with Image.open(self.image_dir / name) as im:
                    size = im.size
                if size != (cam.width, cam.height):
                    raise InputError(
                        f"image {name} is {size[0]}x{size[1]} but its camera {cam.camera_id} says "
                        f"{cam.width}x{cam.height}; pass the images the model was made for",
                        path=self.image_dir / name)
        return self
