"""Broken and adversarial inputs: each one a counted skip with its place, a warning, or a clear error —
never a crash, a hang or a silent loss (docs/troubleshooting.md lists the behaviours)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.cli import main
from mixer.manifest import read_manifest

GOOD = [{"id": f"g{i}", "text": f"good document number {i} about rivers and stones"} for i in range(40)]


def build(tmp_path: Path, sources: str, build_settings: str = ""):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: hostile\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\n{build_settings}sources:\n{sources}"
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    return result, tmp_path / "out"


def test_broken_files_are_counted_skips(tmp_path):
    d = tmp_path / "in put" / "ünïcödé"  # spaces and non-ASCII names
    write_jsonl(d / "good file.jsonl", GOOD)
    whole = zstandard.ZstdCompressor().compress(b"".join(json.dumps(r).encode() + b"\n" for r in GOOD * 50))
    (d / "cut.jsonl.zst").write_bytes(whole[: len(whole) // 2])
    (d / "empty.jsonl").write_bytes(b"")
    (d / "blank.jsonl").write_bytes(b"\n\n   \n")
    (d / "nested.jsonl").write_text('{"text": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}\n")
    (d / "types.jsonl").write_text('{"text": ["a", "list"]}\n{"text": null}\n{"text": ""}\n"just a string"\n')
    os.symlink(tmp_path / "nowhere.jsonl", d / "dangling.jsonl")
    result, out = build(tmp_path, f'  web: {{type: jsonl, paths: ["{d}/*.jsonl", "{d}/*.zst"]}}\n')
    assert result.exit_code == 0, result.output
    web = read_manifest(out)["sources"]["web"]
    assert web["skipped"] == {
        "empty_text": 1,
        "malformed_json": 1,
        "not_an_object": 1,
        "text_not_a_string": 2,
        "truncated_file": 1,
    }
    assert web["documents"] == 40 + 0  # the truncated zstd frame yields nothing before its cut
    assert web["skip_examples"]["malformed_json"] == [f"{d / 'nested.jsonl'}:1 (depth limit exceeded)"]
    assert web["skip_examples"]["truncated_file"][0].startswith(f"{d / 'cut.jsonl.zst'}:1 (EOFError: ")
    assert (
        f"'{d / 'dangling.jsonl'}' is not a regular file (a broken link, a device or a socket); skipped"
        in result.output
    )


def test_a_200_mb_line_is_skipped_not_tokenized(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    with open(d / "a.jsonl", "w") as f:
        for r in GOOD[:10]:
            f.write(json.dumps(r) + "\n")
        f.write('{"id": "huge", "text": "' + "river stone " * 17_500_000 + '"}\n')  # 210 MB
        for r in GOOD[10:]:
            f.write(json.dumps(r) + "\n")
    result, out = build(tmp_path, f'  web: {{type: jsonl, paths: ["{d}/a.jsonl"]}}\n')
    assert result.exit_code == 0, result.output
    web = read_manifest(out)["sources"]["web"]
    assert web["skipped"] == {"document_too_large": 1}
    assert web["skip_examples"]["document_too_large"] == [f"{d / 'a.jsonl'}:11 (210,000,000 characters)"]
    assert web["documents"] == 40


def test_parquet_without_the_text_column_is_a_file_level_skip(tmp_path):
    d = tmp_path / "pq"
    d.mkdir()
    pq.write_table(pa.table({"body": ["no text column here"] * 5}), d / "wrong.parquet")
    pq.write_table(pa.table({"text": [r["text"] for r in GOOD]}), d / "right.parquet")
    result, out = build(tmp_path, f'  docs: {{type: parquet, paths: ["{d}"]}}\n')
    assert result.exit_code == 0, result.output
    docs = read_manifest(out)["sources"]["docs"]
    assert docs["skipped"] == {"missing_text_column": 1}
    assert docs["documents"] == 40 and docs["records"] == 40


def test_a_full_disk_stops_with_a_message_and_resumes(tmp_path):
    d = tmp_path / "data"
    write_jsonl(
        d / "a.jsonl", [{"text": f"document {i} " + "about rivers and stones " * 20} for i in range(3000)]
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f'name: full\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\nsources:\n  web: {{type: jsonl, paths: ["{d}/*.jsonl"]}}\n'
    )
    cmd = [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(tmp_path / "out")]

    def small_files() -> None:  # as if the disk filled up after 300 KB
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    full = subprocess.run(cmd, preexec_fn=small_files, capture_output=True, text=True)
    assert full.returncode == 1
    assert "Error: cannot write: File too large (the disk or a quota is full" in full.stderr
    assert "run the same command again to resume" in full.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert read_manifest(tmp_path / "out")["sources"]["web"]["documents"] == 3000


def test_recipe_attacks_fail_before_work(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    for text, expected in [
        ("name: x\nname: y\n", "duplicate key 'name'"),
        (bomb, "alias"),
        (
            'name: w\ntokenizer: t.json\nsources: {a: {type: jsonl, paths: ["x"]}}\n'
            "phases: {p: {tokens: 10, seq_len: 4, weights: {a: 0}}}\n",
            "weight of 'a' is 0.0; weights must be positive",
        ),
        (
            'name: w\ntokenizer: t.json\nsources: {a: {type: jsonl, paths: ["x"]}}\n'
            "phases: {p: {tokens: 10, seq_len: 4, weights: {a: -1}}}\n",
            "weight of 'a' is -1.0; weights must be positive",
        ),
    ]:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(text)
        result = CliRunner().invoke(main, ["build", str(recipe), "--dry-run"])
        assert result.exit_code == 2, text
        assert expected in result.output, result.output
