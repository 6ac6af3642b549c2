"""Tests for mixer.samples.corpus: the renderer and readers on hand-built trees, then one real gather."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import io
import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from mixer.samples import corpus as samplecorpus
from mixer.samples import machine
from mixer.samples.corpus import (
    _gather_code,
    _gather_git,
    _gather_notes,
    _gather_prs,
    _gather_pydoc,
    _gather_web,
    gather_sample_corpus,
)
from mixer.samples.files import encode_jsonl as _encode_jsonl
from mixer.samples.files import render_pydoc as _render_pydoc
from mixer.samples.generated_problems import GENERATED_DEFECTS, generated_problems
from mixer.samples.machine import NoteSource as _NoteSource
from mixer.samples.machine import Repository as _Repository
from mixer.samples.machine import read_text as _read_text
from mixer.samples.parts import SampleCorpusError, SampleCorpusSummary, SamplePart, Skip

# --- helpers ------------------------------------------------------------------------------------------


def read_jsonl_gz(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rb") as f:
        return [json.loads(line) for line in f]


def read_jsonl_zst(path: Path) -> list[dict[str, str]]:
    data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()
    return [json.loads(line) for line in data.splitlines()]


def read_part(part: SamplePart) -> list[dict[str, str]]:
    """Every document (record) of a part as written on disk, in file order."""
    if part.format == "jsonl.gz":
        return [record for path in part.files for record in read_jsonl_gz(path)]
    if part.format == "jsonl.zst":
        return [record for path in part.files for record in read_jsonl_zst(path)]
    if part.format == "jsonl":
        return [json.loads(line) for path in part.files for line in path.read_bytes().splitlines()]
    if part.format == "parquet":
        return [record for path in part.files for record in pq.read_table(path).to_pylist()]
    assert part.format == "text"
    return [{"text": path.read_bytes().decode("utf-8"), "name": path.name} for path in part.files]


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def gz(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


def git(repo: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    environment = {**os.environ, **(env or {})}
    out = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return out.stdout.strip()


def make_repository(path: Path, messages: list[str]) -> Path:
    """A repository with one commit per message (each adds or changes a file), at fixed dates and author."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    identity = ["-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    for i, message in enumerate(messages):
        write(path / f"f{i % 2}.py", f"x = {i}\n")
        git(path, "add", "-A")
        date = f"2024-01-0{i + 1}T12:00:00+00:00"
        git(
            path,
            *identity,
            "commit",
            "-q",
            "-m",
            message,
            env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
    return path


def fake_distribution(root: Path, name: str, description: str) -> importlib.metadata.Distribution:
    info = root / f"{name}-1.0.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n{description}")
    write(info / "RECORD", f"{name}-1.0.dist-info/METADATA,,\n{name}-1.0.dist-info/LICENSE,,\n")
    write(info / "LICENSE", f"{name} licence\n")
    return importlib.metadata.PathDistribution(info)


# --- the pydoc renderer -------------------------------------------------------------------------------

TOY_MODULE = '''\
"""Toy module.

Second paragraph.
"""

import abc


def public(a, b=1, *args, c: int = 2, **kw) -> str:
    """Join things."""
    return ""


def undocumented(x):
    return x


def _private(y):
    """Hidden."""


async def fetch(url):
    """Fetch ``url``.

    Example:
        fetch("x")
    """


class Base:
    pass


class Shape(Base, metaclass=abc.ABCMeta):
    """A shape."""

    def __init__(self, sides):
        """Make a shape with ``sides`` sides."""

    @property
    def area(self) -> float:
        """The area."""

    def _helper(self):
        """Hidden too."""

    class Kind:
        """A nested class."""


class Plain:
    def run(self):
        """Run it."""
'''

TOY_RENDERED = """\
Module toy

Toy module.

Second paragraph.

def public(a, b=1, *args, c: int=2, **kw) -> str:
    Join things.

async def fetch(url):
    Fetch ``url``.

    Example:
        fetch("x")

class Shape(Base, metaclass=abc.ABCMeta):
    A shape.

    def __init__(self, sides):
        Make a shape with ``sides`` sides.

    @property
    def area(self) -> float:
        The area.

    class Kind:
        A nested class.

class Plain:

    def run(self):
        Run it.
"""


