"""SOG v2 per-attribute packing: positions, quaternions, opacity, texture sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from splatkit.errors import ContractError
from splatkit.io import sog

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)


@given(st.integers(1, 5_000_000))
def test_image_size_rules(count: int) -> None:
    w, h = sog.image_size(count)
    assert w % 4 == 0 and h % 4 == 0
    assert w * h >= count
    # no whole spare row block: removing 4 rows would not fit
    assert w * (h - 4) < count
    assert w == math.ceil(math.sqrt(count) / 4) * 4


def test_image_size_known_values() -> None:
    # splat-transform 3.7.0 sizes (write-sog.ts): 100K -> 320x316, 1 -> 4x4
    assert sog.image_size(100_000) == (320, 316)
    assert sog.image_size(1) == (4, 4)
    assert sog.image_size(1_000_000) == (1000, 1000)


def test_count_beyond_webp_limit_is_refused() -> None:
    with pytest.raises(ContractError, match="16383"):
        sog.check_count_fits(16384 * 16384)
    assert sog.check_count_fits(16380 * 16380) == (16380, 16380)
    with pytest.raises(ContractError):
        sog.image_size(0)


@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.just(3)), elements=finite))
def test_means_round_trip_within_half_symlog_step(means: np.ndarray) -> None:
    lower, upper, mins, maxs = sog.pack_means(means)
    assert (lower[:, 3] == 255).all() and (upper[:, 3] == 255).all()
    decoded = sog.unpack_means(lower, upper, mins, maxs)
    p = means.astype(np.float64)
    step = (np.asarray(maxs) - np.asarray(mins)) / 65535.0
    bound = (np.abs(p) + 1.0) * np.expm1(step / 2.0) + 1e-9 * (np.abs(p) + 1.0)
    assert (np.abs(decoded - p) <= bound).all()


def test_means_flat_axis_decodes_exactly() -> None:
    means = np.array([[1.5, -2.0, 0.0], [1.5, 3.0, 0.0]])
    lower, upper, mins, maxs = sog.pack_means(means)
    assert np.allclose(sog.unpack_means(lower, upper, mins, maxs), means, atol=1e-12)


quat = arrays(np.float32, 4, elements=st.floats(-1, 1, allow_nan=False, width=32)).filter(
    lambda q: float(np.linalg.norm(q.astype(np.float64))) > 1e-3)


@given(st.lists(quat, min_size=1, max_size=30))
def test_quaternion_smallest_three_round_trip_up_to_sign(quats: list[np.ndarray]) -> None:
    q = np.stack(quats).astype(np.float64)
    packed = sog.pack_quats(q)
    assert ((packed[:, 3] >= 252) & (packed[:, 3] <= 255)).all()
    decoded = sog.unpack_quats(packed)
    assert np.allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-9)
    unit = q / np.linalg.norm(q, axis=1, keepdims=True)
    angle = 2.0 * np.arccos(np.clip(np.abs((unit * decoded).sum(axis=1)), 0.0, 1.0))
    assert (angle <= sog.QUAT_MAX_ANGLE_RAD).all()


def test_quaternion_largest_component_tag_and_sign() -> None:
    q = np.array([[0.1, -0.9, 0.2, 0.1], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    packed = sog.pack_quats(q)
    assert list(packed[:, 3]) == [253, 252, 255]
    # -w largest: flipped to +w, the others stay at 0 -> 127.5 rounds to 128
    assert list(packed[1, :3]) == [128, 128, 128]
    assert np.allclose(sog.unpack_quats(packed)[1], [1, 0, 0, 0], atol=0.01)


def test_invalid_quaternion_tag_decodes_identity() -> None:
    pixels = np.array([[10, 20, 30, 7]], np.uint8)
    assert np.array_equal(sog.unpack_quats(pixels), [[1.0, 0.0, 0.0, 0.0]])


@given(arrays(np.float32, st.integers(1, 50), elements=st.floats(-30, 30, allow_nan=False, width=32)))
def test_opacity_alpha_round_trip(logits: np.ndarray) -> None:
    alpha = sog.opacity_to_alpha(logits)
    back = sog.alpha_to_opacity(alpha)
    sig = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    assert (np.abs(1.0 / (1.0 + np.exp(-back)) - sig) <= 0.5 / 255 + 1e-6).all()


def test_symlog_inverse() -> None:
    v = np.array([-1e3, -1.0, 0.0, 0.5, 1e6])
    assert np.allclose(sog.symlog_inverse(sog.symlog(v)), v, rtol=1e-12)
