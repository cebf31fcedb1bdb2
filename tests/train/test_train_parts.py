"""Trainer building blocks that need no rasterizer: SSIM, init, normalisation, checkpoints, config."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

torch = pytest.importorskip("torch")

from splatkit.contracts import Camera, Frames, Points, Reconstruction  # noqa: E402
from splatkit.errors import ContractError, InputError  # noqa: E402
from splatkit.train import checkpoint as ckpt  # noqa: E402
from splatkit.train.data import split_holdout  # noqa: E402
from splatkit.train.init import init_from_points  # noqa: E402
from splatkit.train.normalize import normalization_from_cameras  # noqa: E402
from splatkit.train.ssim import psnr, ssim  # noqa: E402
from splatkit.train.config import STRATEGY_NAMES, TrainConfig  # noqa: E402
from splatkit.train.densify import DENSIFIERS  # noqa: E402
from splatkit.train.report import device_name  # noqa: E402


def test_ssim_is_one_for_identical_images_and_drops_with_noise() -> None:
    g = torch.Generator().manual_seed(0)
    img = torch.rand(32, 40, 3, generator=g)
    assert ssim(img, img).item() == pytest.approx(1.0, abs=1e-6)
    noisy = (img + 0.2 * torch.randn(32, 40, 3, generator=g)).clamp(0, 1)
    assert ssim(img, noisy).item() < 0.9


def _reference_ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM with a depthwise conv2d (independent of splatkit's blur), [H, W, C] inputs."""
    import torch.nn.functional as F

    x = torch.arange(11, dtype=a.dtype) - 5
    g = torch.exp(-(x**2) / (2 * 1.5**2))
    g = g / g.sum()
    c = a.shape[-1]
    win = (g[:, None] * g[None, :]).expand(c, 1, 11, 11)
    blur = lambda t: F.conv2d(t.permute(2, 0, 1)[None], win, padding=5, groups=c)[0]  # noqa: E731
    ma, mb = blur(a), blur(b)
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * ma * mb + c1) * (2 * (blur(a * b) - ma * mb) + c2)) / (
        (ma**2 + mb**2 + c1) * (blur(a * a) - ma**2 + blur(b * b) - mb**2 + c2))


def test_ssim_matches_an_independent_conv2d_ssim_and_the_windowed_formula() -> None:
    g = torch.Generator().manual_seed(1)
    a = torch.rand(23, 31, 3, generator=g, dtype=torch.float64)
    b = (a + 0.3 * torch.rand(23, 31, 3, generator=g, dtype=torch.float64)).clamp(0, 1)
    reference = _reference_ssim_map(a, b)
    assert ssim(a, b).item() == pytest.approx(reference.mean().item(), rel=1e-12)
    # The reference itself, at one interior pixel, against explicit 11x11 weighted moments.
    x = torch.arange(11, dtype=torch.float64) - 5
    w1 = torch.exp(-(x**2) / (2 * 1.5**2))
    w = (w1[:, None] * w1[None, :]) / w1.sum() ** 2
    pa, pb = a[5:16, 7:18, 0], b[5:16, 7:18, 0]
    mu_a, mu_b = (w * pa).sum(), (w * pb).sum()
    va, vb = (w * pa**2).sum() - mu_a**2, (w * pb**2).sum() - mu_b**2
    cov = (w * pa * pb).sum() - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    expected = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    assert reference[0, 10, 12].item() == pytest.approx(expected.item(), rel=1e-10)


def test_ssim_gradient_matches_finite_differences() -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.rand(9, 13, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.rand(9, 13, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: ssim(t, b), (a,))


def test_psnr_of_known_mse() -> None:
    a = torch.zeros(4, 4, 3)
    assert psnr(a + 0.1, a) == pytest.approx(20.0, abs=1e-4)


def test_init_scales_from_neighbours_and_floors_duplicates() -> None:
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], float)
    init = init_from_points(xyz, np.full((5, 3), 128, np.uint8), k_neighbors=3)
    assert np.isfinite(init.log_scales).all()
    assert init.means.dtype == np.float32 and init.quats[:, 0].tolist() == [1.0] * 5
    assert np.allclose(init.log_scales[1], np.log((1 + np.sqrt(2) + np.sqrt(2)) / 3), atol=1e-6)