def test_render_pydoc_renders_docstrings_with_signatures() -> None:
    assert _render_pydoc("toy", TOY_MODULE) == TOY_RENDERED


def test_render_pydoc_without_module_docstring_starts_with_first_definition() -> None:
    assert _render_pydoc("m", 'def f(x, /, y):\n    """F."""\n') == "Module m\n\ndef f(x, /, y):\n    F.\n"


def test_render_pydoc_returns_none_when_nothing_is_documented() -> None:
    source = 'import os\n\ndef f(x):\n    return x\n\nclass C:\n    def _g(self):\n        """Private."""\n'
    assert _render_pydoc("m", source) is None


def test_render_pydoc_raises_on_invalid_source() -> None:
    with pytest.raises(SyntaxError):
        _render_pydoc("m", "def (:\n")


# --- reading files ------------------------------------------------------------------------------------


def skip_reason(path: Path, max_doc_bytes: int = 100, *, gunzip: bool = False) -> str:
    with pytest.raises(Skip) as caught:
        _read_text(path, max_doc_bytes, gunzip=gunzip)
    return caught.value.reason


def test_read_text_accepts_utf8_and_exact_limit(tmp_path: Path) -> None:
    assert _read_text(write(tmp_path / "a.txt", "h\u00e9llo"), 6) == "h\u00e9llo"  # 6 bytes in UTF-8
    assert _read_text(write(tmp_path / "b.txt.gz", gz("zipped\n")), 7, gunzip=True) == "zipped\n"


def test_read_text_skips_what_is_not_a_small_utf8_text_file(tmp_path: Path) -> None:
    assert skip_reason(write(tmp_path / "latin1.txt", "caf\u00e9".encode("latin-1"))) == "not-utf8"
    assert skip_reason(write(tmp_path / "big.txt", "x" * 101)) == "oversized"
    assert skip_reason(write(tmp_path / "bomb.gz", gz("x" * 101)), gunzip=True) == "oversized"
    assert skip_reason(write(tmp_path / "fake.gz", "not gzip at all"), gunzip=True) == "unreadable"
    assert skip_reason(write(tmp_path / "cut.gz", gz("y" * 50)[:-12]), gunzip=True) == "unreadable"
    assert skip_reason(write(tmp_path / "nul.txt", b"a\x00b")) == "binary"
    assert skip_reason(tmp_path) == "not-a-file"
    os.mkfifo(tmp_path / "fifo")
    assert skip_reason(tmp_path / "fifo") == "not-a-file"  # opening it would block forever
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert skip_reason(tmp_path / "dangling") == "unreadable"
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    assert skip_reason(tmp_path / "loop-a") == "unreadable"


# --- the parts on hand-built trees --------------------------------------------------------------------


@pytest.fixture
def fake_stdlib(tmp_path: Path) -> Path:
    root = tmp_path / "lib" / "python3.x"
    write(root / "alpha.py", '"""Alpha module."""\n\nX = 1\n')
    write(root / "pkg" / "__init__.py", '"""A package."""\n')
    write(root / "pkg" / "beta.py", 'def b():\n    """Beta."""\n')
    write(root / "pkg" / "copy_of_alpha.py", '"""Alpha module."""\n\nX = 1\n')
    write(root / "pkg" / "empty.py", "  \n")
    write(root / "pkg" / "nodoc.py", "Y = 2\n")
    write(root / "latin1.py", '# -*- coding: latin-1 -*-\nS = "caf\u00e9"\n'.encode("latin-1"))
    write(root / "huge.py", "# " + "x" * 300 + "\n")
    write(root / "broken.py", "def (:\n")
    write(root / "test" / "test_alpha.py", '"""Tests."""\n')
    write(root / "site-packages" / "thirdparty.py", '"""Not stdlib."""\n')
    write(root / "__pycache__" / "cached.py", '"""Not source."""\n')
    write(root / "config-3.x" / "python-config.py", '"""Not a module name."""\n')
    write(root / "README.txt", "The fake standard library.\n")
    (root / "pkg" / "up").symlink_to(root, target_is_directory=True)  # a directory loop, never followed
    (root / "self-loop.py").symlink_to(root / "self-loop.py")
    return root


