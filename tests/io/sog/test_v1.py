"""Legacy SOG v1 (SOGS) files: read_sog/decode_sog open them transparently.

The committed fixture (``fixtures/sog_v1/``, made from ``fixtures/sog_v1_source.ply`` by
``fixtures/make_sog_v1.py``; see ``fixtures/README.md``) is checked against its source PLY within
v1's quantization, and against splat-transform 3.7.0's own v1 reader when that is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial import cKDTree

from splatkit.contracts import GaussianCloud
from splatkit.errors import InputError
from splatkit.io import sog
from splatkit.io.ply import read_ply, write_ply
from tests.io.sog import sogs_v1_writer
from tests.compress.synthetic import synthetic_cloud
from tests.io.sog.fixtures import make_sog_v1
from tests.conftest import find_splat_transform as _splat_transform

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]
V1_FOLDER = FIXTURES / make_sog_v1.FOLDER
SOURCE_PLY = FIXTURES / make_sog_v1.SOURCE_PLY


def _match(decoded: GaussianCloud, source: GaussianCloud) -> np.ndarray:
    """Index into ``source`` of each decoded splat (nearest position; must be one-to-one)."""
    dist, idx = cKDTree(source.means.astype(np.float64)).query(decoded.means.astype(np.float64))
    assert np.unique(idx).shape[0] == idx.shape[0], "decoded splats do not map one-to-one onto the source"
    assert dist.max() < 1e-2
    return idx


def _check_against_source(decoded: GaussianCloud, meta: dict, source: GaussianCloud) -> dict[str, float]:
    idx = _match(decoded, source)
    ref = source.subset(idx)
    # position: half a 16-bit symlog step (SOGS rounds), plus float32
    p = ref.means.astype(np.float64)
    step = (np.asarray(meta["means"]["maxs"]) - np.asarray(meta["means"]["mins"])) / 65535.0
    bound = (np.abs(p) + 1) * np.expm1(step / 2) + 1e-6 * (np.abs(p) + 1)
    dp = np.abs(decoded.means - p)
    assert (dp <= bound).all()
    # scales, colour, logit opacity: half an 8-bit step of each channel's range
    half = lambda key: (np.asarray(meta[key]["maxs"]) - np.asarray(meta[key]["mins"])) / 510.0 + 1e-5  # noqa: E731
    ds = np.abs(decoded.log_scales - ref.log_scales)
    assert (ds <= half("scales")).all()
    dc = np.abs(decoded.sh0 - ref.sh0)
    assert (dc <= half("sh0")[:3]).all()
    early = sog.v1_dialect(meta) == "sogs-1.0"
    do = np.abs(decoded.opacity_logits - ref.opacity_logits)
    assert (do <= (half("opacities")[0] if early else half("sh0")[3])).all()
    q1 = ref.quats / np.linalg.norm(ref.quats, axis=1, keepdims=True)
    angle = 2 * np.arccos(np.clip(np.abs((q1 * decoded.quats).sum(axis=1)), 0, 1))
    if early:
        # (w, x, y) of the quaternion flipped to z >= 0, each within half a step; z recomputed
        q1 = np.where(q1[:, 3:] < 0, -q1, q1)
        assert (np.abs(decoded.quats[:, :3] - q1[:, :3]) <= half("quats") + 2e-3).all()
        # Per splat: |(w, x, y)' - (w, x, y)| <= |h|, so z' = sqrt(1 - r'^2) lies between the values
        # at r -+ |h|; a quaternion error vector of norm e turns the rotation by at most 2 asin(e).
        h = float(np.linalg.norm(half("quats")))
        r = np.linalg.norm(q1[:, :3], axis=1)
        z_hi = np.sqrt(np.clip(1 - np.clip(r - h, 0, None) ** 2, 0, None))
        z_lo = np.sqrt(np.clip(1 - (r + h) ** 2, 0, None))
        e = np.sqrt(h ** 2 + np.maximum(z_hi - q1[:, 3], q1[:, 3] - z_lo) ** 2)
        assert (angle <= 2 * np.arcsin(np.minimum(e, 1.0)) + 1e-4).all()
    else:  # the smallest-three bound (same packing as v2)
        assert angle.max() <= sog.QUAT_MAX_ANGLE_RAD
    # SH: a 64-entry palette for 289 splats; clearly better than the data's own spread
    dn = decoded.shN - ref.shN
    assert decoded.shN.shape == ref.shN.shape
    assert np.sqrt((dn ** 2).mean()) < 0.5 * ref.shN.std()
    return {"position_max": float(dp.max()), "log_scale_max": float(ds.max()), "sh0_max": float(dc.max()),
            "opacity_logit_max": float(do.max()), "rotation_max_deg": float(np.degrees(angle.max())),
            "shN_rms": float(np.sqrt((dn ** 2).mean()))}


def test_v1_fixture_decodes_to_its_source_ply() -> None:
    bundle = sog.read_sog(V1_FOLDER)
    assert bundle.version == sog.SOG_V1_VERSION and "version" not in bundle.meta
    decoded = sog.decode_sog(bundle)
    source = read_ply(SOURCE_PLY)
    side = int(len(source) ** 0.5)
    assert len(decoded) == side * side == bundle.meta["means"]["shape"][0] < len(source)
    assert decoded.sh_degree == 3
    _check_against_source(decoded, dict(bundle.meta), source)
    # SOGS crops the lowest-opacity splats to make the grid square
    kept = _match(decoded, source)
    dropped = np.setdiff1d(np.arange(len(source)), kept)
    assert source.opacity_logits[dropped].max() <= source.opacity_logits[kept].min()


def test_v1_bundled_zip_and_meta_path_read_the_same(tmp_path: Path) -> None:
    bundled = tmp_path / "legacy.sog"
    with zipfile.ZipFile(bundled, "w") as zf:
        for member in sorted(V1_FOLDER.iterdir()):
            zf.write(member, member.name)
    a = sog.decode_sog(sog.read_sog(bundled))
    b = sog.decode_sog(sog.read_sog(V1_FOLDER / "meta.json"))
    assert a.equals(b)
    facts = sog.info(bundled)
    assert (facts["version"], facts["count"], facts["bundled"]) == (1, len(a), True)


def _rows(cloud: GaussianCloud) -> np.ndarray:
    """All attributes per splat, rows sorted: compares clouds as multisets."""
    n = len(cloud)
    table = np.concatenate([cloud.means, cloud.log_scales, cloud.quats, cloud.opacity_logits[:, None], cloud.sh0,
                            cloud.shN.reshape(n, -1)], axis=1)
    return table[np.lexsort(table.T[::-1])]


def test_v1_fixture_regenerates_identically(tmp_path: Path) -> None:
    """The committed fixture is what make_sog_v1.py writes: same meta, same splats (any order)."""
    make_sog_v1.main(tmp_path)
    fresh = sog.read_sog(tmp_path / make_sog_v1.FOLDER)
    committed = sog.read_sog(V1_FOLDER)
    assert json.loads(json.dumps(dict(fresh.meta))) == json.loads(json.dumps(dict(committed.meta)))
    # the PLAS order may change with splatkit's PLAS; the decoded splats may not
    np.testing.assert_array_equal(_rows(sog.decode_sog(fresh)), _rows(sog.decode_sog(committed)))
    assert read_ply(tmp_path / make_sog_v1.SOURCE_PLY).equals(read_ply(SOURCE_PLY))


def test_v1_matches_splat_transform_reader(tmp_path: Path) -> None:
    exe = _splat_transform()
    if exe is None or shutil.which("node") is None:
        pytest.skip("splat-transform not installed (see tests/compress/test_sog_interop.py)")
    proc = subprocess.run([exe, "-w", str(V1_FOLDER / "meta.json"), str(tmp_path / "theirs.ply")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = read_ply(tmp_path / "theirs.ply")
    ours = sog.decode_sog(sog.read_sog(V1_FOLDER))
    for name in ("means", "log_scales", "quats", "opacity_logits", "sh0", "shN"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=0, atol=1e-6, err_msg=name)


def test_v1_written_by_splat_transform_06(tmp_path: Path) -> None:
    """A real v1 writer (splat-transform 0.6.x) on the source PLY, when one is installed.

    Point ``SPLATKIT_SPLAT_TRANSFORM_V1`` at its executable
    (``npm install --prefix /tmp/st06 @playcanvas/splat-transform@0.6``).
    """
    exe = os.environ.get("SPLATKIT_SPLAT_TRANSFORM_V1")
    if not exe or not Path(exe).is_file() or shutil.which("node") is None:
        pytest.skip("no splat-transform 0.6.x (set SPLATKIT_SPLAT_TRANSFORM_V1)")
    out = tmp_path / "v1" / "meta.json"
    out.parent.mkdir()
    proc = subprocess.run([exe, "-w", str(SOURCE_PLY), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundle = sog.read_sog(out)
    assert bundle.version == 1
    _check_against_source(sog.decode_sog(bundle), dict(bundle.meta), read_ply(SOURCE_PLY))


@pytest.mark.skipif(not sogs_v1_writer.sogs_available(), reason="sogs 1.0.0 not installed (pip install sogs==1.0.0)")
@pytest.mark.parametrize("source_kind", ["fixture-sh3", "synthetic-1700-sh1"])
def test_v1_written_by_sogs_1_0(tmp_path: Path, source_kind: str) -> None:
    """A real v1 writer: the first SOGS release (PyPI ``sogs==1.0.0``), its CUDA-only search steps
    replaced by CPU stand-ins (``sogs_v1_writer``). The fixture's source PLY has a 64-entry
    palette; 1,700 splats give 384 entries, so the high label byte (``shN_labels_u``) is used."""
    if source_kind == "fixture-sh3":
        ply = SOURCE_PLY
    else:
        ply = write_ply(synthetic_cloud(1700, sh_degree=1, seed=3, extent=5.0), tmp_path / "source.ply")
    out = tmp_path / "sogs"
    proc = subprocess.run([sys.executable, "-m", "tests.io.sog.sogs_v1_writer", str(ply), str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = json.loads((out / "meta.json").read_text())
    assert "version" not in written and "opacities" in written and len(written["shN"]["files"]) == 3
    bundle = sog.read_sog(out)
    assert bundle.version == sog.SOG_V1_VERSION and sog.v1_dialect(bundle.meta) == "sogs-1.0"
    assert sog.info(out)["dialect"] == "sogs-1.0" and sog.info(V1_FOLDER)["dialect"] == "sogs"
    decoded = sog.decode_sog(bundle)
    source = read_ply(ply)
    side = int(len(source) ** 0.5)
    assert len(decoded) == side * side < len(source) and decoded.sh_degree == source.sh_degree
    _check_against_source(decoded, written, source)
    if source_kind != "fixture-sh3":
        labels_u = np.asarray(Image.open(out / written["shN"]["files"][2]))
        assert labels_u.max() > 0
    # SOGS crops the lowest-opacity splats to make the grid square
    kept = np.zeros(len(source), bool)
    kept[_match(decoded, source)] = True
    assert source.opacity_logits[~kept].max() <= source.opacity_logits[kept].min()
    # the same bundle zipped reads the same
    zipped = tmp_path / "sogs.sog"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as zf:
        for member in sorted(out.iterdir()):
            zf.write(member, member.name)
    again = sog.decode_sog(sog.read_sog(zipped))
    np.testing.assert_array_equal(again.means, decoded.means)
    np.testing.assert_array_equal(again.shN, decoded.shN)


def _v1_copy(tmp_path: Path, mutate=None, replace: dict[str, bytes] | None = None) -> Path:
    folder = tmp_path / "v1"
    shutil.copytree(V1_FOLDER, folder)
    meta = json.loads((folder / "meta.json").read_text())
    if mutate is not None:
        mutate(meta)
    (folder / "meta.json").write_text(json.dumps(meta))
    for name, data in (replace or {}).items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m["means"].pop("shape"), "'means.shape'"),
    (lambda m: m["means"].update(shape=[289, 4]), "'means.shape'"),
    (lambda m: m["scales"].update(mins=[0.0]), "'scales.mins'"),
    (lambda m: m["sh0"].update(maxs=[1.0, 2.0, 3.0]), "'sh0.maxs'"),
    (lambda m: m["shN"].update(mins="x"), "'shN.mins'"),
    (lambda m: m["quats"].update(files=[]), "'quats.files'"),
    # an "opacities" entry makes it the first SOGS layout, whose quats carry mins/maxs
    (lambda m: m.update(opacities={"mins": [0.0], "maxs": [1.0], "files": ["o.webp"]}), "'quats.mins'"),
])
def test_bad_v1_meta_names_the_key(tmp_path: Path, mutate, message: str) -> None:
    with pytest.raises(InputError, match="legacy SOG v1") as info:
        sog.read_sog(_v1_copy(tmp_path, mutate))
    assert message in str(info.value)


def test_v1_too_many_splats_for_the_textures(tmp_path: Path) -> None:
    folder = _v1_copy(tmp_path, lambda m: m["means"].update(shape=[10_000, 3]))
    with pytest.raises(InputError, match="too small for means.shape"):
        sog.decode_sog(sog.read_sog(folder))


def test_v1_unknown_palette_width(tmp_path: Path) -> None:
    narrow = sog.encode_webp(np.zeros((1, 100, 4), np.uint8))
    folder = _v1_copy(tmp_path, replace={"shN_centroids.webp": narrow})
    with pytest.raises(InputError, match="'shN_centroids.webp' is 100 pixels wide"):
        sog.decode_sog(sog.read_sog(folder))
