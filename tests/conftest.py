"""Shared fixtures: a small, varied corpus in every input format, built in tmp_path."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory):
    """The tests' builds keep the tokenizer checks' verdicts in a cache of their own, not the user's."""
    os.environ["MIXER_CACHE_DIR"] = str(tmp_path_factory.mktemp("mixer-cache"))


def stdlib_texts(count: int, max_chars: int = 4000) -> list[str]:
    """Real text: the first ``count`` standard-library modules (sorted), cut to ``max_chars``."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="strict")[:max_chars]
        if text.strip():
            out.append(text)
        if len(out) == count:
            break
    return out


def processes_with(token: str) -> list[int]:
    """The pids of live processes whose command line holds ``token``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def was_connected(server) -> bool:
    """Whether anything connected to the listening socket ``server`` (which this closes)."""
    server.setblocking(False)
    try:
        server.accept()
        return True
    except BlockingIOError:
        return False
    finally:
        server.close()


def write_jsonl(path: Path, records: list, compress: str | None = None) -> Path:
    data = b"".join(json.dumps(r).encode() + b"\n" if not isinstance(r, bytes) else r for r in records)
    if compress == "gz":
        data = gzip.compress(data, mtime=0)
    elif compress == "zst":
        data = zstandard.ZstdCompressor(level=3).compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict:
    """Texts and files: jsonl (plain, gz, zst), parquet and a text folder, with the expected text per source."""
    root = tmp_path_factory.mktemp("corpus")
    texts = stdlib_texts(60)
    web = texts[:20]
    write_jsonl(root / "web" / "a.jsonl", [{"id": f"w{i}", "text": t} for i, t in enumerate(web[:8])])
    write_jsonl(
        root / "web" / "b.jsonl.gz", [{"id": f"w{i}", "text": t} for i, t in enumerate(web[8:14], 8)], "gz"
    )
    write_jsonl(
        root / "web" / "c.jsonl.zst", [{"id": f"w{i}", "text": t} for i, t in enumerate(web[14:], 14)], "zst"
    )
    code = texts[20:40]
    table = pa.table(
        {"id": [f"c{i}" for i in range(len(code))], "text": code, "lang": ["python"] * len(code)}
    )
    (root / "code").mkdir()
    pq.write_table(table.slice(0, 12), root / "code" / "0.parquet", row_group_size=5)
    pq.write_table(table.slice(12), root / "code" / "1.parquet", row_group_size=5)
    notes = texts[40:]
    (root / "notes" / "sub").mkdir(parents=True)
    for i, t in enumerate(notes):
        folder = root / "notes" / ("sub" if i % 2 else "")
        (folder / f"n{i:02d}.{['md', 'txt', 'rst'][i % 3]}").write_text(t)
    (root / "notes" / "ignored.bin").write_bytes(b"\x00\x01")
    expected_notes = [
        t
        for _, t in sorted(((f"n{i:02d}" if i % 2 == 0 else f"sub/n{i:02d}"), t) for i, t in enumerate(notes))
    ]
    return {"root": root, "web": web, "code": code, "notes": expected_notes}


def recipe_text(root: Path, name: str = "t", vocab: int = 600, extra: str = "") -> str:
    return f"""\
name: {name}
seed: 7
tokenizer:
  train: {{vocab_size: {vocab}, sample_bytes: 200000}}
sources:
  web:
    type: jsonl
    paths: ["{root}/web/*.jsonl", "{root}/web/*.gz", "{root}/web/*.zst"]
  code:
    type: parquet
    paths: ["{root}/code"]
  notes:
    type: text
    paths: ["{root}/notes"]
{extra}"""


def output_tree(out: Path) -> dict[str, str]:
    """sha256 of every file of a build output except its resumable work area (with the output folder's own
    path, which megatron.args names, replaced by a placeholder): what must be byte-identical."""
    return {
        str(p.relative_to(out)): hashlib.sha256(
            p.read_bytes().replace(str(out).encode(), b"<OUT>")
        ).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.relative_to(out).parts[0] != "work"
    }
