"""The console shows mixer's own lines; datatrove's (and other libraries') logs go to files under work/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import stdlib_texts, write_jsonl

from mixer.report.console import phase_table, summary_table
from mixer.shards.manifest import read_manifest

# what datatrove's own console logging looks like: levels, its pipeline listing, stats, colours, reprs
THIRD_PARTY = ["INFO", "SUCCESS", "datatrove", "PIPELINE", "Stats", "Launching pipeline", "\x1b[", " at 0x"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    """Three files deduplicated across (datatrove's MinHash stages) in a pool of two workers."""
    root = tmp_path_factory.mktemp("logs")
    texts = stdlib_texts(30)
    for i in range(3):
        write_jsonl(root / "web" / f"{i}.jsonl", [{"text": t} for t in texts[i * 10 : (i + 1) * 10]])
    recipe = root / "recipe.yaml"
    recipe.write_text(
        "name: logs\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{root}/web/*.jsonl"]}}\ndedup: {{}}\n'
        "phases:\n  p: {tokens: 4000, seq_len: 32, weights: {web: 1}}\n"
    )
    return recipe


def mixer(*args: str) -> subprocess.CompletedProcess:
    # a real process: the pool's workers write to the real stderr, which CliRunner would not capture
    return subprocess.run([sys.executable, "-m", "mixer.cli", *args], capture_output=True, text=True)


def test_a_deduplicating_build_prints_mixers_lines_only(recipe, tmp_path):
    out = tmp_path / "out"
    result = mixer("build", str(recipe), "-o", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert [w for w in THIRD_PARTY if w in result.stdout] == []
    lines = result.stdout.splitlines()
    assert "dedup: signatures of web (3 files)" in lines
    assert lines[-1] == f"wrote {out / 'manifest.json'}"
    # ... and datatrove's logs are kept, whole, in files under work/
    (signatures,) = out.glob("work/dedup/*/logs/web/logs/task_00000.log")
    log = signatures.read_text()
    assert "Launching pipeline for rank=0" in log and "--- 🛠️ PIPELINE 🛠" in log and "\x1b[" not in log
    (tokenize,) = out.glob("work/sources/web/*/datatrove/logs/task_00000.log")
    assert "💽 - WRITER: mixer tokenize + write" in tokenize.read_text()
    build_log = (out / "work" / "build.log").read_text()
    assert "📉📉📉 Stats: All 3 tasks 📉📉📉" in build_log  # the executor's summary, in the build process


def test_quiet_prints_the_result_only_and_verbose_adds_datatroves_logs(recipe, tmp_path):
    quiet = mixer("build", str(recipe), "-o", str(tmp_path / "quiet"), "--workers", "2", "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    manifest = read_manifest(tmp_path / "quiet")
    expected = f"\n{summary_table(manifest)}\n\n{phase_table(manifest)}\n\nwrote {tmp_path / 'quiet' / 'manifest.json'}\n"
    assert (quiet.stdout, quiet.stderr) == (expected, "")

    mix = mixer("mix", str(recipe), "-o", str(tmp_path / "quiet"), "-q")
    assert (mix.returncode, mix.stdout, mix.stderr) == (0, f"\n{phase_table(manifest)}\n", "")

    verbose = mixer("build", str(recipe), "-o", str(tmp_path / "verbose"), "--workers", "2", "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert "INFO: Launching pipeline for rank=0" in verbose.stderr and "--- 🛠️ PIPELINE 🛠" in verbose.stderr
    assert "\x1b[" not in verbose.stderr

    both = mixer("build", str(recipe), "--quiet", "--verbose")
    assert both.returncode == 2 and "--quiet and --verbose exclude each other; give one" in both.stderr
