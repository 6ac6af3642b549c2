"""Progress: a bar with percentage and ETA on a terminal, plain lines elsewhere, rates that never read 0.00."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import stdlib_texts, write_jsonl

from mixer.build.progress import Progress, Reading, human_count, human_rate
from mixer.cli import main
from mixer.shards.manifest import read_manifest


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_and_the_line_show_percentage_amount_tokens_and_eta():
    clock = FakeClock()
    readings = iter([Reading(0, 0, 0)])
    progress = Progress("web", 9_600_000, "bytes", lambda: next(readings), print, show=False, clock=clock)
    with progress:
        clock.now += 12.0
        reading = Reading(4_000_000, 1_007, 1_234_567)
        assert progress.bar(reading, clock.now) == (
            "web [##########--------------]  42%  4.0 MB of 9.6 MB  1.23M tokens  ETA 0:17"
        )
        assert progress.line(reading, clock.now) == (
            "  web: 42% (4.0 MB of 9.6 MB), 1,007 documents, 1,234,567 tokens, 102.9k tokens/s, ETA 0:17"
        )
        assert progress.bar(Reading(0, 0, 0), clock.now) == (
            "web [------------------------]   0%  0 B of 9.6 MB  0 tokens  ETA --:--"
        )
    files = Progress("dedup notes", 243, "files", lambda: Reading(0), print, show=False, clock=clock)
    with files:
        clock.now += 3725.0
        assert files.bar(Reading(81), clock.now) == (
            "dedup notes [########----------------]  33%  81 of 243 files  ETA 2:04:10"
        )


def test_rates_and_counts_keep_their_digits():
    assert [human_rate(r) for r in (0.4, 23_144 / 9.0, 1_130_000, 1_500_000_000)] == [
        "0.4",
        "2.6k",
        "1.13M",
        "1.50B",
    ]
    assert [human_count(n) for n in (950, 12_345, 4_560_000)] == ["950", "12.3k", "4.56M"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress")
    texts = stdlib_texts(40)
    for i in range(4):
        write_jsonl(root / "web" / f"{i}.jsonl.gz", [{"text": t} for t in texts[i * 10 : (i + 1) * 10]], "gz")
    recipe = root / "recipe.yaml"
    recipe.write_text(
        "name: progress\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{root}/web/*.jsonl.gz"]}}\n'
    )
    return recipe


def test_on_a_terminal_a_bar_runs_from_zero_to_the_whole_plan(recipe, tmp_path):
    out = tmp_path / "out"
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the build has closed its end
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    stdout = proc.stdout.read()
    assert proc.wait() == 0, screen.decode()
    frames = screen.decode().split("\r")
    size = sum(p.stat().st_size for p in (recipe.parent / "web").iterdir())
    total = f"{size / 1000:.1f} KB"
    tokens = human_count(read_manifest(out)["sources"]["web"]["tokens"])
    assert frames[1] == f"web [{'-' * 24}]   0%  0 B of {total}  0 tokens  ETA --:--"
    last = f"web [{'#' * 24}] 100%  {total} of {total}  {tokens} tokens  ETA 0:00"
    assert frames[-3].rstrip() == last  # the last reading, then the bar is erased
    assert frames[-2].strip() == "" and len(frames[-2]) >= len(last) and frames[-1] == ""
    assert all(re.fullmatch(r"web \[[#-]{24}\] +\d+%  .* tokens  ETA [\d:-]+ *", f) for f in frames[1:-2])
    assert "\r" not in stdout and re.search(
        r"^web: tokenized [\d,]+ tokens in [\d.]+s \(.+ tokens/s\)$", stdout, re.M
    )


def test_elsewhere_a_plain_line_comes_at_intervals(recipe, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "INTERVAL_S", 0.01)
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "[#" not in result.output and "[-" not in result.output
    pattern = r"  web: \d+% \([\d.]+ [KM]?B of [\d.]+ KB\), [\d,]+ documents, [\d,]+ tokens, [\d.]+[kM]? tokens/s, ETA [\d:-]+"
    assert any(re.fullmatch(pattern, line) for line in result.output.splitlines()), result.output


def test_quiet_shows_no_progress(recipe, tmp_path, monkeypatch):
    monkeypatch.setattr(Progress, "INTERVAL_S", 0.01)
    result = CliRunner().invoke(
        main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--workers", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("\nsource ") and "  web: " not in result.output
