"""The trusted first stage of a sandbox process: isolate, limit, then exec the untrusted program.

:mod:`mixer.sandbox.run` starts this file as ``python -I -S boot.py FD`` in a new session, the
configuration waiting in the pipe FD (never on a command line, which ``/proc/PID/cmdline`` would show).
It imports the standard library only and runs as three processes:

``boot``
    joins a new, empty session keyring; enters new namespaces (mount, network, PID, IPC; first a user
    namespace when not root), builds a private root file system (a read-only view of the interpreter
    and system libraries, a size- and inode-limited writable ``/sandbox``) and forks ``init``;
``init``
    PID 1 of the new PID namespace: forks the candidate, writes its user namespace's id maps, unmounts
    ``/proc`` (the candidate gets none), reaps, reports its wait status. When it exits, the kernel kills
    whatever the candidate left running;
``candidate``
    drops root (to uid 65534) and enters a user namespace of its own, so that ``RLIMIT_NPROC`` counts
    its processes only; sets the resource limits and a seccomp filter (no memfd, SysV IPC, keyrings,
    namespaces, mounts, io_uring, ptrace or BPF), changes to its directory and execs the interpreter
    on the program with an environment built from scratch.

Each layer that cannot be had (no user namespaces, a seccomp filter, an unknown architecture) is
skipped and left out of the report, so the builder records what was really in effect. The report is a
line per event (``isolation a b c``, ``note text``, ``status WAITSTATUS CPU_SECONDS``, ``error text``)
written to the pipe whose number the config names. Every import here costs each sandbox its start-up
time, so this file keeps to modules that are built in or light (no json, re or shutil).
"""

from __future__ import annotations

import ctypes
import marshal
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NAMESPACES = 0x7E020000  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_SYNCHRONOUS, MS_MANDLOCK, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 16, 64, 1024, 2048, 1 << 21
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
KEYCTL_JOIN_SESSION_KEYRING = 1
# statvfs flag -> mount flag that a read-only remount must keep (a user namespace may not drop them)
KEPT_FLAGS = {
    os.ST_RDONLY: MS_RDONLY,
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_SYNCHRONOUS: MS_SYNCHRONOUS,
    os.ST_MANDLOCK: MS_MANDLOCK,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "i686": 217}
# System calls the candidate is refused, per architecture: (audit arch, keyctl, {name: number}). Memory
# that RLIMIT_AS does not count (memfd, SysV shared memory), the builder's keys, new namespaces and
# mounts (a tmpfs in a namespace of its own is memory outside disk_mb), and kernel surfaces that
# verified code never needs.
SECCOMP = {
    "x86_64": (0xC000003E, 250, {
        "memfd_create": 319, "memfd_secret": 447, "keyctl": 250, "add_key": 248, "request_key": 249,
        "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
        "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "unshare": 272,
        "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "userfaultfd": 323, "perf_event_open": 298, "bpf": 321, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311,
    }, 56),
    "aarch64": (0xC00000B7, 219, {
        "memfd_create": 279, "memfd_secret": 447, "keyctl": 219, "add_key": 217, "request_key": 218,
        "msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191,
        "semtimedop": 192, "semop": 193, "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197,
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "userfaultfd": 282, "perf_event_open": 241, "bpf": 280, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271,
    }, 220),
}  # fmt: skip
CLONE3 = 435  # refused with ENOSYS, so that the C library falls back to clone, whose flags are checked
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> bool:
    return _libc.unshare(flags) == 0


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


class Report:
    def __init__(self, fd: int):
        self.fd = fd
        os.set_inheritable(fd, False)  # closed by the candidate's exec, kept across fork

    def send(self, kind: str, *words: object) -> None:
        line = " ".join([kind, *map(str, words)]).replace("\n", " ")
        os.write(self.fd, (line + "\n").encode())


