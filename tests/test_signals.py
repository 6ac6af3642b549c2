"""SIGTERM and SIGHUP end a build as Ctrl-C does: no process left, the lock released, finished work kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import output_tree, write_jsonl
from test_build import live_processes_in_group


@pytest.fixture(scope="module")
def eight_files(tmp_path_factory):
    """A recipe over eight files (big enough to stop mid-source) and its uninterrupted build."""
    root = tmp_path_factory.mktemp("signals")
    for f in range(8):
        write_jsonl(
            root / "data" / f"{f}.jsonl",
            [{"text": f"file {f} document {i} " + "about rivers and stones " * 30} for i in range(800)],
        )
    recipe = root / "recipe.yaml"
    recipe.write_text(
        "name: signals\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{root}/data/*.jsonl"]}}\n'
    )
    subprocess.run(build_cmd(recipe, root / "ref"), check=True, capture_output=True)
    return recipe, output_tree(root / "ref")


def build_cmd(recipe: Path, out: Path) -> list[str]:  # two workers: datatrove's process pool and its manager
    return [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(out), "--workers", "2"]


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["SIGTERM to the build (kill, timeout)", "SIGHUP to its process group (a closed terminal)"],
)
def test_a_signal_stops_the_build_cleanly_and_the_same_command_resumes(
    eight_files, tmp_path, signum, to_group
):
    recipe, reference = eight_files
    out = tmp_path / "out"
    proc = subprocess.Popen(
        build_cmd(recipe, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    committed = "work/sources/web/*/parts/p*.json"  # a task has finished its files: the build is mid-source
    while proc.poll() is None and time.monotonic() < deadline and not any(out.glob(committed)):
        time.sleep(0.005)
    running = proc.poll() is None
    if running:
        (os.killpg if to_group else os.kill)(proc.pid, signum)
    try:
        stdout, stderr = proc.communicate(timeout=60)  # no child left holding the pipes
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the build is left, even after a failure
        except ProcessLookupError:
            pass
    assert running, "the build finished before a file was committed"
    assert proc.returncode == 128 + signum, stdout + stderr
    name = signal.Signals(signum).name
    assert (
        stderr.strip() == f"Stopped by {name}. Finished work is kept: run the same command again to resume."
    )
    deadline = time.monotonic() + 10
    while (left := live_processes_in_group(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []  # the pool's workers, datatrove's manager, the fork server and the resource tracker
    assert not (out / "manifest.json").exists()

    again = subprocess.run(build_cmd(recipe, out), capture_output=True, text=True)  # the lock is free
    assert again.returncode == 0, again.stderr
    assert "web: tokenizing 8 files, " in again.stdout and " already done)" in again.stdout
    assert output_tree(out) == reference


def test_a_child_forked_during_a_build_does_not_hold_its_lock(tmp_path):
    from mixer.build.lock import output_lock

    out = tmp_path / "out"
    with output_lock(out):
        child = os.fork()
        if child == 0:  # as datatrove's manager is forked: it outlives the build here
            time.sleep(30)
            os._exit(0)
    try:
        taker = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from mixer.build.lock import output_lock\nwith output_lock({str(out)!r}):\n    print('taken')",
            ],
            capture_output=True,
            text=True,
        )
        assert os.waitpid(child, os.WNOHANG) == (0, 0)  # still alive
        assert (taker.returncode, taker.stdout, taker.stderr) == (0, "taken\n", "")
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
