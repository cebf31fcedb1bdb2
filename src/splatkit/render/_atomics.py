"""An atomic counter for numba kernels: threads take the next tile of a shared list.

numba's ``prange`` (``omp`` layer, as torch's libgomp is loaded) hands each thread one fixed,
contiguous block of iterations. With the cores shared by other processes a thread that is
descheduled holds up the end of the whole loop; pulling tiles from a shared counter (dynamic
scheduling) lets the other thread take them. numba has no CPU atomics, so this is an LLVM
``atomicrmw add`` as a numba intrinsic, built on first use (importing this module stays light).
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def fetch_add_first_intrinsic() -> Any:
    """The numba intrinsic ``fetch_add_first(counter)``: ``old = counter[0]; counter[0] += 1; return old``,
    atomically (``counter``: int64 array). Built once per process; imports numba."""
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def fetch_add_first(typingctx: Any, counter: Any) -> Any:
        if not (isinstance(counter, types.Array) and counter.dtype == types.int64):
            return None
        sig = types.int64(counter)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            array = context.make_array(signature.args[0])(context, builder, args[0])
            one = context.get_constant(types.int64, 1)
            return builder.atomic_rmw("add", array.data, one, "monotonic")

        return sig, codegen

    return fetch_add_first