def test_gather_code_writes_each_source_file_and_counts_skips(tmp_path: Path, fake_stdlib: Path) -> None:
    result = _gather_code(tmp_path / "out" / "code", fake_stdlib, max_doc_bytes=200)

    records = read_part(result.part)
    # config-3.x/python-config.py is stdlib source even though it is not an importable module.
    assert [r["path"] for r in records] == [
        "alpha.py", "broken.py", "config-3.x/python-config.py", "pkg/__init__.py", "pkg/beta.py",
        "pkg/nodoc.py", "test/test_alpha.py",
    ]  # fmt: skip
    for record in records:
        assert list(record) == ["id", "text", "path", "language"]
        assert record["language"] == "python"
        assert record["text"] == (fake_stdlib / record["path"]).read_text("utf-8")
        digest = hashlib.sha256(record["text"].encode("utf-8")).hexdigest()
        assert record["id"] == f"code-{digest[:16]}"
    # pkg/copy_of_alpha.py, pkg/empty.py, latin1.py, huge.py, self-loop.py
    assert result.skipped == Counter(
        {"duplicate": 1, "empty": 1, "not-utf8": 1, "oversized": 1, "unreadable": 1}
    )
    assert result.part == SamplePart(
        name="code",
        format="jsonl.zst",
        files=[tmp_path / "out" / "code" / "code-00000.jsonl.zst"],
        documents=7,
        text_bytes=sum(len(r["text"].encode("utf-8")) for r in records),
    )


def test_gather_pydoc_renders_documented_modules_outside_tests(tmp_path: Path, fake_stdlib: Path) -> None:
    result = _gather_pydoc(tmp_path / "out" / "pydoc", fake_stdlib, max_doc_bytes=200)

    [path] = result.part.files
    assert path.name == "pydoc-00000.parquet"
    table = pq.read_table(path)
    assert table.schema == pa.schema([("id", pa.string()), ("text", pa.string()), ("module", pa.string())])
    assert table.column("module").to_pylist() == ["alpha", "pkg", "pkg.beta", "pkg.copy_of_alpha"]
    assert table.column("text").to_pylist() == [
        "Module alpha\n\nAlpha module.\n",
        "Module pkg\n\nA package.\n",
        "Module pkg.beta\n\ndef b():\n    Beta.\n",
        "Module pkg.copy_of_alpha\n\nAlpha module.\n",
    ]
    # pkg/empty.py and pkg/nodoc.py, latin1.py, huge.py, broken.py; self-loop.py is no module name
    assert result.skipped == Counter({"no-docstrings": 2, "not-utf8": 1, "oversized": 1, "syntax-error": 1})
    assert result.part.documents == 4