def _map_ids(uid: int, gid: int) -> None:
    """Map our own ids into the user namespace just entered (all an unprivileged process may map)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def enter_namespaces(notes: list[str]) -> list[str]:
    layers: list[str] = []
    if os.geteuid() != 0:  # an unprivileged process needs a user namespace to create the others
        uid, gid = os.getuid(), os.getgid()
        if not _unshare(CLONE_NEWUSER):
            notes.append(f"no user namespace ({os.strerror(ctypes.get_errno())})")
            return layers
        _map_ids(uid, gid)
        layers.append("user-namespace")
    for flag, name in (
        (CLONE_NEWNET, "network-namespace"),
        (CLONE_NEWPID, "pid-namespace"),
        (CLONE_NEWNS, "mount-namespace"),
        (CLONE_NEWIPC, "ipc-namespace"),
    ):
        if _unshare(flag):
            layers.append(name)
        else:
            notes.append(f"no {name} ({os.strerror(ctypes.get_errno())})")
    return layers


def private_root(cfg: dict, with_proc: bool) -> str:
    """Pivot into a tmpfs holding read-only binds of the interpreter and system libraries; return the cwd.

    The candidate sees no other file of the host: not the builder's data, not /etc, /home, /tmp or
    the host's processes (its /proc, when there is a PID namespace, shows the sandbox's own).
    """
    machine = os.uname().machine
    if machine not in PIVOT_ROOT:
        raise OSError(f"pivot_root: unknown system call number on {machine}")
    new = cfg["root_dir"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount propagates back to the host
    _mount("mixer-sandbox", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    binds = [d for d in SYSTEM_DIRS if os.path.lexists(d)]
    for extra in cfg["interpreter_dirs"]:
        if not any(extra == b or extra.startswith(b + "/") for b in binds):
            binds.append(extra)
    for path in binds:
        inside = new + path
        if os.path.islink(path) and path in SYSTEM_DIRS:  # /lib -> usr/lib on merged-/usr systems
            os.symlink(os.readlink(path), inside)
            continue
        os.makedirs(inside, exist_ok=True)
        _mount(path, inside, None, MS_BIND | MS_REC)
    os.makedirs(new + "/dev")
    for dev in DEVICES:
        if os.path.exists(dev):
            open(new + dev, "w").close()
            _mount(dev, new + dev, None, MS_BIND)
    box = new + "/sandbox"
    os.mkdir(box)
    _mount(
        "mixer-sandbox",
        box,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={cfg['disk_kb']}k,nr_inodes={cfg['max_files']},mode=700",
    )
    for name in os.listdir(cfg["program_dir"]):
        with (
            open(os.path.join(cfg["program_dir"], name), "rb") as src,
            open(os.path.join(box, name), "wb") as dst,
        ):
            dst.write(src.read())
    os.symlink("sandbox", new + "/tmp")
    os.mkdir(new + "/proc")
    if with_proc:  # this PID namespace's processes only: init writes the candidate's id maps through it
        _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.geteuid() == 0:  # the candidate runs as the sandbox uid; let it write its own folder
        for path in [box] + [os.path.join(box, n) for n in os.listdir(box)]:
            os.chown(path, cfg["uid"], cfg["uid"])
    for mount_point in _mount_points_under(new):
        if mount_point in (box, new + "/proc") or mount_point.startswith(new + "/dev/"):
            continue
        flags = sum(m for s, m in KEPT_FLAGS.items() if os.statvfs(mount_point).f_flag & s)
        _mount(None, mount_point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
    os.chdir(new)
    _check(_libc.syscall(PIVOT_ROOT[machine], b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the host's tree, stacked under ours
    os.chdir("/sandbox")
    return "/sandbox"


def _mount_points_under(root: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == root or point.startswith(root + "/"):
                out.append(point)
    return out


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as octal escapes (\\040)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _others_can_run(paths: list[str]) -> bool:
    """Whether a uid with no rights of its own can reach these paths (every folder above needs o+x)."""
    for path in paths:
        parts = os.path.realpath(path).split("/")
        for i in range(2, len(parts) + 1):
            st = os.stat("/".join(parts[:i]) or "/")
            if not st.st_mode & 0o005:
                return False
    return True


def become_candidate(
    cfg: dict, cwd: str, report: Report, layers: list[str], handshake: tuple[int, int]
) -> None:
    """Runs in the candidate's process: drop privileges, set limits, exec. Never returns.

    ``handshake`` is (write end to init, read end from init): after entering its own user namespace the
    candidate says so and waits while init writes its id maps and takes ``/proc`` away.
    """
    to_init, from_init = handshake
    mine: list[str] = []
    nproc = cfg["max_processes"]
    in_userns = "user-namespace" in layers
    own_userns = False
    if os.geteuid() == 0:
        private = "private-root" in layers
        if private or _others_can_run([cfg["python"], *cfg["interpreter_dirs"]]):
            if not private:  # its folder on the host: let the sandbox uid in
                os.chmod(os.path.dirname(cfg["program_dir"]), 0o711)
                os.chown(cfg["program_dir"], cfg["uid"], cfg["uid"])
            os.setgroups([])
            os.setgid(cfg["uid"])
            os.setuid(cfg["uid"])
            mine.append(f"uid-{cfg['uid']}")
            _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # setuid cleared it; init writes our maps through /proc
            # A user namespace of its own gives it a process count of its own: RLIMIT_NPROC is counted per
            # (user namespace, uid), so concurrent sandboxes under the same uid do not share one budget.
            if _unshare(CLONE_NEWUSER):
                in_userns = own_userns = True
                mine.append("user-namespace")
        else:
            report.send("note", f"running as root: uid {cfg['uid']} cannot reach the interpreter")
    os.write(to_init, b"1" if own_userns else b"0")
    os.close(to_init)
    os.read(
        from_init, 1
    )  # init has written our maps (unmapped, we run as the overflow uid) and unmounted /proc
    os.close(from_init)
    if "user-namespace" in layers:
        nproc += 2  # boot and init were counted in that namespace before the candidate
    elif not in_userns and os.geteuid() != 0:
        nproc += _tasks_of(os.getuid())  # the count is per user: leave room for what already runs
    limits = {
        resource.RLIMIT_CPU: (cfg["cpu_seconds"], cfg["cpu_seconds"] + 1),  # SIGXCPU, then SIGKILL
        resource.RLIMIT_AS: (cfg["memory_bytes"],) * 2,
        resource.RLIMIT_FSIZE: (cfg["file_size_bytes"],) * 2,
        resource.RLIMIT_NPROC: (nproc, nproc),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (256, 256),
    }
    for which, value in limits.items():
        resource.setrlimit(which, value)
    mine.append("rlimits")
    if cfg["isolate"]:
        if install_seccomp():
            mine.append("seccomp")
        else:
            report.send(
                "note", f"no seccomp filter ({os.uname().machine}: {os.strerror(ctypes.get_errno())})"
            )
    report.send("isolation", *mine)
    os.chdir(cwd)
    env = dict(cfg["env"], HOME=cwd, TMPDIR=cwd)
    try:
        os.execve(cfg["python"], [cfg["python"], *cfg["python_flags"], cfg["main"], *cfg["args"]], env)
    except OSError as e:
        report.send("error", f"cannot run {cfg['python']}: {e}")
    os._exit(127)


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The BPF filter (code, jt, jf, k) refusing SECCOMP's calls on ``machine``, or None if unknown."""
    if machine not in SECCOMP:
        return None
    audit, _, refused, clone = SECCOMP[machine]
    load, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    # (code, jump-if-true label, jump-if-false label, k); labels resolved below
    body: list[tuple[int, object, object, int]] = [
        (load, 0, 0, 4),
        (jeq, "next", "enosys", audit),
        (load, 0, 0, 0),
    ]
    if machine == "x86_64":
        body.append((jge, "enosys", "next", 0x40000000))  # the x32 ABI
    body += [(jeq, "eperm", "next", nr) for nr in sorted(set(refused.values()))]
    body += [
        (jeq, "enosys", "next", CLONE3),
        (jeq, "next", "allow", clone),
        (load, 0, 0, 16),  # the low half of clone's flags
        (jset, "eperm", "allow", CLONE_NAMESPACES),
    ]
    labels = {"allow": len(body), "eperm": len(body) + 1, "enosys": len(body) + 2}
    program = []
    for pc, (code, jt, jf, k) in enumerate(body):
        jumps = [0 if label in (0, "next") else labels[label] - pc - 1 for label in (jt, jf)]
        program.append((code, *jumps, k))
    return program + [(ret, 0, 0, allow), (ret, 0, 0, eperm), (ret, 0, 0, enosys)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp() -> bool:
    program = seccomp_program(os.uname().machine)
    if program is None:
        return False
    import struct

    raw = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in program))
    fprog = _SockFprog(len(program), ctypes.addressof(raw))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def _tasks_of(uid: int) -> int:
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status.get("Uid", "-1 ").split()[0]) == uid:
            count += int(status.get("Threads", "1"))
    return count


