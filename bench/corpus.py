"""Benchmark corpora made from text already on this machine, which the project has never seen.

Prose is the English man pages (``/usr/share/man/man[1-8]``, no translations) rendered to plain text at
80 columns, and the READMEs, changelogs and ``.txt``/``.md``/``.rst`` files of ``/usr/share/doc``. Code is
the ``.py`` files of ``/usr/lib/python3.11`` and of the venv's site-packages, and the ``.c``/``.h`` files
under ``/usr/include``. Nothing is downloaded and the sample corpus (``data/sample``) is not used.

One document per file: empty files, files over 1 MB and exact copies of an earlier file are skipped, and
so are man pages that only point at another page (``.so``), symbolic links, and the few files that hold
the literal text ``<|endoftext|>`` (datatrove would encode it as the EOS id, mixer as text). Everything
is sorted by path, and samples use a fixed seed, so the same machine gives the same corpus. Rendering the
~20,000 man pages takes minutes, so it is done once into a cached pool of plain text
(``bench-out/corpus/pool``); each corpus is then drawn from it.

A corpus is a folder ``bench-out/corpus/<name>/`` of gzip JSONL files (``{"id", "text"}``, documents dealt
round-robin), a ``corpus.json`` saying what it holds and what it was made from, and a ``done`` marker.
When the material is smaller than the target, it is repeated with new ids (``copies`` in corpus.json).

    python -m bench.corpus [MB ...]   # prose-and-code corpora of these sizes (default 68), other-prose
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import chain
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out" / "corpus"
POOL = OUT / "pool" / "prose.jsonl.gz"
MAN = Path("/usr/share/man")
DOC = Path("/usr/share/doc")
CODE = [
    (Path("/usr/lib/python3.11"), (".py",)),
    (ROOT / ".venv" / "lib" / "python3.11" / "site-packages", (".py",)),
    (Path("/usr/include"), (".c", ".h")),
]
MAX_BYTES = 1_000_000
# A document holding this literal text is left out: datatrove's DocumentTokenizer turns it into the EOS id
# (an end of document mid-text), mixer encodes it as text, so the two would count different tokens.
EOS_TEXT = "<|endoftext|>"
SKIPPED: dict[str, int] = {}  # documents left out for holding EOS_TEXT, by kind
DOC_NAMES = ("readme", "changelog", "news", "changes")
DOC_SUFFIXES = (".txt", ".md", ".rst")
Documents = Iterator[tuple[str, str]]  # (id, text)
# groff as `man` runs it, without the pager's formatting: tbl and preconv, UTF-8 out, 80 columns, no
# hyphenation; grotty -c -b -o -u writes neither escape sequences nor overstrikes (bold, underline).
GROFF = ["groff", "-t", "-k", "-Tutf8", "-man", "-rLL=80n", "-rLT=80n", "-rHY=0", "-P-cbou"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the two corpora --------------------------------------------------------------------------------------


def prose_and_code(target_bytes: int, files: int = 8) -> Path:
    """About ``target_bytes`` of text, half prose and half code, interleaved, in ``files`` gzip JSONL files."""
    name = f"prose-and-code-{target_bytes / 1e6:g}MB-{files}files"

    def build() -> tuple[Documents, dict]:
        prose, prose_copies = fill(prose_pool(), target_bytes // 2)
        code, code_copies = fill(code_files(), target_bytes - target_bytes // 2)
        made_from = {
            "prose": describe(prose, prose_copies) | prose_origin(),
            "code": describe(code, code_copies) | {"from": ", ".join(str(root) for root, _ in CODE)},
        }
        return interleave(texts(prose), texts(code)), made_from

    return corpus(name, target_bytes, files, build)


def other_prose(target_bytes: int = 11_000_000, files: int = 4) -> Path:
    """About ``target_bytes`` of prose only (man pages and /usr/share/doc), in ``files`` gzip JSONL files."""
    name = f"other-prose-{target_bytes / 1e6:g}MB-{files}files"

    def build() -> tuple[Documents, dict]:
        prose, copies = fill(prose_pool(), target_bytes)
        made_from = {"prose": describe(prose, copies) | prose_origin()}
        return texts(prose), made_from

    return corpus(name, target_bytes, files, build)


def corpus(name: str, target_bytes: int, files: int, build: Callable[[], tuple[Documents, dict]]) -> Path:
    """The folder of corpus ``name``, written by ``build()`` (documents, made_from) unless already done."""
    folder = OUT / name
    if (folder / "done").is_file():
        return folder
    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    documents, made_from = build()
    outs = [gzip.open(folder / f"part-{k:02d}.jsonl.gz", "wt", compresslevel=1) for k in range(files)]
    count = size = 0
    for doc_id, text in documents:
        outs[count % files].write(json.dumps({"id": doc_id, "text": text}) + "\n")
        count += 1
        size += len(text.encode())
    for f in outs:
        f.close()
    info = {
        "name": name,
        "documents": count,
        "bytes": size,
        "target_bytes": target_bytes,
        "files": files,
        "copies": max(part["copies"] for part in made_from.values()),
        "made_from": made_from,
        "skipped_for_eos_text": {kind: SKIPPED.get(kind, 0) for kind in made_from},
        "seconds_to_build": round(time.perf_counter() - started, 1),
    }
    (folder / "corpus.json").write_text(json.dumps(info, indent=2) + "\n")
    (folder / "done").touch()
    log(f"{name}: {count:,} documents, {size / 1e6:.1f} MB in {files} files ({info['seconds_to_build']} s)")
    return folder


def corpus_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.glob("part-*.jsonl.gz"))


# --- choosing and ordering documents ----------------------------------------------------------------------


def fill(items: list[tuple[str, int]], budget: int) -> tuple[list[tuple[str, int, int]], int]:
    """(path, bytes, copy) adding up to about ``budget`` bytes, and how many copies of ``items`` that took.

    Whole copies while the budget allows, then a sample of one more: so a target smaller than the material
    samples all of it, and a larger one repeats it (the copy number makes new ids).
    """
    total = sum(size for _, size in items)
    whole = budget // total
    chosen = [(path, size, c) for c in range(whole) for path, size in items]
    rest = sample(items, budget - whole * total) if budget > whole * total else []
    chosen += [(path, size, whole) for path, size in rest]
    return chosen, whole + (1 if rest else 0)


def sample(items: list[tuple[str, int]], budget: int) -> list[tuple[str, int]]:
    """A random sample (fixed seed) of items adding up to about ``budget`` bytes, still in path order.

    Every item is equally likely, whatever its size: a rule that took every k-th byte, or that kept the
    bytes in step with the position in the list, would favour large files or runs of small ones.
    """
    order = list(range(len(items)))
    random.Random(0).shuffle(order)
    chosen, kept = [], 0
    for i in order:
        if kept >= budget:
            break
        chosen.append(i)
        kept += items[i][1]
    return [items[i] for i in sorted(chosen)]


def interleave(a: Iterator[tuple[str, str]], b: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Both streams merged so that neither runs ahead of the other by bytes; the rest of the longer at the end."""
    written = [0, 0]
    heads = [next(a, None), next(b, None)]
    streams = [a, b]
    while heads[0] is not None or heads[1] is not None:
        k = 0 if heads[1] is None or (heads[0] is not None and written[0] <= written[1]) else 1
        doc = heads[k]
        yield doc
        written[k] += len(doc[1])
        heads[k] = next(streams[k], None)


