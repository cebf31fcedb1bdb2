"""Run small numba kernels on one thread.

Starting a parallel region costs little on an idle machine but can stall for a scheduler time
slice when the cores are oversubscribed (measured here: a 8-Gaussian 24x20 render took ~1.2 ms
on one thread and 4-30 ms on two under load). Below :data:`SERIAL_BELOW` work items a kernel
gains nothing from threads, so it runs on the calling thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

SERIAL_BELOW = 16384


@contextlib.contextmanager
def threads_for(work_items: int) -> Iterator[None]:
    """Within the block, numba's parallel loops use 1 thread if ``work_items`` is small."""
    if work_items >= SERIAL_BELOW:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