def test_gather_web_reads_descriptions_then_prose_docs(tmp_path: Path) -> None:
    dists = [
        fake_distribution(tmp_path / "site", "alpha", "Alpha does things.\n"),
        fake_distribution(tmp_path / "site", "beta", "   \n"),
    ]
    docs = tmp_path / "doc"
    write(docs / "pkg-a" / "README.Debian", "Notes for Debian.\n")
    write(docs / "pkg-a" / "changelog.Debian.gz", gz("pkg-a (1.0) unstable; urgency=low\n"))
    write(docs / "pkg-a" / "copyright", "Copyright 2020 Someone.\n")
    write(docs / "pkg-a" / "manual.html", "<p>html is skipped</p>")
    write(docs / "pkg-a" / "manual.html.gz", gz("<p>so is gzipped html</p>"))
    write(docs / "pkg-a" / "logo.png", b"\x89PNG\r\n")
    write(docs / "pkg-b" / "guide.md", "# Guide\n\nRead me.\n")
    write(docs / "pkg-b" / "NEWS.gz", b"\x1f\x8b broken")
    write(docs / "pkg-b" / "notes.txt", "caf\u00e9".encode("latin-1"))
    write(docs / "pkg-c" / "copyright", "Copyright 2020 Someone.\n")
    (docs / "pkg-d").symlink_to(docs / "pkg-a", target_is_directory=True)

    result = _gather_web(tmp_path / "out" / "web", dists, [docs, tmp_path / "absent"], max_doc_bytes=1000)

    records = read_jsonl_gz(tmp_path / "out" / "web" / "web-00000.jsonl.gz")
    assert [(r["origin"], r["text"]) for r in records] == [
        ("alpha", "Alpha does things.\n"),
        (f"{docs}/pkg-a/README.Debian", "Notes for Debian.\n"),
        (f"{docs}/pkg-a/changelog.Debian.gz", "pkg-a (1.0) unstable; urgency=low\n"),
        (f"{docs}/pkg-a/copyright", "Copyright 2020 Someone.\n"),
        (f"{docs}/pkg-b/guide.md", "# Guide\n\nRead me.\n"),
    ]
    assert all(list(r) == ["id", "text", "origin"] for r in records)
    assert result.skipped == Counter(
        {"empty": 1, "unreadable": 1, "not-utf8": 1, "duplicate": 1, "missing-root": 1}
    )
    assert (result.part.documents, result.part.text_bytes) == (5, sum(len(r["text"]) for r in records))


def test_shards_roll_at_the_text_size_and_stale_shards_are_removed(tmp_path: Path, fake_stdlib: Path) -> None:
    folder = tmp_path / "out" / "code"
    write(folder / "code-00007.jsonl.zst", b"from an earlier run")
    write(folder / ".code-00000.jsonl.zst.tmp", b"left by a killed run")

    result = _gather_code(folder, fake_stdlib, max_doc_bytes=200, shard_bytes=40)

    # A shard closes as soon as it holds 40 bytes of text: alpha.py 27 + broken.py 7 + python-config.py 25,
    # then pkg/__init__.py 17 + pkg/beta.py 25, and the rest (pkg/nodoc.py 6 + test/test_alpha.py 13).
    assert result.part.files == [
        folder / "code-00000.jsonl.zst",
        folder / "code-00001.jsonl.zst",
        folder / "code-00002.jsonl.zst",
    ]
    assert sorted(folder.iterdir()) == result.part.files
    assert [[r["path"] for r in read_jsonl_zst(f)] for f in result.part.files] == [
        ["alpha.py", "broken.py", "config-3.x/python-config.py"],
        ["pkg/__init__.py", "pkg/beta.py"],
        ["pkg/nodoc.py", "test/test_alpha.py"],
    ]
    assert (result.part.documents, result.part.text_bytes) == (7, 120)


def test_gather_notes_names_files_and_respects_the_budget(tmp_path: Path) -> None:
    src = tmp_path / "src"
    sources = [
        _NoteSource("common-licenses", write(src / "GPL-3", "GNU GENERAL PUBLIC LICENSE\n")),
        _NoteSource("numpy", write(src / "LICENSE.txt", "numpy licence\n")),
        _NoteSource("pip", write(src / "GPL-copy", "GNU GENERAL PUBLIC LICENSE\n")),
        _NoteSource("Weird Name/\u00fc", write(src / "AUTHORS.rst", "Authors\n=======\n")),
        _NoteSource("x", write(src / "LICENSE.APACHE", "Apache\n")),
        _NoteSource("x", write(src / "NEWS.md", "a" * 30 + "\n")),
        _NoteSource("x", write(src / "empty.md", "\n")),
    ]
    folder = tmp_path / "out" / "notes"
    write(folder / "0099-stale-README.md", "from an earlier run\n")

    result = _gather_notes(folder, sources, max_doc_bytes=1000, budget_bytes=80)

    assert [p.name for p in result.part.files] == [
        "0000-common-licenses-GPL-3.txt",
        "0001-numpy-LICENSE.txt",
        "0002-Weird_Name-AUTHORS.rst",
        "0003-x-LICENSE.APACHE.txt",
    ]
    assert sorted(folder.iterdir()) == result.part.files
    assert (folder / "0001-numpy-LICENSE.txt").read_text() == "numpy licence\n"
    assert result.skipped == Counter({"duplicate": 1, "over-budget": 1, "empty": 1})
    assert result.part == SamplePart("notes", "text", result.part.files, 4, 27 + 14 + 16 + 7)


