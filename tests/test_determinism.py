"""The same recipe and inputs give byte-identical outputs — every shard, index, sidecar, rejected file,
validation set, blend and the manifest — across task counts, worker counts and machines.

"Another machine" is another folder holding a copy of the inputs, with other modification times, built
from a recipe with relative paths in that folder: what differs between two machines with the same package
versions, short of the hardware.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import output_tree, recipe_text
from test_resume import EXTRA, FILTERS


def copy_machine(corpus_root: Path, machine: Path, mtime: int) -> Path:
    """A copy of the corpus under ``machine/data`` whose files all have modification time ``mtime``, and
    the recipe (relative paths) that builds it."""
    shutil.copytree(corpus_root, machine / "data")
    for path in (machine / "data").rglob("*"):
        os.utime(path, (mtime, mtime))
    recipe = recipe_text(Path("data"), extra=EXTRA).replace("    type: jsonl\n", FILTERS, 1)
    (machine / "recipe.yaml").write_text(recipe)
    return machine


def build(machine: Path, tasks: int, workers: int) -> tuple[Path, str]:
    cmd = [sys.executable, "-m", "mixer.cli", "build", "recipe.yaml", "-o", "out"]
    result = subprocess.run(
        [*cmd, "--tasks", str(tasks), "--workers", str(workers)], cwd=machine, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return machine / "out", result.stdout


def test_byte_identical_across_tasks_workers_and_machines(corpus, tmp_path):
    one = copy_machine(corpus["root"], tmp_path / "one", mtime=1_600_000_000)
    other = copy_machine(corpus["root"], tmp_path / "other", mtime=1_700_000_000)
    reference = output_tree(build(one, tasks=1, workers=1)[0])
    # everything the recipe asks for is there: filters drop, duplicates go, rejected files, two phases
    assert {"manifest.json", "phases/pretrain/blend.json", "phases/cooldown/blend.json"} <= set(reference)
    assert any(p.startswith("rejected/web/") for p in reference)
    assert any(p.startswith("validation/") for p in reference)
    assert output_tree(build(other, tasks=3, workers=2)[0]) == reference


def test_touched_inputs_are_rebuilt_into_the_same_bytes(corpus, tmp_path):
    """A new modification time (same bytes) makes every source current no more, so it is built again; the
    output names a source by what it holds, not by when its inputs changed, so it ends the same."""
    machine = copy_machine(corpus["root"], tmp_path / "m", mtime=1_600_000_000)
    out, _ = build(machine, tasks=2, workers=1)
    reference = output_tree(out)
    _, again = build(machine, tasks=2, workers=1)
    assert "web: up to date" in again and "tokenizing" not in again
    for path in (machine / "data").rglob("*"):
        os.utime(path, (1_650_000_000, 1_650_000_000))
    _, rebuilt = build(machine, tasks=3, workers=1)
    assert "web: tokenizing 3 files" in rebuilt and "code: tokenizing 2 files" in rebuilt
    assert output_tree(out) == reference