def test_init_refuses_a_single_point_with_contract_error() -> None:
    with pytest.raises(ContractError):
        init_from_points(np.zeros((1, 3)), np.zeros((1, 3), np.uint8))


@given(arrays(np.float64, (5, 3), elements=st.floats(-1e4, 1e4)),
       arrays(np.float64, (7, 3), elements=st.floats(-1e4, 1e4)))
def test_normalization_round_trip_and_projection_invariance(centers: np.ndarray, pts: np.ndarray) -> None:
    norm = normalization_from_cameras(centers, pts)
    np.testing.assert_allclose(norm.points_to_world(norm.points_to_norm(pts)), pts, rtol=1e-9, atol=1e-6)
    # A camera's view of a point is unchanged up to the uniform depth scale.
    rot, t = np.eye(3), np.array([0.1, -0.2, 5.0])
    x_cam = pts @ rot.T + t
    r2, t2 = norm.pose_to_norm(rot, t)
    x_cam2 = norm.points_to_norm(pts) @ r2.T + t2
    np.testing.assert_allclose(x_cam2, x_cam * norm.scale, rtol=1e-7, atol=1e-7 * np.abs(x_cam * norm.scale).max())


def test_holdout_is_every_8th_by_name() -> None:
    names = tuple(f"image{i:03d}.png" for i in range(20))[::-1]
    train, held = split_holdout(names, 8)
    assert [names[i] for i in held] == ["image000.png", "image008.png", "image016.png"]
    assert len(train) == 17


MINE = {"config_digest": "c0ffee", "input_fingerprint": "5ce7e"}


