"""Damaged copies of a file: truncated and bit-flipped, the inputs a hostile-input reader must survive."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["Corruption", "corruptions"]


@dataclass(frozen=True)
class Corruption:
    """One damaged version of a file's bytes.

    Attributes
    ----------
    label : str
        What was done, for messages (``"truncated to 12 of 480 bytes"``).
    data : bytes
        The damaged content.
    """

    label: str
    data: bytes


def corruptions(data: bytes, *, flips: int = 16, seed: int = 0) -> Iterator[Corruption]:
    """Truncations at a few lengths, then ``flips`` copies with one byte XOR-ed.

    Half of the flipped bytes fall in the first 512 bytes (headers, magic numbers, lengths:
    where a reader decides how much to allocate), half anywhere. Deterministic per ``seed``.
    """
    size = len(data)
    cuts = sorted({c for c in (1, 4, 16, size // 4, size // 2, size - 1) if 0 < c < size})
    for cut in cuts:
        yield Corruption(f"truncated to {cut} of {size} bytes", data[:cut])
    if size == 0:
        return
    rng = np.random.default_rng(seed)
    for i in range(flips):
        limit = min(size, 512) if i % 2 == 0 else size
        position = int(rng.integers(0, limit))
        mask = int(rng.integers(1, 256))
        damaged = bytearray(data)
        damaged[position] ^= mask
        yield Corruption(f"byte {position} of {size} XOR 0x{mask:02x}", bytes(damaged))
