"""How gathered material becomes the sample corpus's files: shards in each input format (gzip and zstandard
JSONL, Parquet), the standard library's docstrings rendered as one document per module, notes' file
names, atomic writes, and the README that says what each part holds.
"""

from __future__ import annotations

import ast
import gzip
import io
import os
import shutil
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from mixer.samples.generated_problems import GENERATED_DEFECTS
from mixer.samples.machine import NOTE_SUFFIXES, ascii_safe
from mixer.samples.parts import Candidate, Gathered, SampleCorpusSummary, SamplePart, Skip, Tally

SHARD_TEXT_BYTES = 8_000_000  # a shard is closed once it holds this much UTF-8 text
GZIP_LEVEL = 6
ZSTD_LEVEL = 10
PARQUET_ROW_GROUP_ROWS = 1024

PYDOC_SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("module", pa.string())])


class ShardWriter:
    """Writes a part's records into ``<stem>-00000.<ext>``, ``<stem>-00001.<ext>``, ... by text size."""

    def __init__(
        self, folder: Path, extension: str, encode: Callable[[list[dict[str, str]]], bytes], shard_bytes: int
    ) -> None:
        self.folder, self.extension, self.encode, self.shard_bytes = folder, extension, encode, shard_bytes
        self.files: list[Path] = []
        self.documents = 0
        self.text_bytes = 0
        self._records: list[dict[str, str]] = []
        self._pending_bytes = 0
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, record: dict[str, str], text_bytes: int) -> None:
        self._records.append(record)
        self._pending_bytes += text_bytes
        self.documents += 1
        self.text_bytes += text_bytes
        if self._pending_bytes >= self.shard_bytes:
            self._flush()

    def close(self) -> list[Path]:
        if self._records:
            self._flush()
        remove_stale(self.folder, keep=set(self.files))
        return list(self.files)

    def _flush(self) -> None:
        path = self.folder / f"{self.folder.name}-{len(self.files):05d}.{self.extension}"
        write_atomic(path, self.encode(self._records))
        self.files.append(path)
        self._records, self._pending_bytes = [], 0


def write_sharded(
    folder: Path,
    fmt: str,
    encode: Callable[[list[dict[str, str]]], bytes],
    candidates: Iterable[Candidate],
    tally: Tally,
    shard_bytes: int,
) -> Gathered:
    writer = ShardWriter(folder, fmt, encode, shard_bytes)
    for candidate in candidates:
        try:
            text = candidate.load()
        except Skip as skip:
            tally.skipped[skip.reason] += 1
            continue
        admitted = tally.admit(text)
        if admitted is not None:
            doc_id, data = admitted
            writer.add({"id": doc_id, "text": text, **candidate.fields}, len(data))
    files = writer.close()
    part = SamplePart(folder.name, fmt, files, writer.documents, writer.text_bytes)
    return Gathered(part, tally.skipped)


