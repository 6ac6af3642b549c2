"""Run untrusted Python in a separate, limited and isolated process, many at a time.

    sandbox = Sandbox(Limits(timeout=5, memory_mb=512), workers=4)
    result = sandbox.run({"main.py": "print(sum(range(10)))"})
    result.exit_code, result.stdout, result.isolation   # 0, b'45\\n', ('network-namespace', ...)

Every run is a fresh process tree started in its own session from :mod:`mixer.sandbox.boot`, which
isolates it as far as this machine allows (namespaces, a private read-only root, an unprivileged uid)
and sets its limits before it execs the interpreter on the program. This process only writes the
program's files into a private temporary folder, feeds stdin, keeps a bounded amount of stdout and
stderr, and kills the whole process group at the wall-clock limit; it never executes the program's
code itself. See docs/sandbox.md for what is and is not contained.
"""

from __future__ import annotations

import errno
import marshal
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot.py")
SANDBOX_UID = 65534  # "nobody": what a sandbox started by root runs as
TAIL_BYTES = 4096  # the end of each stream is kept beyond the cap (tracebacks and markers live there)
DRAIN_SECONDS = 1.0  # after the program exits, how long stray holders of its pipes may keep them open
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONUTF8": "1"}


class SandboxError(RuntimeError):
    """The sandbox itself could not run (not the program's fault): fix the machine, not the data."""


@dataclass(frozen=True)
class Limits:
    """What one run may use. Memory is address space, so it also bounds thread stacks and mappings."""

    timeout: float = 10.0  # wall-clock seconds from start to exit; then the process group is killed
    cpu_seconds: float | None = None  # CPU time (RLIMIT_CPU, whole seconds, rounded up); None: timeout
    memory_mb: int = 1024  # address space of each process (RLIMIT_AS)
    file_size_mb: int = 16  # largest file it may write (RLIMIT_FSIZE)
    disk_mb: int = 64  # size of its writable folder (a tmpfs, when it has a private root)
    max_files: int = 4096  # files and folders it may create there (the tmpfs's inodes)
    max_processes: int = 32  # processes and threads it may have at once (RLIMIT_NPROC)
    max_output_bytes: int = 65536  # per stream kept in memory, plus the last TAIL_BYTES

    @property
    def cpu_limit(self) -> int:
        return max(1, math.ceil(self.cpu_seconds if self.cpu_seconds is not None else self.timeout))


@dataclass
class RunResult:
    """How a run ended. ``exit_code`` is None when the program was killed by ``signal``."""

    exit_code: int | None
    signal: int | None
    timed_out: bool  # killed at the wall-clock limit
    wall_seconds: float
    cpu_seconds: float  # of the program (and the children it waited for)
    stdout: bytes  # the first max_output_bytes, then "[... N bytes omitted ...]" and the last bytes
    stderr: bytes
    stdout_bytes: int  # as written, before truncation
    stderr_bytes: int
    cpu_exceeded: bool  # killed for using its CPU time
    isolation: tuple[str, ...]  # the layers that were in effect (see docs/sandbox.md)
    notes: list[str] = field(default_factory=list)  # layers that were wanted and not available


class _Capture:
    """A stream's first ``cap`` bytes and its last TAIL_BYTES; everything in between is counted, not kept."""

    def __init__(self, cap: int):
        self.cap, self.head, self.tail, self.total = cap, bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        if len(self.head) < self.cap:
            room = self.cap - len(self.head)
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[:-TAIL_BYTES]

    def value(self) -> bytes:
        if self.total <= self.cap:
            return bytes(self.head)
        omitted = self.total - self.cap - len(self.tail)
        gap = f"\n[... {omitted} bytes omitted ...]\n".encode() if omitted else b""
        return bytes(self.head) + gap + bytes(self.tail)


