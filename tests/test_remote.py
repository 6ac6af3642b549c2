"""Remote inputs: URLs (any fsspec protocol) for every file-based source kind, read as local files are; and
compression by name: .gz, .bz2, .xz and .zst read, formats mixer cannot read refused by name."""

from __future__ import annotations

import bz2
import functools
import gzip
import http.server
import io
import json
import lzma
import threading
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner
from conftest import stdlib_texts
from test_github_prs import RECORD
from test_verified_python import ADD, problem

from mixer.cli import main
from mixer.shards.manifest import read_manifest

SOURCES = ["web", "docs", "notes", "code", "prs", "synthetic"]


def jsonl(records: list) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def input_files() -> dict[str, bytes]:
    """One input of each file-based kind (and each compression), by path relative to the corpus root."""
    texts = stdlib_texts(24)
    web = [jsonl([{"text": t} for t in texts[i * 3 : i * 3 + 3]]) for i in range(5)]
    table = io.BytesIO()
    pq.write_table(pa.table({"text": texts[15:19]}), table)
    return {
        "web/a.jsonl": web[0],
        "web/b.jsonl.gz": gzip.compress(web[1], mtime=0),
        "web/c.jsonl.bz2": bz2.compress(web[2]),
        "web/d.jsonl.xz": lzma.compress(web[3]),
        "web/e.jsonl.zst": zstandard.ZstdCompressor().compress(web[4]),
        "docs/part-0.parquet": table.getvalue(),
        "notes/one.txt": texts[19].encode(),
        "notes/sub/two.md": texts[20].encode(),
        "code/files.jsonl": jsonl([{"content": texts[21], "path": "pkg/mod.py", "repo": "octo/pkg"}]),
        "prs/prs.jsonl": jsonl([RECORD]),
        "verified/problems.jsonl": jsonl([problem("p1", ADD, "assert add(2, 3) == 5\n")]),
    }


def recipe_text(base: str) -> str:
    """Every file-based kind over ``base``: globs, folders and single files."""
    return f"""\
name: remote
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}
sources:
  web: {{type: jsonl, paths: ["{base}/web/*.jsonl*"]}}
  docs: {{type: parquet, paths: ["{base}/docs/"]}}
  notes: {{type: text, paths: ["{base}/notes/"]}}
  code: {{type: code, records: ["{base}/code/files.jsonl"]}}
  prs: {{type: github_prs, paths: ["{base}/prs/prs.jsonl"]}}
  synthetic:
    type: verified_python
    paths: ["{base}/verified/*.jsonl"]
    id_key: task_id
    prompt_key: question
    solution_key: code
    tests_key: checks
"""


def build(tmp_path: Path, name: str, text: str, *args: str) -> Path:
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(text)
    out = tmp_path / name
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return out


def same_shards(a: Path, b: Path) -> None:
    ma, mb = read_manifest(a), read_manifest(b)
    for source in SOURCES:
        assert {
            k: ma["sources"][source][k] for k in ("files", "input_bytes", "records", "documents", "tokens")
        } == {
            k: mb["sources"][source][k] for k in ("files", "input_bytes", "records", "documents", "tokens")
        }, source
        assert (a / "sources" / source / "00000.bin").read_bytes() == (
            b / "sources" / source / "00000.bin"
        ).read_bytes()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The inputs on the local disk, and their build."""
    root = tmp_path_factory.mktemp("local")
    for rel, data in input_files().items():
        (root / "corpus" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "corpus" / rel).write_bytes(data)
    out = build(root, "local", recipe_text(str(root / "corpus")))
    manifest = read_manifest(out)
    assert {s: manifest["sources"][s]["files"] for s in SOURCES} == {
        "web": 5,
        "docs": 1,
        "notes": 2,
        "code": 1,
        "prs": 1,
        "synthetic": 1,
    }
    assert {s: manifest["sources"][s]["documents"] for s in SOURCES} == {
        "web": 15,
        "docs": 4,
        "notes": 2,
        "code": 1,
        "prs": 1,
        "synthetic": 1,
    }
    assert all(manifest["sources"][s]["skipped"] == {} for s in SOURCES)
    return root / "corpus", out


def test_memory_urls_build_what_the_same_local_files_build(local, tmp_path):
    fs = fsspec.filesystem("memory")
    try:
        for rel, data in input_files().items():
            fs.pipe(f"/remote-test/{rel}", data)
        # one worker: the tasks run in this process, which holds the memory file system
        out = build(tmp_path, "memory", recipe_text("memory://remote-test"), "--workers", "1")
    finally:
        fs.rm("/remote-test", recursive=True)
    same_shards(local[1], out)
    shards = [json.loads(p.read_text()) for p in sorted(out.glob("sources/web/[0-9]*.json"))]
    assert [f["path"] for s in shards for f in s["inputs"]] == [
        f"memory:///remote-test/web/{n}"
        for n in ("a.jsonl", "b.jsonl.gz", "c.jsonl.bz2", "d.jsonl.xz", "e.jsonl.zst")
    ]


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_https_style_urls_from_a_local_server_build_what_the_local_files_build(local, tmp_path):
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Files, directory=str(local[0]))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        out = build(tmp_path, "http", recipe_text(base), "--workers", "2")  # the pool's workers read too
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    same_shards(local[1], out)


def test_a_compression_mixer_cannot_read_is_refused_by_name(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_bytes(jsonl([{"text": "plain"}]))
    (tmp_path / "data" / "b.jsonl.lz4").write_bytes(b"\x04\x22\x4d\x18 not read as raw bytes")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: lz4\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        f'sources:\n  web: {{type: jsonl, paths: ["{tmp_path}/data/*"]}}\n'
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: sources.web.paths[0]: '{tmp_path}/data/b.jsonl.lz4' is compressed as LZ4, which mixer does not "
        "read; decompress it, or recompress it with one of .bz2, .gz, .lzma, .xz, .zst, .zstd\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_scheme_whose_backend_is_missing_names_the_package(tmp_path, monkeypatch):
    from fsspec.registry import known_implementations

    monkeypatch.setitem(
        known_implementations,
        "vault",
        {"class": "vaultfs.VaultFileSystem", "err": "Install vaultfs to access vault"},
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: vault\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"
        'sources:\n  web: {type: jsonl, paths: ["vault://bucket/*.jsonl.gz"]}\n'
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    assert (result.exit_code, result.output) == (
        2,
        "Error: sources.web.paths[0] ('vault://bucket/*.jsonl.gz') needs the package 'vaultfs', which is not "
        "installed: run `pip install vaultfs`\n",
    )


def test_repositories_must_be_local_folders(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: repos\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\nsources:\n"
        '  code: {type: code, repos: ["s3://bucket/repos/*"]}\n'
        '  history: {type: git_commits, paths: ["https://example.org/project.git"]}\n'
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    assert (result.exit_code, result.output) == (
        2,
        "Error: sources.code.repos[0]: 's3://bucket/repos/*' is a URL; repository folders are read from the "
        "local disk: clone or copy them here, or give The Stack-style files as `records` (URLs work there)\n",
    )