def supervise(cfg: dict, cwd: str, report: Report, layers: list[str]) -> None:
    """Fork the candidate and wait for it; report its status and CPU time. Runs as ``init``."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            become_candidate(cfg, cwd, report, layers, (ready_w, go_r))
        except BaseException as e:  # noqa: B036  (nothing may escape a forked child)
            report.send("error", f"sandbox setup: {type(e).__name__}: {e}")
        os._exit(127)
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) == b"1":  # it entered a user namespace of its own: map its uid there
        try:
            _map_ids_of(pid, cfg["uid"])
        except OSError:
            pass  # unmapped, it runs as the overflow uid; the count is still its own
    os.close(ready_r)
    if "private-root" in layers and os.path.ismount("/proc"):
        _check(_libc.umount2(b"/proc", MNT_DETACH), "umount /proc")  # nothing of init's is left to read
    os.write(go_w, b"1")
    os.close(go_w)
    while True:  # as PID 1 we also reap the candidate's orphans
        try:
            child, status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return
        if child == pid:
            report.send("status", status, round(usage.ru_utime + usage.ru_stime, 4))
            return


def _map_ids_of(pid: int, uid: int) -> None:
    """Map ``uid`` to itself in the user namespace ``pid`` has just entered (init has the right to)."""
    for name, line in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{uid} {uid} 1")):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(line)


def _read_config(fd: int) -> dict:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return marshal.loads(b"".join(chunks))


def main() -> None:
    cfg = _read_config(int(sys.argv[1]))
    report = Report(cfg["report_fd"])
    notes: list[str] = []
    layers: list[str] = []
    if cfg["isolate"]:
        # a session keyring of its own, empty: the builder's keys are not its to read, add or delete
        machine = os.uname().machine
        if machine in SECCOMP and _libc.syscall(SECCOMP[machine][1], KEYCTL_JOIN_SESSION_KEYRING, None) >= 0:
            layers.append("session-keyring")
        else:
            notes.append(f"no session keyring of its own ({os.strerror(ctypes.get_errno())})")
        try:
            layers += enter_namespaces(notes)
        except Exception as e:
            report.send("error", f"sandbox setup: {type(e).__name__}: {e}")
            sys.exit(125)
    init = os.fork()  # PID 1 of the new PID namespace, if there is one
    if init == 0:
        try:
            cwd = cfg["program_dir"]
            if "mount-namespace" in layers:
                try:
                    cwd = private_root(cfg, with_proc="pid-namespace" in layers)
                    layers.append("private-root")
                except Exception as e:
                    notes.append(f"no private root ({type(e).__name__}: {e})")
            report.send("isolation", *layers)
            for note in notes:
                report.send("note", note)
            supervise(cfg, cwd, report, layers)
        except BaseException as e:  # noqa: B036  (nothing may escape a forked child)
            report.send("error", f"sandbox init: {type(e).__name__}: {e}")
        os._exit(0)
    os.close(report.fd)
    os.waitpid(init, 0)
    os._exit(0)  # nothing to flush or finalise: skip the interpreter's shutdown


if __name__ == "__main__":
    main()
