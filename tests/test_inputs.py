"""Reading inputs as named and within bounds: an existing file is taken literally (glob characters and all),
and a line is never held beyond what ``build.max_document_chars`` allows (compression bombs included), in the
build and in the tokenizer's training sample."""

from __future__ import annotations

import gzip
import resource
import subprocess
import sys

import zstandard
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.cli import main
from mixer.readers.base import SAMPLE_LINE_BYTES
from mixer.readers.jsonl import JsonlSourceReader
from mixer.shards.manifest import read_manifest
from mixer.sources.base import InputFile, expand_pattern

GOOD = [{"id": f"g{i}", "text": f"good document number {i} about rivers and stones"} for i in range(40)]


def test_an_existing_file_with_glob_characters_is_taken_literally(tmp_path):
    d = tmp_path / "data"
    write_jsonl(d / "x[1].jsonl", [{"text": "the file named x[1].jsonl"}] * 3)
    write_jsonl(d / "x1.jsonl", [{"text": "the file named x1.jsonl, which the pattern x[1] matches"}] * 5)
    write_jsonl(d / "folder[a]" / "in.jsonl", [{"text": "inside folder[a]"}])
    write_jsonl(d / "foldera" / "in.jsonl", [{"text": "inside foldera"}])
    assert expand_pattern(str(d / "x[1].jsonl"), ()) == [str(d / "x[1].jsonl")]
    assert expand_pattern(str(d / "folder[a]"), (".jsonl",)) == [str(d / "folder[a]" / "in.jsonl")]
    assert expand_pattern(str(d / "x[0-9].jsonl"), ()) == [str(d / "x1.jsonl")]  # no such file: a pattern

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: literal\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{d}/x[1].jsonl"]}}\n'
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    web = read_manifest(tmp_path / "out")["sources"]["web"]
    assert (web["files"], web["records"], web["input_bytes"]) == (1, 3, (d / "x[1].jsonl").stat().st_size)


def gzip_bomb(path, line_bytes: int) -> None:
    """A JSON line of ``line_bytes`` bytes without a newline, in gzip members of 64 MiB ('a' * 64 MiB
    compresses ~1000-fold, so the file is about a thousandth of the line)."""
    piece = 64 << 20
    member = gzip.compress(b"a" * piece, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(b'{"text": "', mtime=0))
        for _ in range(line_bytes // piece):
            f.write(member)


def test_compression_bombs_are_skipped_while_read_within_a_memory_limit(tmp_path):
    d = tmp_path / "data"
    write_jsonl(d / "good.jsonl", GOOD)
    gzip_bomb(d / "bomb.jsonl.gz", 512 << 20)  # 0.5 MB holding a 512 MiB line
    (d / "bomb.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor(level=1).compress(b'{"text": "' + b"z" * (256 << 20))
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: bomb\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        "build: {max_document_chars: 100000}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{d}/*.jsonl*"]}}\n'
    )
    limit = 1200 << 20  # the build needs under 700 MB; reading a 512 MiB line whole needs 1 GB more

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    cmd = [
        sys.executable,
        "-m",
        "mixer.cli",
        "build",
        str(recipe),
        "-o",
        str(tmp_path / "out"),
        "--workers",
        "1",
    ]
    result = subprocess.run(cmd, preexec_fn=bounded, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    web = read_manifest(tmp_path / "out")["sources"]["web"]
    assert (web["documents"], web["skipped"]) == (40, {"document_too_large": 2})
    bound = 6 * 100_000 + (1 << 20)  # six bytes per character (a "\uXXXX" escape) and room for other fields
    assert web["skip_examples"]["document_too_large"] == [
        f"{d / 'bomb.jsonl.gz'}:1 (a line of {10 + (512 << 20):,} bytes, skipped unparsed: over {bound:,} bytes, "
        "more than any document of build.max_document_chars characters takes)",
        f"{d / 'bomb.jsonl.zst'}:1 (a line of {10 + (256 << 20):,} bytes, skipped unparsed: over {bound:,} bytes, "
        "more than any document of build.max_document_chars characters takes)",
    ]


def test_a_sample_reads_no_line_beyond_its_own_bound(tmp_path):
    path = tmp_path / "a.jsonl"
    huge = b'{"text": "' + b"r" * (SAMPLE_LINE_BYTES + 10) + b'"}\n'
    path.write_bytes(b'{"text": "small"}\n' + huge + b'{"text": "after"}\n')
    reader = JsonlSourceReader("web", [InputFile(str(path), path.stat().st_size)])
    build_view = [(line, getattr(r, "reason", r)) for line, r in reader.records(str(path))]
    assert [line for line, _ in build_view] == [1, 2, 3] and build_view[1][1] == {
        "text": "r" * (SAMPLE_LINE_BYTES + 10)
    }
    sample = [(line, getattr(r, "reason", r)) for line, r in reader.sample_records(str(path))]
    assert sample == [(1, {"text": "small"}), (2, "document_too_large"), (3, {"text": "after"})]