def texts(chosen: list[tuple[str, int, int]]) -> Iterator[tuple[str, str]]:
    """(id, text) of each chosen document; the id is its path, with the copy number after a ``#``."""
    for path, _, copy in chosen:
        yield f"{path}#{copy}", read_text(path)


def prose_origin() -> dict:
    """Where the prose came from, and the pool's size and how long rendering it took."""
    pool = json.loads((POOL.parent / "done").read_text())
    return {"from": f"{MAN}/man[1-8] (rendered with groff), {DOC}", "pool": pool}


def describe(chosen: list[tuple[str, int, int]], copies: int) -> dict:
    return {
        "documents": len(chosen),
        "bytes": sum(size for _, size, _ in chosen),
        "unique_documents": len({path for path, _, _ in chosen}),
        "copies": copies,
    }


# --- the material -----------------------------------------------------------------------------------------

_POOL: dict[str, str] = {}


def read_text(path: str) -> str:
    """A pooled prose document, or a code file read from disk."""
    if path in _POOL:
        return _POOL[path]
    return Path(path).read_bytes().decode("utf-8", errors="replace")


def code_files() -> list[tuple[str, int]]:
    """(path, bytes) of every code file, sorted by path; copies of an earlier file's content are skipped."""
    paths = []
    for root, suffixes in CODE:
        for folder, _, names in os.walk(root):
            paths += [os.path.join(folder, n) for n in names if n.endswith(suffixes)]
    items, seen = [], set()
    for path in sorted(paths):
        if os.path.islink(path) or not 0 < os.path.getsize(path) <= MAX_BYTES:
            continue
        data = Path(path).read_bytes()
        digest = hashlib.sha1(data).digest()
        if b"\0" in data or not data.strip() or digest in seen:
            continue
        seen.add(digest)
        if EOS_TEXT.encode() in data:
            SKIPPED["code"] = SKIPPED.get("code", 0) + 1
            continue
        items.append((path, len(data.decode("utf-8", errors="replace").encode())))
    log(f"code: {len(items):,} files, {sum(s for _, s in items) / 1e6:.1f} MB")
    return items