def test_checkpoint_round_trip_and_refusals(tmp_path) -> None:
    payload = {"params": {"means": torch.arange(6.0).reshape(2, 3)}, "curve": [{"step": 1, "loss": 0.5}], **MINE}
    path = ckpt.save_checkpoint(tmp_path, 10, payload)
    assert ckpt.latest_checkpoint(tmp_path, MINE) == path
    data = ckpt.load_checkpoint(path)
    assert data["step"] == 10 and torch.equal(data["params"]["means"], payload["params"]["means"])
    assert ckpt.checkpoint_identity(path) == MINE
    ckpt.save_checkpoint(tmp_path, 20, payload)
    ckpt.prune_checkpoints(tmp_path, 1, MINE)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_00000020.pt"]
    (tmp_path / "ckpt_00000030.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="ckpt_00000030"):
        ckpt.load_checkpoint(tmp_path / "ckpt_00000030.pt")


def _write(folder, step: int, **identity: str):
    return ckpt.save_checkpoint(folder, step, {"params": {"means": torch.zeros(2, 3)}, **{**MINE, **identity}})


def test_latest_checkpoint_skips_newer_ones_of_another_scene_or_options(tmp_path, caplog) -> None:
    mine = _write(tmp_path, 20)
    _write(tmp_path, 30, input_fingerprint="other-scene")
    _write(tmp_path, 40, config_digest="other-options")
    (tmp_path / "ckpt_00000050.pt").write_bytes(b"garbage")
    ckpt.save_checkpoint(tmp_path, 60, {"params": {}})  # written before identities were recorded
    with caplog.at_level(logging.WARNING, logger="splatkit.train.checkpoint"):
        assert ckpt.latest_checkpoint(tmp_path, MINE) == mine
    why = {r.args[0].name: r.getMessage() for r in caplog.records}
    assert sorted(why) == ["ckpt_00000030.pt", "ckpt_00000040.pt", "ckpt_00000050.pt", "ckpt_00000060.pt"]
    assert "other input data" in why["ckpt_00000030.pt"]
    assert "other training options" in why["ckpt_00000040.pt"]
    assert "cannot be read" in why["ckpt_00000050.pt"]
    assert "other training options and other input data" in why["ckpt_00000060.pt"]
    assert ckpt.latest_checkpoint(tmp_path, {**MINE, "config_digest": "new"}) is None
    assert ckpt.latest_checkpoint(tmp_path / "missing", MINE) is None


def test_prune_keeps_the_newest_of_its_own_identity_and_leaves_others(tmp_path) -> None:
    for step in (10, 20, 30):
        _write(tmp_path, step)
    _write(tmp_path, 40, config_digest="stale")  # a newer step must not push out the current run's
    _write(tmp_path, 5, input_fingerprint="other-scene")
    ckpt.prune_checkpoints(tmp_path, 2, MINE)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt_00000005.pt", "ckpt_00000020.pt", "ckpt_00000030.pt", "ckpt_00000040.pt"]
    ckpt.prune_checkpoints(tmp_path, 0, MINE)  # the newest of the run is kept whatever `keep` says
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt_00000005.pt", "ckpt_00000030.pt", "ckpt_00000040.pt"]


def _reconstruction(**changes) -> Reconstruction:
    cam = Camera(model="PINHOLE", width=40, height=30, params=[36.0, 36.0, 20.0, 15.0])
    frames = Frames(names=("b.png", "a.png"), camera_index=np.zeros(2, np.int32),
                    rotation=np.stack([np.eye(3)] * 2), translation=np.array([[0.0, 0, 4], [1.0, 0, 4]]))
    points = Points(xyz=np.arange(12.0).reshape(4, 3), rgb=np.full((4, 3), 100, np.uint8), error=np.zeros(4))
    parts = {"cameras": (cam,), "frames": frames, "points": points, **changes}
    return Reconstruction(**parts)


def test_input_fingerprint_follows_the_scene_not_the_frame_order() -> None:
    base = _reconstruction()
    fp = ckpt.input_fingerprint(base)
    assert fp == ckpt.input_fingerprint(_reconstruction()) and len(fp) == 16
    f = base.frames
    reordered = Frames(names=f.names[::-1], camera_index=f.camera_index, rotation=f.rotation[::-1],
                       translation=f.translation[::-1])
    assert ckpt.input_fingerprint(_reconstruction(frames=reordered)) == fp
    p = base.points
    others = [
        _reconstruction(frames=Frames(names=("b.png", "c.png"), camera_index=f.camera_index,
                                      rotation=f.rotation, translation=f.translation)),
        _reconstruction(frames=Frames(names=f.names, camera_index=f.camera_index, rotation=f.rotation,
                                      translation=f.translation + 1e-9)),
        _reconstruction(cameras=(Camera(model="PINHOLE", width=80, height=60, params=[72.0, 72.0, 40.0, 30.0]),)),
        _reconstruction(points=Points(xyz=p.xyz[:3], rgb=p.rgb[:3], error=p.error[:3])),
        _reconstruction(points=Points(xyz=p.xyz + 1e-9, rgb=p.rgb, error=p.error)),
    ]
    assert len({fp, *(ckpt.input_fingerprint(r) for r in others)}) == 1 + len(others)


def test_device_name_on_cpu_names_the_processor_and_threads() -> None:
    name = device_name("cpu")
    assert name.startswith("cpu: ") and name.endswith("threads)"), name
    assert name.removeprefix("cpu: ").split(" (")[0], name


def test_checkpoint_with_pickled_object_is_refused(tmp_path) -> None:
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    path = tmp_path / "ckpt_00000001.pt"
    torch.save({"format": ckpt.CHECKPOINT_FORMAT, "version": 1, "step": 1, "x": Evil()}, path)
    with pytest.raises(InputError, match="cannot load checkpoint"):
        ckpt.load_checkpoint(path)


def test_config_digest_ignores_cadence_but_not_options() -> None:
    a = TrainConfig(steps=100)
    assert a.digest() == TrainConfig(steps=100, checkpoint_every=7).digest()
    assert a.digest() != TrainConfig(steps=100, lr_means=1e-3).digest()
    with pytest.raises(ContractError):
        TrainConfig(strategy="magic")


def test_every_strategy_name_has_one_densifier() -> None:
    assert tuple(DENSIFIERS) == STRATEGY_NAMES
    assert all(cls.name == name for name, cls in DENSIFIERS.items())
    for name in STRATEGY_NAMES:
        assert TrainConfig(strategy=name).strategy == name
