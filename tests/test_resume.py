"""A build killed with SIGKILL at any stage and run again ends byte-identical to an uninterrupted build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import output_tree, recipe_text

EXTRA = """\
build: {keep_rejected: true}
dedup: {priority: [code]}
holdout: {fraction: 0.1, max_documents: 2}
phases:
  pretrain: {tokens: 30000, seq_len: 32, weights: {web: 2, code: 1, notes: 1}, max_repetition: 8}
  cooldown: {tokens: 5000, seq_len: 32, weights: {web: 1, code: 1, notes: 1}, max_repetition: 8}
"""
FILTERS = "    type: jsonl\n    filters: [{gopher_repetition: {}}, {c4_quality: {min_num_sentences: 1}}]\n"


def recipe(corpus_root: Path) -> str:
    # web gets quality steps, so the kill points include filtering
    return recipe_text(corpus_root, extra=EXTRA).replace("    type: jsonl\n", FILTERS, 1)


def build_cmd(recipe_file: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mixer.cli",
        "build",
        str(recipe_file),
        "-o",
        str(out),
        "--tasks",
        "2",
        "--workers",
        "1",
    ]


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    recipe_file = tmp / "recipe.yaml"
    recipe_file.write_text(recipe(corpus["root"]))
    subprocess.run(build_cmd(recipe_file, tmp / "ref"), check=True, capture_output=True)
    return recipe_file, output_tree(tmp / "ref")


# Each point is a file whose appearance means the build is in that stage: kill it right then.
POINTS = {
    "dedup signatures": "work/dedup/*/exact/*.npy",
    "dedup pairs": "work/dedup/*/pairs/*.dups",
    "reading and tokenizing": "work/sources/*/*/progress/*.json",
    "writing parts": "work/sources/*/*/parts/p*.json",
    "assembling a shard": "work/sources/*/*/assembling/*.bin.tmp-*",
    "assembling": "sources/*/assembled.json",
    "mixing": "validation/*.bin",
}


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_any_stage_then_resume_is_byte_identical(reference, tmp_path, point):
    recipe_file, expected = reference
    out = tmp_path / "out"
    proc = subprocess.Popen(
        build_cmd(recipe_file, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and any(out.glob(POINTS[point])):
            break
        time.sleep(0.001)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its worker processes, mid-stage
    proc.wait()
    assert killed, f"the build finished before reaching '{point}'"
    assert not (out / "manifest.json").exists()  # an interrupted build never looks finished
    result = subprocess.run(build_cmd(recipe_file, out), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert output_tree(out) == expected