def prose_pool() -> list[tuple[str, int]]:
    """(path, bytes) of every prose document, sorted by path; their texts are held in memory."""
    if not (POOL.parent / "done").is_file():
        build_pool()
    if not _POOL:
        with gzip.open(POOL, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                _POOL[record["path"]] = record["text"]
    SKIPPED["prose"] = sum(EOS_TEXT in text for text in _POOL.values())
    return [(path, len(text.encode())) for path, text in _POOL.items() if EOS_TEXT not in text]


def build_pool() -> None:
    """Render every man page and read every prose file of /usr/share/doc into the pool, once."""
    started = time.perf_counter()
    POOL.parent.mkdir(parents=True, exist_ok=True)
    (POOL.parent / "done").unlink(missing_ok=True)
    pages = sorted(str(p) for section in range(1, 9) for p in (MAN / f"man{section}").glob("*") if is_file(p))
    docs = sorted(str(p) for p in DOC.rglob("*") if is_file(p) and is_doc_name(p.name))
    log(f"prose pool: rendering {len(pages):,} man pages (2 processes), reading {len(docs):,} doc files")
    seen, kept, size = set(), 0, 0
    with Pool(2) as pool, gzip.open(POOL, "wt", encoding="utf-8", compresslevel=1) as out:
        rendered = pool.imap(render_man_page, pages, chunksize=16)
        for n, (path, text) in enumerate(
            zip(docs + pages, chain(map(read_doc, docs), rendered), strict=True)
        ):
            if n % 2000 == 0:
                log(f"  {n:,} / {len(docs) + len(pages):,} ({time.perf_counter() - started:.0f} s)")
            digest = hashlib.sha1(text.encode()).digest()
            if not text.strip() or len(text.encode()) > MAX_BYTES or digest in seen:
                continue
            seen.add(digest)
            out.write(json.dumps({"path": path, "text": text}) + "\n")
            kept += 1
            size += len(text.encode())
    (POOL.parent / "done").write_text(
        json.dumps({"documents": kept, "bytes": size, "seconds": round(time.perf_counter() - started)}) + "\n"
    )
    log(f"prose pool: {kept:,} documents, {size / 1e6:.1f} MB ({time.perf_counter() - started:.0f} s)")


def is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def is_doc_name(name: str) -> bool:
    base = name.lower().removesuffix(".gz")
    return base.startswith(DOC_NAMES) or base.endswith(DOC_SUFFIXES)


def read_doc(path: str) -> str:
    data = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
    return "" if b"\0" in data else data.decode("utf-8", errors="replace")


def render_man_page(path: str) -> str:
    """The page as plain text, or "" for a page that only points at another (``.so``) or fails to render."""
    source = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
    lines = [
        line for line in source.splitlines() if line.strip() and not line.startswith((b'.\\"', b"'\\\""))
    ]
    if not lines or (len(lines) == 1 and lines[0].startswith(b".so ")):
        return ""
    try:
        proc = subprocess.run(GROFF, input=source, capture_output=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return ""
    return plain(proc.stdout.decode("utf-8", errors="replace"))


def plain(text: str) -> str:
    """Without overstrikes or escape sequences, trailing spaces, and runs of blank lines."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", re.sub(r".\x08", "", text))
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


if __name__ == "__main__":
    # sizes in MB of prose-and-code corpora; 68 MB is bench.tokenize's 18M-token size, 640 MB its 170M
    sizes = [int(float(mb) * 1e6) for mb in sys.argv[1:]] or [68_000_000]
    for folder in [prose_and_code(size) for size in sizes] + [other_prose()]:
        info = json.loads((folder / "corpus.json").read_text())
        print(
            f"{folder}: {info['documents']:,} documents, {info['bytes'] / 1e6:.1f} MB, copies {info['copies']}"
        )