def test_note_sources_order_and_selection(tmp_path: Path, fake_stdlib: Path) -> None:
    licenses = tmp_path / "common-licenses"
    write(licenses / "GPL-3", "GPL\n")
    (licenses / "GPL").symlink_to(licenses / "GPL-3")
    site = tmp_path / "site"
    dist = fake_distribution(site, "zeta", "Zeta.\n")
    record = "\n".join([
        "zeta-1.0.dist-info/METADATA,,", "zeta-1.0.dist-info/top_level.txt,,", "zeta-1.0.dist-info/LICENSE,,",
        "zeta-1.0.dist-info/licenses/NOTICE.md,,", "zeta/README.rst,,", "zeta/words.txt,,",
        "zeta/docs/guide.md,,", "zeta/tests/README.md,,", "zeta/readme.py,,",
    ])  # fmt: skip
    write(site / "zeta-1.0.dist-info" / "RECORD", record + "\n")

    sources = list(machine.note_sources([dist], fake_stdlib, licenses))

    assert [(s.label, s.path) for s in sources] == [
        ("common-licenses", licenses / "GPL-3"),
        ("python-stdlib", fake_stdlib / "README.txt"),
        ("zeta", site / "zeta-1.0.dist-info" / "LICENSE"),
        ("zeta", site / "zeta-1.0.dist-info" / "licenses" / "NOTICE.md"),
        ("zeta", site / "zeta" / "README.rst"),
        ("zeta", site / "zeta" / "docs" / "guide.md"),
    ]


