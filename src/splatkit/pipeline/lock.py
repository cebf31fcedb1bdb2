"""One run per output folder: an advisory lock on ``OUT/.splatkit.lock`` that names its holder.

Two runs on one output folder would delete each other's work: each treats the other's
``<stage>.partial/`` as "left by an attempt with other inputs" and wipes it, and both promote
stage folders. So a run holds an exclusive :func:`fcntl.flock` on ``OUT/.splatkit.lock`` for
its whole length and writes its process id into the file; a second run either stops at once
with :class:`OutputFolderBusyError` naming that pid, or (``wait=True``) blocks until the first
one ends and then finds its work up to date.

``flock`` locks belong to the open file, so the kernel releases them when the holder dies,
whatever kills it: a lock can never be left behind by a crash, and "no live holder" is simply
"the lock could be taken". The file itself is left in place: removing it would let a third run
lock a new file while a second still waits on the old one.

The lock is re-entrant within one thread (the pipeline holds it and :func:`run_stage
<splatkit.pipeline.runner.run_stage>` asks for it again): a second ``flock`` on a new open file
would block against the thread's own lock. Another thread of the same process is refused like
another process.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from splatkit.errors import InputError

__all__ = ["LOCK_FILE", "OutputFolderBusyError", "holding_out_dir", "lock_holder_pid", "out_dir_lock"]

logger = logging.getLogger(__name__)

#: Lock file inside the output folder; holds the holder's pid while a run holds the lock.
LOCK_FILE = ".splatkit.lock"

# (thread id, resolved folder) -> (open lock file descriptor, nesting depth): the locks held here.
_held: dict[tuple[int, str], tuple[int, int]] = {}
_held_guard = threading.Lock()


class OutputFolderBusyError(InputError):
    """Another splatkit process holds the output folder's lock.

    Attributes
    ----------
    pid : int or None
        The holder's process id as written in the lock file (None when it could not be read).
    """

    def __init__(self, out_dir: Path, pid: int | None) -> None:
        self.pid = pid
        who = f"pid {pid}" if pid is not None else "a process whose pid could not be read"
        super().__init__(f"another splatkit run ({who}) is using this output folder; wait for it to end, "
                         "pass --wait to queue behind it, or choose another output folder", path=out_dir)


def _key(out_dir: Path) -> tuple[int, str]:
    return threading.get_ident(), str(Path(out_dir).resolve())


def holding_out_dir(out_dir: str | Path) -> bool:
    """True when this thread holds ``out_dir``'s lock."""
    with _held_guard:
        return _key(Path(out_dir)) in _held


def lock_holder_pid(out_dir: str | Path) -> int | None:
    """The pid written in ``out_dir``'s lock file (None: no file, empty, or not a number).

    The file keeps the last holder's pid only while it holds the lock (it is emptied on
    release), but a holder killed with SIGKILL leaves its pid behind: only a failed lock
    attempt proves that the pid read here is alive.
    """
    try:
        text = (Path(out_dir) / LOCK_FILE).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def out_dir_lock(out_dir: str | Path, *, wait: bool = False) -> Iterator[Path]:
    """Hold ``out_dir``'s exclusive lock for the block (``out_dir`` must exist).

    Parameters
    ----------
    out_dir
        The output folder.
    wait
        Block until the holder ends instead of raising (a logged warning names it).

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    OutputFolderBusyError
        Another process holds the lock and ``wait`` is False.
    InputError
        The lock file cannot be created (the folder is not writable).
    """
    out_dir = Path(out_dir)
    path = out_dir / LOCK_FILE
    key = _key(out_dir)
    with _held_guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _held_guard:
                fd, depth = _held[key]
                _held[key] = (fd, depth - 1)
        return

    try:
        # O_CLOEXEC: a tool the run starts (exec) must not keep the lock after the run ends.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise InputError(f"cannot create the lock file {LOCK_FILE} ({e.strerror or e}); fix the folder's "
                         "permissions or choose another output folder", path=out_dir) from e
    try:
        locked = _acquire(fd, out_dir, wait=wait)
        if locked:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except BaseException:
        os.close(fd)
        raise
    with _held_guard:
        _held[key] = (fd, 1)
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
        try:
            if locked:
                os.ftruncate(fd, 0)  # "no pid" while nobody holds it
        finally:
            os.close(fd)  # releases the flock


def _acquire(fd: int, out_dir: Path, *, wait: bool) -> bool:
    """Take the flock on ``fd``; False when the file system has no locks (then the run goes on)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    except OSError as e:
        if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            logger.warning("%s: this file system does not support locks (%s); not guarding against a second run "
                           "on the same output folder", out_dir, e.strerror)
            return False
        raise
    pid = _read_holder(out_dir)
    if not wait:
        raise OutputFolderBusyError(out_dir, pid)
    logger.warning("%s: waiting for the splatkit run that holds it (pid %s) to end", out_dir,
                   pid if pid is not None else "unknown")
    fcntl.flock(fd, fcntl.LOCK_EX)
    return True


def _read_holder(out_dir: Path) -> int | None:
    """The holder's pid; it writes it just after locking, so an empty file is read again briefly."""
    import time

    for _ in range(20):
        pid = lock_holder_pid(out_dir)
        if pid is not None:
            return pid
        time.sleep(0.01)
    return None