class Sandbox:
    """Runs programs in isolated processes; :meth:`submit` and :meth:`map` run up to ``workers`` at once."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        workers: int | None = None,
        isolate: bool = True,
        python: str | None = None,
    ):
        self.limits = limits or Limits()
        self.workers = workers or os.cpu_count() or 1
        self.isolate = isolate
        self.python = os.path.realpath(python or sys.executable)
        self._pool: ThreadPoolExecutor | None = None

    # --- one run ----------------------------------------------------------------------------------------

    def run(
        self,
        files: Mapping[str, str | bytes],
        *,
        main: str = "main.py",
        stdin: bytes = b"",
        args: Iterable[str] = (),
    ) -> RunResult:
        """Run ``python main`` in a fresh sandbox whose folder holds ``files`` (flat names only)."""
        work = tempfile.mkdtemp(prefix="mixer-sandbox-")
        try:
            program = os.path.join(work, "program")
            os.mkdir(program)
            os.mkdir(os.path.join(work, "root"))
            for name, content in files.items():
                if not name or "/" in name or name.startswith("."):
                    raise ValueError(f"sandbox file names are plain names, not {name!r}")
                with open(os.path.join(program, name), "wb") as f:
                    f.write(content.encode() if isinstance(content, str) else content)
            return self._run(work, program, main, stdin, list(args))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _config(self, work: str, program: str, main: str, args: list[str], report_fd: int) -> dict:
        limits = self.limits
        flags = ["-s", "-S", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        dirs = {os.path.realpath(d) for d in (sys.base_prefix, sys.base_exec_prefix)}
        dirs.add(os.path.dirname(self.python))
        return {
            "report_fd": report_fd,
            "isolate": self.isolate,
            "python": self.python,
            # Not -I: it implies -E, which would ignore PYTHONHASHSEED; the environment is built from
            # scratch instead, which is what -E protects against, and the hash seed is pinned so that a
            # program's set and dict order, and so its verdict, is the same on every run.
            "python_flags": flags,
            "interpreter_dirs": sorted(dirs),
            "main": main,
            "args": args,
            "program_dir": program,
            "root_dir": os.path.join(work, "root"),
            "uid": SANDBOX_UID,
            "env": ENV,
            "cpu_seconds": limits.cpu_limit,
            "memory_bytes": limits.memory_mb << 20,
            "file_size_bytes": limits.file_size_mb << 20,
            "disk_kb": limits.disk_mb << 10,
            "max_files": limits.max_files,
            "max_processes": limits.max_processes,
        }

    def _run(self, work: str, program: str, main: str, stdin: bytes, args: list[str]) -> RunResult:
        report_r, report_w = os.pipe()
        config_r, config_w = os.pipe()
        config = marshal.dumps(self._config(work, program, main, args, report_w))
        start = time.monotonic()
        try:
            # the configuration waits in a pipe, not on the command line that /proc/PID/cmdline shows
            if len(config) > 60000:
                raise SandboxError(f"sandbox configuration of {len(config)} bytes does not fit a pipe")
            os.write(config_w, config)
            os.close(config_w)
            config_w = -1
            proc = subprocess.Popen(
                [self.python, "-I", "-S", BOOT, str(config_r)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(report_w, config_r),
                start_new_session=True,  # its own process group: one killpg reaches everything it starts
                cwd=work,
                env=ENV,
            )
        except BaseException:
            os.close(report_r)
            raise
        finally:
            os.close(report_w)
            os.close(config_r)
            if config_w >= 0:
                os.close(config_w)
        out, err, report = (
            _Capture(self.limits.max_output_bytes),
            _Capture(self.limits.max_output_bytes),
            _Capture(1 << 16),
        )
        timed_out = self._supervise(
            proc, start, stdin, {proc.stdout.fileno(): out, proc.stderr.fileno(): err, report_r: report}
        )
        wall = time.monotonic() - start
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream and not stream.closed:
                stream.close()
        os.close(report_r)
        return self._result(proc.returncode, timed_out, wall, out, err, report)

    def _supervise(
        self, proc: subprocess.Popen, start: float, stdin: bytes, streams: dict[int, _Capture]
    ) -> bool:
        """Pump the pipes until the program has exited (or was killed at the deadline); reap it."""
        deadline = start + self.limits.timeout
        sel = selectors.DefaultSelector()
        for fd in streams:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        pending = memoryview(stdin)
        in_fd = proc.stdin.fileno()
        if pending:
            os.set_blocking(in_fd, False)
            sel.register(in_fd, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        timed_out = exited = False
        drain_until = math.inf
        while True:
            now = time.monotonic()
            if not exited and _has_exited(proc.pid):
                exited = True
                drain_until = now + DRAIN_SECONDS
            elif not exited and now >= deadline:
                timed_out = True
                _kill_group(proc.pid)
                deadline = math.inf
            if exited and (not sel.get_map() or now >= drain_until):
                break
            if not sel.get_map():  # pipes all closed, process not yet gone: poll briefly
                time.sleep(0.001)
                continue
            wait = min(deadline, drain_until) - now
            for key, _ in sel.select(timeout=min(max(wait, 0), 0.1)):
                fd = key.fd
                if fd == in_fd:
                    try:
                        pending = pending[os.write(fd, pending[:65536]) :]
                    except OSError as e:  # it closed stdin or exited: the rest is not wanted
                        if e.errno not in (errno.EPIPE, errno.EAGAIN):
                            raise
                        pending = pending[:0] if e.errno == errno.EPIPE else pending
                    if not pending:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    streams[fd].add(data)
                else:
                    sel.unregister(fd)
        sel.close()
        proc.wait()
        return timed_out

    def _result(
        self, returncode: int, timed_out: bool, wall: float, out: _Capture, err: _Capture, report: _Capture
    ) -> RunResult:
        isolation: list[str] = []
        notes: list[str] = []
        status = None
        cpu = 0.0
        for line in report.value().decode(errors="replace").splitlines():  # see mixer.sandbox.boot
            kind, _, rest = line.partition(" ")
            if kind == "error":
                raise SandboxError(f"{rest} (stderr: {err.value()[-2000:].decode(errors='replace')})")
            if kind == "isolation":
                isolation += rest.split()
            elif kind == "note":
                notes.append(rest)
            elif kind == "status":
                status, cpu = int(rest.split()[0]), float(rest.split()[1])
        if status is None and returncode == 125:
            raise SandboxError(f"sandbox setup failed: {err.value()[-2000:].decode(errors='replace')}")
        if status is not None:  # the program's own status, as its init saw it
            code = os.waitstatus_to_exitcode(status)
        else:  # its supervisor died first (killed by us at the deadline, or by the program)
            code = returncode if returncode < 0 else -signal.SIGKILL
        sig = -code if code < 0 else None
        return RunResult(
            exit_code=code if code >= 0 else None,
            signal=sig,
            timed_out=timed_out,
            wall_seconds=round(wall, 4),
            cpu_seconds=cpu,
            stdout=out.value(),
            stderr=err.value(),
            stdout_bytes=out.total,
            stderr_bytes=err.total,
            # SIGXCPU at the soft limit; SIGKILL a second later if it ignored that
            cpu_exceeded=sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= self.limits.cpu_limit),
            isolation=tuple(isolation),
            notes=notes,
        )

    # --- many runs --------------------------------------------------------------------------------------

    def submit(self, files: Mapping[str, str | bytes], **kwargs) -> Future[RunResult]:
        """Queue a run on the worker pool (started on first use); its result is the future's."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")
        return self._pool.submit(self.run, files, **kwargs)

    def map(self, programs: Iterable[Mapping[str, str | bytes]], **kwargs) -> Iterator[RunResult]:
        """Run many programs, ``workers`` at a time, yielding results in input order (bounded look-ahead)."""
        yield from ordered((self.submit(p, **kwargs) for p in programs), 2 * self.workers)

    def probe(self) -> RunResult:
        """Run an empty program: what isolation this machine gives, and whether the sandbox works at all."""
        result = self.run({"main.py": "pass\n"})
        if result.exit_code != 0:
            raise SandboxError(
                f"the sandbox cannot run {self.python}: exit {result.exit_code}, signal {result.signal}, "
                f"{result.stderr[-2000:].decode(errors='replace')}"
            )
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ordered(futures: Iterable[Future], window: int) -> Iterator:
    """The futures' results in input order, keeping at most ``window`` of them in flight."""
    from collections import deque

    queue: deque[Future] = deque()
    for fut in futures:
        queue.append(fut)
        if len(queue) >= window:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` has exited; if so, kill what is left of its process group.

    The exited leader stays a zombie until ``Popen.wait`` reaps it (WNOWAIT), so its pid, which is also
    its group's id, cannot be reused by another process before the group is killed.
    """
    try:
        if not os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            return False
    except ChildProcessError:  # reaped by someone else (a SIGCHLD handler): its group id is not safe
        return True
    _kill_group(pid)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
