"""bench/gpu_session.sh in its dry run: every step of the GPU session on the CPU with the tiny preset, against
a small build, and what it leaves in $OUT; and a budget too small for the long steps, which it skips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main

ROOT = Path(__file__).resolve().parents[2]
PHASES = """\
holdout: {fraction: 0.1, max_documents: 3}
phases:
  pretrain:
    tokens: 40000
    seq_len: 64
    weights: {web: 0.5, code: 0.3, notes: 0.2}
    max_repetition: 8
    train:
      model: tiny
      global_batch_tokens: 512
      micro_batch: 4
      eval_tokens: 1024
      eval_interval: 150
      checkpoint_interval: 1000
"""


@pytest.fixture(scope="module")
def build(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sessionbuild")
    recipe = tmp / "recipe.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=PHASES))
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp / "shards")])
    assert result.exit_code == 0, result.output
    return recipe, tmp / "shards"


def dry_session(build, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    recipe, shards = build
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MIXER_GPU_SESSION_DRY": "1",
        "MIXER_GPU_SESSION_RECIPE": str(recipe),
        "MIXER_GPU_SESSION_SHARDS": str(shards),
        "MIXER_GPU_SESSION_WORK": str(tmp_path / "work"),
        "PYTHON": sys.executable,
        "OUT": str(tmp_path / "out"),
        **env,
    }
    return subprocess.run(
        ["bash", str(ROOT / "bench" / "gpu_session.sh")],
        env=environment,
        cwd=tmp_path,  # the script moves to the repository root itself
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_dry_run_runs_every_step_and_writes_the_summary(build, tmp_path):
    result = dry_session(build, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "profile-470m.txt",
        "session.log",
        "summary.json",
        "summary.jsonl",
    ]
    records = json.loads((out / "summary.json").read_text())
    steps = {r["name"]: r["status"] for r in records if r["kind"] == "step"}
    assert steps == {
        name: "ok"
        for name in (
            "info",
            "device-cuda",
            "attention",
            "470m",
            "125m",
            "2.8b-ac",
            "125m-plain",
            "470m-plain",
        )
    }
    check = next(r for r in records if r["kind"] == "device-check")
    assert check["passed"] and check["trained_on"] == "cpu"
    assert next(r for r in records if r["kind"] == "attention")["choice"] in ("flash", "math")
    runs = {r["label"]: r for r in records if r["kind"] == "run"}
    assert list(runs) == ["470m", "125m", "2.8b-ac", "125m-plain", "470m-plain"]
    assert all(r["model"] == "tiny" and r["steps"] == 3 and r["tokens_per_s"] > 0 for r in runs.values())
    tuned, plain = runs["470m"], runs["470m-plain"]
    assert tuned["measured_steps"] == 1  # step 1 is warm-up, step 3 profiled
    assert tuned["eval_s"] > 0 and 0 < tuned["eval_share"] < 1 and tuned["eval_interval"] == 150
    assert tuned["checkpoint_s"] > 0 and tuned["checkpoint_interval"] == 1000
    assert tuned["profile"]["top"] and "Self CPU" in (out / "profile-470m.txt").read_text()
    assert "--set activation_checkpointing=true" in " ".join(
        "--set " + s for s in runs["2.8b-ac"]["settings"]
    )
    assert {"compile_scope=model", "loss_chunk_tokens=0", "prefetch=false"} <= set(plain["settings"])
    log = (out / "session.log").read_text()
    assert log == result.stdout
    assert "==== GPU session summary ====" in log and "mixer train --device check: passed" in log
    assert not (tmp_path / "work" / "run").exists()  # checkpoints are removed as the session goes


def test_steps_that_do_not_fit_the_budget_are_skipped(build, tmp_path):
    result = dry_session(build, tmp_path, MIXER_GPU_SESSION_BUDGET="30")
    assert result.returncode == 0, result.stdout + result.stderr
    records = json.loads((tmp_path / "out" / "summary.json").read_text())
    steps = {r["name"]: r["status"] for r in records if r["kind"] == "step"}
    assert steps["info"] == "ok"
    assert steps["device-cuda"] == "skipped"  # usually 40 s: more than the 30 s budget
    assert all(steps[name] == "skipped" for name in ("470m", "125m", "2.8b-ac", "125m-plain", "470m-plain"))
    assert "==== 470m: skipped (usually 170s" in result.stdout
    assert not any(r["kind"] == "run" for r in records)