def encode_jsonl(records: list[dict[str, str]]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


def encode_jsonl_gz(records: list[dict[str, str]]) -> bytes:
    buffer = io.BytesIO()
    # mtime=0 and an empty file name keep the gzip header identical from run to run.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=GZIP_LEVEL, mtime=0) as gz:
        gz.write(encode_jsonl(records))
    return buffer.getvalue()


def encode_jsonl_zst(records: list[dict[str, str]]) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(encode_jsonl(records))


def encode_parquet(records: list[dict[str, str]]) -> bytes:
    table = pa.Table.from_pylist(records, schema=PYDOC_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=PARQUET_ROW_GROUP_ROWS, compression="zstd")
    return sink.getvalue().to_pybytes()


# --- the pydoc renderer -------------------------------------------------------------------------------


def render_pydoc(module: str, source: str) -> str | None:
    """Render a module's docstrings as plain text without importing it; None when nothing is documented.

    The document is ``Module <name>``, the module docstring, then each public class and function (methods
    and nested classes indented below their class) as its decorators and signature followed by its
    docstring. Undocumented functions are left out; a class is kept when it or one of its members is
    documented. Private names (``_x``, but not ``__dunder__``) are left out with everything inside them.
    """
    tree = ast.parse(source)
    module_doc = ast.get_docstring(tree)
    blocks = [block for node in tree.body for block in render_definition(node, depth=0)]
    if not module_doc and not blocks:
        return None
    head = f"Module {module}" + (f"\n\n{module_doc}" if module_doc else "")
    return "\n\n".join([head, *blocks]) + "\n"


def render_definition(node: ast.stmt, depth: int) -> list[str]:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or is_private(node.name):
        return []
    indent = "    " * depth
    doc = ast.get_docstring(node)
    decorators = "".join(f"{indent}@{ast.unparse(d)}\n" for d in node.decorator_list)
    if isinstance(node, ast.ClassDef):
        members = [block for child in node.body for block in render_definition(child, depth + 1)]
        if not doc and not members:
            return []
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        signature = f"class {node.name}" + (f"({', '.join(bases)})" if bases else "") + ":"
    else:
        if not doc:
            return []
        members = []
        keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        signature = f"{keyword} {node.name}({ast.unparse(node.args)}){returns}:"
    block = decorators + indent + signature
    if doc:
        block += "\n" + textwrap.indent(doc, indent + "    ")
    return [block, *members]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def note_file_name(index: int, label: str, name: str) -> str:
    """``0007``, ``numpy``, ``LICENSE.txt`` -> ``0007-numpy-LICENSE.txt``; ASCII, keeps .md/.rst/.txt."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in NOTE_SUFFIXES:
        name = name[: -len(suffix)]
    else:
        suffix = ".txt"
    return f"{index:04d}-{ascii_safe(label)[:40]}-{ascii_safe(name)[:60]}{suffix}"


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def remove_stale(folder: Path, keep: set[Path]) -> None:
    """Delete files (and git snapshots) of earlier runs, and their leftover temporaries, that this run did
    not write."""
    for entry in folder.iterdir():
        if entry in keep:
            continue
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
        elif entry.is_dir() and entry.name.endswith((".git", ".git.tmp")):
            shutil.rmtree(entry)


# --- README -------------------------------------------------------------------------------------------

PART_DESCRIPTIONS = {
    "web": (
        "Prose standing in for web text: the long description of every installed Python distribution "
        "(its METADATA body), then the plain-text, Markdown and reStructuredText documentation under "
        "/usr/share/doc (README*, changelogs, copyright files; gzipped ones decompressed). "
        'Gzip JSONL, one `{"id", "text", "origin"}` record per line; origin is the package name or file path.'
    ),
    "code": (
        "The running interpreter's standard-library source (every `*.py` under {stdlib}, test suites "
        'included, site-packages excluded). Zstandard JSONL, one `{"id", "text", "path", "language"}` record '
        "per line; path is relative to the standard-library root and text is the file's exact content."
    ),
    "pydoc": (
        "Prose documentation of the standard library, extracted without importing anything: each module "
        "(tests excluded) is parsed with `ast` and its module, class and function docstrings are rendered "
        "with their signatures into one plain-text document. Parquet with string columns id, text, module."
    ),
    "notes": (
        "Loose text files, one document each: /usr/share/common-licenses, the standard library's own "
        "README/NEWS/LICENSE and .txt/.md/.rst files, and installed packages' README, LICENSE, AUTHORS "
        "and CHANGES files. Named `NNNN-<origin>-<file name>` with the extension kept (.md, .rst, else .txt)."
    ),
    "git": (
        "Bare git repositories for `type: git_commits`, cloned (`git clone --bare --single-branch --no-tags`, "
        "from a file:// URL, packed by one thread) from this project's own repository (`mixer.git`: the "
        "repository holding the mixer package, else the one holding the working directory, with its whole "
        "history) and from at most four repositories found directly under /usr/local/src, /usr/src, /opt "
        "and /srv (at most 20 MB of objects each; their last 200 commits). Documents counts commits."
    ),
    "prs": (
        "Pull-request-shaped records for `type: github_prs`, one JSONL file per snapshot in git/. They are "
        "**not** real pull requests: `mixer.samples.prs_from_git` cuts the first-parent history of HEAD into one "
        "would-be pull request per commit (a merge: per merge), with title and description from the commit "
        "message, the author's name, the diff and the base files, state merged and no discussion; every "
        'record says `"metadata": {"synthetic": "derived from git history of <name>", ...}`.'
    ),
    "verified": (
        "Python problems `{id, prompt, solution, tests}` for `type: verified_python` (see "
        "`mixer/samples/doctest_problems.py`, `mixer/samples/generated_problems.py`). `doctests.jsonl`: one problem per function or class of a fixed list "
        "of pure-Python standard-library modules whose docstrings hold examples; the solution is the "
        "definition as the module has it (with the imports it needs), the tests run its examples as "
        "doctest would. Examples that depend on the machine, time, randomness, identities or set order, "
        "that use doctest directives or import the module under test, are left out by static rules (the "
        "skipped counts). `generated.jsonl`: a fixed set of small problems of which these are wrong on "
        "purpose, so that a build shows every rejection: {defects}."
    ),
}


def readme(summary: SampleCorpusSummary, gathered: dict[str, Gathered], stdlib: Path) -> str:
    lines = [
        "# Sample corpus",
        "",
        "Generated by `mixer sample-corpus` from material already on this machine; nothing was downloaded.",
        "Regenerate it rather than edit it: a rerun on the same machine and environment reproduces every",
        "file byte for byte and removes the files of earlier runs. Ids are content hashes; exact duplicate",
        "texts are kept once per part.",
        "",
        f"Total: {summary.total_bytes:,} bytes of UTF-8 text (JSONL for prs/ and verified/).",
        "",
        "| part | format | files | documents | text bytes | skipped |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, result in gathered.items():
        part = result.part
        skipped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(result.skipped.items())) or "-"
        documents = f"{part.documents:,}" + ("" if part.unit == "documents" else f" {part.unit}")
        text_bytes = f"{part.text_bytes:,}" if part.format != "git" else "-"
        lines.append(
            f"| `{name}/` | {part.format} | {len(part.files)} | {documents} | {text_bytes} | {skipped} |"
        )
    lines += [f"\nNote: {note}" for note in summary.notes]
    defects = ", ".join(f"`{pid}` ({reason})" for pid, reason in GENERATED_DEFECTS.items())
    for name in gathered:
        description = PART_DESCRIPTIONS[name].replace("{stdlib}", str(stdlib)).replace("{defects}", defects)
        lines += ["", f"## `{name}/`", "", description]
    return "\n".join(lines) + "\n"
