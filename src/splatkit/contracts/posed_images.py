"""Posed images: a Reconstruction paired with the folder of images its frames name.

This is the training stage's input. The SfM stage's output folder (``images/`` + ``sparse/0``)
reads into one; checking it up front catches the seam where images and cameras disagree.
"""

from dataclasses import dataclass
from pathlib import Path

from splatkit.contracts.limits import MAX_IMAGE_PIXELS, check_image_pixels
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
                size = _header_size(self.image_dir / name, name)
                if size != (cam.width, cam.height):
                    raise InputError(
                        f"image {name} is {size[0]}x{size[1]} but its camera {cam.camera_id} says "
                        f"{cam.width}x{cam.height}; pass the images the model was made for",
                        path=self.image_dir / name)
        return self


def _header_size(path: Path, name: str) -> tuple[int, int]:
    """(width, height) from an image's header, refusing a size past the decode bounds.

    Only the header is read; Pillow's own bomb check fires inside ``open`` and is reported the
    same way (a 100000 x 100000 PNG header must be an :class:`InputError`, not a traceback).
    """
    import struct

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            size = im.size
    except Image.DecompressionBombError as e:
        raise InputError(f"image {name} declares more pixels than splatkit decodes ({MAX_IMAGE_PIXELS}); "
                         "downscale it, or the file is corrupt", path=path) from e
    except UnidentifiedImageError as e:
        raise InputError(f"image {name} is not a recognised image format", path=path) from e
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as e:
        raise InputError(f"cannot read the header of image {name} ({type(e).__name__}: {e}); the file is "
                         "corrupt or truncated", path=path) from e
    check_image_pixels(size[0], size[1], what=f"image {name}", path=path)
    return size
