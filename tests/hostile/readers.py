"""Run a hostile input through every reader that would meet it in a real run.

:func:`read_case` returns a short description of what was read, or raises; the tests require that
anything raised is a :class:`splatkit.errors.SplatkitError`. It is also the body of the forked
children of ``test_resource_guard``, so it imports lazily and writes only under ``scratch``.
"""

from __future__ import annotations

from pathlib import Path


def read_zip(path: Path, scratch: Path) -> str:
    from splatkit.io.safe_zip import extract_zip, open_archive
    from splatkit.pipeline.manifest import digest_source

    with open_archive(path) as archive:
        for member in archive.kept():
            archive.read(member)
    digest = digest_source(path)
    result = extract_zip(path, scratch / "extracted")
    return f"digest {digest[:8]}, {len(result.extracted)} extracted"


def read_sog(path: Path, scratch: Path) -> str:
    from splatkit.cli import describe_path
    from splatkit.io import sog

    facts = sog.info(path)
    describe_path(path)
    cloud = sog.SogFormat().decode(path)
    bundle = sog.read_sog(path)
    sog.decode_sog(bundle, source=path)
    return f"count {facts['count']}, decoded {len(cloud)}"


def read_ply_file(path: Path, scratch: Path) -> str:
    from splatkit.io.ply import info, read_ply

    info(path)
    return f"{len(read_ply(path))} splats"


def read_spz_file(path: Path, scratch: Path) -> str:
    from splatkit.io.spz import info, read_spz

    info(path)
    return f"{len(read_spz(path))} splats"


def read_opensfm(path: Path, scratch: Path) -> str:
    from splatkit.io.opensfm import read_reconstruction_json

    return f"{len(read_reconstruction_json(path))} reconstructions"


def read_colmap(path: Path, scratch: Path) -> str:
    from splatkit.io.colmap import info, read_colmap_model

    rec = read_colmap_model(path)
    info(path)
    return f"{len(rec.frames)} frames"


def read_photo(path: Path, scratch: Path) -> str:
    from PIL import Image

    from splatkit.io.exif import read_metadata
    from splatkit.io.images import probe_image

    try:
        with Image.open(path) as image:
            read_metadata(image, name=path.name)
    except Image.DecompressionBombError:
        pass   # Pillow refuses to open it at all; probe_image must say so as an InputError
    record = probe_image(path, name=path.name)
    return f"{record.width}x{record.height}"


def read_posed(folder: Path, scratch: Path) -> str:
    from splatkit.contracts import PosedImages
    from splatkit.io.colmap import read_colmap_model

    rec = read_colmap_model(folder / "sparse")
    PosedImages(reconstruction=rec, image_dir=folder / "images").validate()
    return "valid"


def compress_ply(path: Path, scratch: Path) -> str:
    from splatkit.compress.ply_backend import PlyCompressor
    from splatkit.compress.sog_backend import SogCompressor, SogConfig
    from splatkit.compress.spz_backend import SpzCompressor, SpzConfig
    from splatkit.errors import SplatkitError
    from splatkit.io.ply import read_ply

    cloud = read_ply(path)
    outcomes = []
    for i, (stage, config) in enumerate(((SogCompressor(), SogConfig(verify=False, quality_views=0)),
                                         (SpzCompressor(), SpzConfig()), (PlyCompressor(), PlyCompressor.Config()))):
        workdir = scratch / f"compress{i}"
        workdir.mkdir(parents=True)
        try:
            stage.run(cloud, config, workdir)
            outcomes.append(f"{stage.name}: ok")
        except SplatkitError as e:
            outcomes.append(f"{stage.name}: {type(e).__name__}")
            last = e
    if any(not o.endswith(": ok") for o in outcomes):
        raise last
    return ", ".join(outcomes)


READERS = {"zip": read_zip, "sog": read_sog, "ply": read_ply_file, "spz": read_spz_file, "opensfm": read_opensfm, "colmap": read_colmap, "photo": read_photo,
           "posed": read_posed, "compress": compress_ply}


def read_case(reader: str, path: Path, scratch: Path) -> str:
    return READERS[reader](path, scratch)