def test_gather_sample_corpus_below_min_bytes_raises_after_writing(
    tmp_path: Path, fake_stdlib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(samplecorpus, "stdlib_root", lambda: fake_stdlib)
    monkeypatch.setattr(samplecorpus, "distributions", lambda: [])
    monkeypatch.setattr(samplecorpus, "DOC_ROOTS", (tmp_path / "no-doc",))
    monkeypatch.setattr(samplecorpus, "LICENSES_ROOT", tmp_path / "no-licenses")
    monkeypatch.setattr(samplecorpus, "find_repositories", lambda: ([], ["no repository here"]))
    out = tmp_path / "sample"
    generated = len(_encode_jsonl(generated_problems()))  # the fake stdlib has no doctest modules
    total = 274 + generated

    with pytest.raises(
        SampleCorpusError, match=rf"holds {total:,} bytes of text, fewer than min_bytes=100,000 "
    ) as err:
        gather_sample_corpus(out, min_bytes=100_000, max_doc_bytes=200)
    assert "web/ 0 bytes in 0 documents, code/ 120 bytes in 7 documents" in str(err.value)
    assert "notes/ 27 bytes in 1 documents" in str(err.value)

    summary = gather_sample_corpus(out, min_bytes=total, max_doc_bytes=200)
    assert summary.total_bytes == total
    assert {name: (p.documents, p.text_bytes) for name, p in summary.parts.items()} == {
        "web": (0, 0),
        "code": (7, 120),
        "pydoc": (4, 28 + 23 + 36 + 40),
        "notes": (1, 27),
        "git": (0, 0),
        "prs": (0, 0),
        "verified": (32, generated),
    }
    assert summary.parts["notes"].files == [out / "notes" / "0000-python-stdlib-README.txt"]
    assert summary.notes == ("no repository here",)
    readme = (out / "README.md").read_text()
    assert "| `code/` | jsonl.zst | 1 | 7 | 120 |" in readme
    assert "| `git/` | git | 0 | 0 commits | - | - |" in readme
    assert f"| `verified/` | jsonl | 2 | 32 problems | {generated:,} | missing-module 15 |" in readme
    assert "\nNote: no repository here\n" in readme
    assert "`generated-10-count-digits` (timeout)" in readme
    assert (out / "verified" / "doctests.jsonl").read_bytes() == b""


# --- git/ and prs/ -------------------------------------------------------------------------------------


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_gather_git_snapshots_the_reachable_history(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "demo", ["Add f0", "Add f1", "Change f0"])
    dangling = git(repo, "hash-object", "-w", "--stdin", stdin="not in any commit\n")  # unreachable
    folder = tmp_path / "out" / "git"
    (folder / "old.git" / "objects").mkdir(parents=True)  # from an earlier run
    (folder / ".demo.git.tmp").mkdir()  # left by a killed run
    repositories = [_Repository("demo", repo, None), _Repository("gone", tmp_path / "nowhere", None)]

    result = _gather_git(folder, repositories)

    snapshot = folder / "demo.git"
    assert result.part == SamplePart("git", "git", [snapshot], 3, 0, unit="commits")
    assert result.skipped == Counter({"clone-failed": 1})
    assert sorted(folder.iterdir()) == [snapshot]
    assert git(snapshot, "rev-parse", "--is-bare-repository") == "true"
    assert git(snapshot, "rev-parse", "HEAD") == git(repo, "rev-parse", "HEAD")
    assert git(snapshot, "log", "--format=%s") == "Change f0\nAdd f1\nAdd f0"
    missing = subprocess.run(["git", "-C", str(snapshot), "cat-file", "-e", dangling], capture_output=True)
    assert missing.returncode != 0
    assert not (snapshot / "hooks").exists()
    # the same repository gives the same bytes, and a rerun replaces the snapshot
    _gather_git(tmp_path / "again" / "git", repositories[:1])
    assert tree(folder) == tree(tmp_path / "again" / "git")
    assert _gather_git(folder, repositories[:1]).part == result.part


def test_gather_prs_derives_marked_records_from_each_snapshot(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "demo", ["Add f0", "Add f1\n\nWith a body.", "Change f0"])
    snapshots = _gather_git(tmp_path / "git", [_Repository("demo", repo, None)]).part.files
    folder = tmp_path / "out" / "prs"
    write(folder / "stale.jsonl", "{}\n")

    result = _gather_prs(folder, snapshots)

    records = read_part(result.part)
    assert result.part.files == [folder / "demo.jsonl"] and sorted(folder.iterdir()) == result.part.files
    assert (result.part.documents, result.part.unit) == (3, "pull requests")
    assert result.part.text_bytes == (folder / "demo.jsonl").stat().st_size
    assert [(r["number"], r["title"], r["body"], r["user"]) for r in records] == [
        (1, "Add f0", "", "Ada"),
        (2, "Add f1", "With a body.", "Ada"),
        (3, "Change f0", "", "Ada"),
    ]
    assert all(r["metadata"]["synthetic"] == "derived from git history of demo" for r in records)
    assert all(r["repo"] == "demo" and r["merged"] and r["comments"] == [] for r in records)
    assert [f["filename"] for f in records[2]["files"]] == ["f0.py"]
    assert records[2]["files"][0]["patch"] == "@@ -1 +1 @@\n-x = 0\n+x = 2\n"


def test_repositories_without_a_checkout_note_why_and_find_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setattr(machine, "__file__", str(tmp_path / "site" / "mixer" / "samples" / "machine.py"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    roots = [tmp_path / "src", tmp_path / "opt"]
    make_repository(roots[0] / "zeta", ["Zeta"])
    make_repository(roots[0] / "alpha", ["Alpha"])
    (roots[0] / "plain").mkdir()
    git(roots[0], "init", "-q", "empty")
    make_repository(roots[1] / "alpha.git", ["Another alpha"])
    monkeypatch.setattr(machine, "GIT_ROOTS", (*roots, tmp_path / "absent"))

    repositories, notes = machine.find_repositories()

    assert repositories == [
        _Repository("alpha", roots[0] / "alpha", 200),
        _Repository("zeta", roots[0] / "zeta", 200),
        _Repository("alpha-2", roots[1] / "alpha.git", 200),
    ]
    assert len(notes) == 1 and notes[0].startswith("this project is not a git checkout with commits")
    monkeypatch.setattr(machine, "MAX_OTHER_REPOSITORIES", 1)
    monkeypatch.setattr(machine, "MAX_OTHER_REPOSITORY_BYTES", 0)  # every repository is too large
    assert machine.find_repositories()[0] == []
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert machine.find_repositories() == (
        [],
        ["no git snapshots: the `git` command is not installed (or not on PATH)"],
    )


PACKAGE_TOP = Path(samplecorpus.__file__).resolve().parent.parent.parent
in_checkout = pytest.mark.skipif(
    not (PACKAGE_TOP / ".git").exists(), reason="mixer is not running from a git checkout"
)


@in_checkout
def test_project_repository_is_the_one_holding_the_package() -> None:
    top = PACKAGE_TOP
    assert machine.project_repository() == _Repository("mixer", top, None)


# --- one real gather on this machine ------------------------------------------------------------------


@pytest.fixture(scope="module")
def gathered(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleCorpusSummary, SampleCorpusSummary]:
    """The corpus gathered twice: once into a fresh folder, once over the files of a different run.

    The project's repository is read from one snapshot taken first, so that a commit made meanwhile
    (others work in this tree) cannot make the two gathers differ; other repositories are not looked for.
    """
    project = machine.project_repository()
    assert project is not None  # the tests that use this fixture run in a checkout only
    frozen = tmp_path_factory.mktemp("project") / "mixer.git"
    assert samplecorpus._snapshot(project, frozen) is None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(machine, "project_repository", lambda: _Repository("mixer", frozen, None))
        mp.setattr(machine, "GIT_ROOTS", ())
        fresh = gather_sample_corpus(tmp_path_factory.mktemp("fresh") / "sample")
        reused = tmp_path_factory.mktemp("reused") / "sample"
        write(reused / "web" / "web-00042.jsonl.gz", b"stale")
        write(reused / "notes" / "9999-old-NOTES.md", "stale\n")
        write(reused / "pydoc" / ".pydoc-00000.parquet.tmp", b"half written")
        (reused / "git" / "other.git" / "objects").mkdir(parents=True)
        write(reused / "prs" / "other.jsonl", "{}\n")
        write(reused / "verified" / "old.jsonl", "{}\n")
        return fresh, gather_sample_corpus(reused)


@in_checkout
def test_gather_is_deterministic_and_replaces_earlier_runs(gathered) -> None:
    fresh, reused = gathered
    assert tree(fresh.out_dir) == tree(reused.out_dir)
    assert fresh.total_bytes == reused.total_bytes


@in_checkout
def test_layout_and_formats(gathered) -> None:
    summary = gathered[0]
    out = summary.out_dir
    names = ["web", "code", "pydoc", "notes", "git", "prs", "verified"]
    assert sorted(p.name for p in out.iterdir()) == sorted(["README.md", *names])
    assert list(summary.parts) == names
    patterns = {
        "web": r"web-\d{5}\.jsonl\.gz",
        "code": r"code-\d{5}\.jsonl\.zst",
        "pydoc": r"pydoc-\d{5}\.parquet",
        "notes": r"\d{4}-[A-Za-z0-9._-]+\.(md|rst|txt)",
        "git": r"mixer\.git",
        "prs": r"mixer\.jsonl",
        "verified": r"(doctests|generated)\.jsonl",
    }
    formats = {"web": "jsonl.gz", "code": "jsonl.zst", "pydoc": "parquet", "notes": "text", "git": "git"}
    formats |= {"prs": "jsonl", "verified": "jsonl"}
    for name, part in summary.parts.items():
        assert part.name == name and part.format == formats[name]
        assert part.files == sorted((out / name).iterdir())
        assert all(re.fullmatch(patterns[name], path.name) for path in part.files), name
    for path in summary.parts["pydoc"].files:
        assert pq.read_schema(path).names == ["id", "text", "module"]
        assert pq.read_schema(path).types == [pa.string()] * 3
    assert all(list(r) == ["id", "text", "origin"] for r in read_part(summary.parts["web"]))
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Sample corpus\n\nGenerated by `mixer sample-corpus` from material")
    assert all(f"## `{name}/`" in readme for name in summary.parts)


TEXT_PARTS = ("web", "code", "pydoc", "notes")


@in_checkout
def test_summary_counts_what_is_on_disk(gathered) -> None:
    summary = gathered[0]
    for name in TEXT_PARTS:
        part = summary.parts[name]
        records = read_part(part)
        assert part.documents == len(records), part.name
        assert part.text_bytes == sum(len(r["text"].encode("utf-8")) for r in records), part.name
    for name in ("prs", "verified"):
        part = summary.parts[name]
        assert part.documents == len(read_part(part)), name
        assert part.text_bytes == sum(path.stat().st_size for path in part.files), name
    git_part = summary.parts["git"]
    assert (git_part.unit, git_part.text_bytes) == ("commits", 0)
    assert git_part.documents == int(git(git_part.files[0], "rev-list", "--count", "HEAD")) > 0
    assert summary.total_bytes == sum(p.text_bytes for p in summary.parts.values())
    assert summary.total_bytes >= 30_000_000
    assert summary.notes == ()


@in_checkout
def test_documents_are_nonempty_unique_and_small(gathered) -> None:
    for part in (gathered[0].parts[name] for name in TEXT_PARTS):
        texts = [r["text"] for r in read_part(part)]
        assert all(text.strip() for text in texts), part.name
        assert len(set(texts)) == len(texts), part.name
        assert max(len(text.encode("utf-8")) for text in texts) <= 200_000, part.name
        if part.format != "text":
            ids = [r["id"] for r in read_part(part)]
            assert len(set(ids)) == len(ids), part.name


@in_checkout
def test_code_records_are_stdlib_files(gathered) -> None:
    stdlib = machine.stdlib_root()
    records = read_part(gathered[0].parts["code"])
    assert sum(len(r["text"].encode("utf-8")) for r in records) >= 12_000_000
    for record in records:
        assert list(record) == ["id", "text", "path", "language"]
        assert record["language"] == "python"
        assert record["path"].endswith(".py") and "site-packages" not in record["path"]
        assert (stdlib / record["path"]).read_bytes().decode("utf-8") == record["text"]


@in_checkout
def test_prs_are_one_marked_record_per_first_parent_commit(gathered) -> None:
    summary = gathered[0]
    records = read_part(summary.parts["prs"])
    chain = git(summary.parts["git"].files[0], "rev-list", "--first-parent", "--reverse", "HEAD").split()
    assert [r["number"] for r in records] == list(range(1, len(chain) + 1))
    assert [r["metadata"]["commits"][-1] for r in records] == chain
    assert {r["metadata"]["synthetic"] for r in records} == {"derived from git history of mixer"}


@in_checkout
def test_verified_holds_doctests_then_the_generated_set(gathered) -> None:
    doctests, generated = (
        read_part(SamplePart("v", "jsonl", [f], 0, 0)) for f in gathered[0].parts["verified"].files
    )
    assert generated == generated_problems()
    assert set(GENERATED_DEFECTS) < {p["id"] for p in generated}
    ids = [p["id"] for p in doctests]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"doctest-[\w.]+\.\w+", i) for i in ids)
    assert "doctest-statistics.median" in ids
    assert all(list(p) == ["id", "prompt", "solution", "tests", "origin", "module"] for p in doctests)
    assert gathered[0].parts["verified"].documents == len(doctests) + len(generated)
