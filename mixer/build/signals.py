"""SIGTERM and SIGHUP end a build the way Ctrl-C does.

``kill``, ``timeout``, a scheduler ending a job and a closed terminal send SIGTERM or SIGHUP. Their default
action ends the build's process on the spot: its ``finally`` blocks never run, so datatrove's process pool,
its manager (a forked child) and, through them, multiprocessing's fork server and resource tracker live on.
Inside :func:`signals_end_like_ctrl_c` the build's process turns either signal into :class:`Terminated`, a
``KeyboardInterrupt``: the same unwinding as Ctrl-C stops the workers, shuts the manager down and releases
the lock, and the command line exits with 128 + the signal's number, saying how to resume.

A signal sent to the whole process group (a closed terminal, ``timeout``) also reaches the manager, which the
build still needs while it unwinds (the pool's queue holds references to it): a forked child ignores the
signal while the build that forked it lives, and the build ends it. The resource tracker is started deaf to
SIGHUP for the same reason (:func:`mixer.build.engine._start_workers_deaf_to_ctrl_c`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The build was asked to stop by a signal other than Ctrl-C's SIGINT."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def signals_end_like_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in this process (main thread only;
    elsewhere signals cannot be handled and nothing changes). A second signal while the build unwinds is
    ignored, so the unwinding finishes; the previous handlers return at the end of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def stop(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a child the build forked (datatrove's manager) inherited this handler
            if os.getppid() == owner:
                return  # a signal to the whole group: the build, stopping, still needs it and will end it
            signal.signal(signum, signal.SIG_DFL)  # the build has gone: end as the signal says
            os.kill(os.getpid(), signum)
            return
        for s in ENDING_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {s: signal.signal(s, stop) for s in ENDING_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
