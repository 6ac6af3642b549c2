"""One build at a time per output folder.

An advisory ``flock`` on ``work/build.lock``: the kernel drops it when the holder exits, however it exits,
so a crashed or killed build never leaves a stale lock behind, and a second build on the same folder is
refused at once instead of interleaving its writes with the first. Children the build forks do not keep
the lock's descriptor, so none of them can hold the lock after the build has gone.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mixer.errors import PlanError

_held: set[int] = set()  # descriptors of the locks this process holds


def _forget_locks_in_child() -> None:
    # A forked child (datatrove's manager, a pool started with fork) shares the lock's open file: while
    # it lived, even after the build ended, the lock would stay taken. Its copy of the descriptor is
    # closed; the build's own copy keeps the lock.
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_forget_locks_in_child)


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    path = Path(output) / "work" / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise PlanError(
                f"{output} is being written by {holder}; wait for it to finish (or stop it) and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"mixer pid {os.getpid()}".encode(), 0)
        _held.add(fd)
        yield
    finally:
        _held.discard(fd)
        os.close(fd)  # releases the lock
