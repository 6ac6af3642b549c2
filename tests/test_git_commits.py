"""The git_commits kind on a small repository built here with git: every kind of change, both formats."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mixer.cli import main
from mixer.errors import PlanError
from mixer.mixing.corpus import SourceCorpus
from mixer.readers.base import Skip
from mixer.readers.git_commits import GitCommitsReader
from mixer.render.commits import MessageRules, clean_message
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info
from mixer.sources.git_commits import CommitMessageFilter, GitCommitsSource

ADA = ("Ada", "ada@example.com")
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


def git(repo: Path, *args: str, day: int = 1, author: tuple[str, str] = ADA) -> str:
    date = f"2024-01-{day:02d}T12:00:00+00:00"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


def write(repo: Path, name: str, data: str | bytes) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


HELLO_1 = "def hello():\n    return 'hi'\n"
HELLO_2 = "def hello():\n    return 'hello'\n"
HELLO_3 = "def hello(name):\n    return f'hello {name}'\n"
POEM_1 = "one\ntwo\nthree\nfour\nfive\n"
POEM_2 = "one\ntwo\nthree\nfour\nfive\nsix\n"
UTIL_1 = "def add(a, b):\n    pass\n"
UTIL_2 = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Nine commits: adds, a modify, renames (pure and edited) and a delete, binary and Latin-1 files,
    a trivial message, a bot's commit, and a feature branch merged with a GitHub merge message."""
    r = tmp_path_factory.mktemp("repos") / "demo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    sha = {}

    def commit(key: str, message: str, day: int, author=ADA) -> None:
        git(r, "add", "-A")
        git(r, "commit", "-q", "-m", message, day=day, author=author)
        sha[key] = git(r, "rev-parse", "HEAD")

    write(r, "hello.py", HELLO_1)
    write(r, "poem.txt", POEM_1)
    write(r, "same.txt", "unchanged content\n")
    write(r, "gone.txt", "bye\n")
    commit("add", "Add hello, a poem and two notes", 1)
    write(r, "hello.py", HELLO_2)
    commit(
        "modify", "Make hello say hello\n\nA longer explanation.\n\nSigned-off-by: Ada <ada@example.com>", 2
    )
    (r / "poem.txt").unlink()
    write(r, "verse.txt", POEM_2)
    (r / "same.txt").unlink()
    write(r, "moved/same.txt", "unchanged content\n")
    (r / "gone.txt").unlink()
    commit("rename", "Rename the poem, move a note, drop another", 3)
    write(r, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(r, "latin1.txt", b"caf\xe9\n")
    write(r, "util.py", UTIL_1)
    commit("binary", "Add a logo, Latin-1 notes and util", 4)
    write(r, "verse.txt", POEM_2 + "seven\n")
    commit("trivial", "update", 5)
    write(r, "requirements.txt", "requests==2.1\n")
    commit("bot", "Bump requests from 2.0 to 2.1", 6, author=BOT)
    git(r, "checkout", "-q", "-b", "feature")
    write(r, "util.py", UTIL_2)
    commit("feature", "Teach util to add", 7)
    git(r, "checkout", "-q", "main")
    write(r, "hello.py", HELLO_3)
    commit("main", "Greet by name", 8)
    git(
        r,
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "Merge pull request #1 from ada/feature\n\nUtil adds",
        day=9,
    )
    sha["merge"] = git(r, "rev-parse", "HEAD")
    return r, sha


def read(repo: Path | str, **settings) -> tuple[list[tuple[str, dict]], list[tuple[str, int, str]]]:
    """The documents (text, metadata) and skips (reason, commit ordinal, detail) of one repository."""
    source = GitCommitsSource(paths=[str(repo)], **settings)
    files = source.resolve("c").files
    reader = GitCommitsReader("c", files, config=source)
    docs, skips = [], []
    for line, record in reader.records(files[0].path):
        if not isinstance(record, Skip):
            record = reader.document(record, files[0].path, 0, line)
        if isinstance(record, Skip):
            skips.append((record.reason, record.line, record.detail))
        else:
            meta = {k: v for k, v in record.metadata.items() if k not in ("source", "file_index", "origin")}
            docs.append((record.text, meta))
    return docs, skips


def cp(before: str, message: str, after: str) -> str:
    return f"<commit_before>{before}<commit_msg>{message}<commit_after>{after}"


def test_commitpack_documents_and_skips(repo):
    r, sha = repo
    docs, skips = read(r)
    assert [d[0] for d in docs] == [
        cp("", "Add hello, a poem and two notes", "bye\n"),
        cp("", "Add hello, a poem and two notes", HELLO_1),
        cp("", "Add hello, a poem and two notes", POEM_1),
        cp("", "Add hello, a poem and two notes", "unchanged content\n"),
        cp(HELLO_1, "Make hello say hello\n\nA longer explanation.", HELLO_2),
        cp("bye\n", "Rename the poem, move a note, drop another", ""),
        cp(POEM_1, "Rename the poem, move a note, drop another", POEM_2),
        cp("", "Add a logo, Latin-1 notes and util", UTIL_1),
        cp(HELLO_2, "Greet by name", HELLO_3),
        cp(UTIL_1, "Teach util to add", UTIL_2),
    ]
    meta = [(m["commit"], m["path"], m["old_path"], m["change"]) for _, m in docs]
    assert meta[4:8] == [
        (sha["modify"], "hello.py", "hello.py", "modified"),
        (sha["rename"], "gone.txt", "gone.txt", "deleted"),
        (sha["rename"], "verse.txt", "poem.txt", "renamed"),
        (sha["binary"], "util.py", None, "added"),
    ]
    assert docs[0][1] == {
        "repo": str(r),
        "commit": sha["add"],
        "author_date": "2024-01-01T12:00:00+00:00",
        "path": "gone.txt",
        "old_path": None,
        "change": "added",
    }
    assert skips == [
        ("no_content_change", 3, f"{sha['rename'][:12]} moved/same.txt"),
        ("invalid_utf8", 4, f"{sha['binary'][:12]} latin1.txt"),
        ("binary_file", 4, f"{sha['binary'][:12]} logo.png"),
        ("trivial_message", 5, sha["trivial"][:12]),
        ("bot_author", 6, sha["bot"][:12]),
        ("merge_commit", 9, sha["merge"][:12]),
    ]
    assert not any("ada@example.com" in text for text, _ in docs)


def test_diff_documents(repo):
    r, sha = repo
    docs, skips = read(r, format="diff")
    texts = [t for t, _ in docs]
    assert texts[1] == (
        "Make hello say hello\n\nA longer explanation.\n\n"
        "diff --git a/hello.py b/hello.py\n--- a/hello.py\n+++ b/hello.py\n"
        "@@ -1,2 +1,2 @@\n def hello():\n-    return 'hi'\n+    return 'hello'\n"
    )
    assert texts[2] == (
        "Rename the poem, move a note, drop another\n\n"
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-bye\n"
        "diff --git a/same.txt b/moved/same.txt\nsimilarity index 100%\nrename from same.txt\n"
        "rename to moved/same.txt\n"
        "diff --git a/poem.txt b/verse.txt\nsimilarity index 85%\nrename from poem.txt\nrename to verse.txt\n"
        "--- a/poem.txt\n+++ b/verse.txt\n@@ -3,3 +3,4 @@ two\n three\n four\n five\n+six\n"
    )
    assert texts[3] == (
        "Add a logo, Latin-1 notes and util\n\n"
        "diff --git a/util.py b/util.py\nnew file mode 100644\n--- /dev/null\n+++ b/util.py\n"
        "@@ -0,0 +1,2 @@\n+def add(a, b):\n+    pass\n"
    )
    assert [m["commit"] for _, m in docs] == [
        sha[k] for k in ("add", "modify", "rename", "binary", "main", "feature")
    ]
    assert docs[3][1]["omitted"] == {"latin1.txt": "invalid_utf8", "logo.png": "binary_file"}
    assert docs[2][1]["paths"] == ["gone.txt", "moved/same.txt", "verse.txt"]
    assert docs[2][1]["changes"] == ["deleted", "renamed", "renamed"]
    assert [s[0] for s in skips] == ["trivial_message", "bot_author", "merge_commit"]


def test_first_parent_renders_merges_once(repo):
    r, sha = repo
    docs, skips = read(r, format="diff", merges="first_parent", order="newest_first")
    assert [m["commit"] for _, m in docs] == [
        sha[k] for k in ("merge", "main", "binary", "rename", "modify", "add")
    ]
    assert docs[0][0] == (
        "Util adds\n\n"
        "diff --git a/util.py b/util.py\n--- a/util.py\n+++ b/util.py\n"
        "@@ -1,2 +1,2 @@\n def add(a, b):\n-    pass\n+    return a + b\n"
    )
    assert [s[0] for s in skips] == ["bot_author", "trivial_message"]


def test_decode_policy_and_caps(repo):
    r, sha = repo
    docs, _ = read(r, non_utf8="replace")
    assert cp("", "Add a logo, Latin-1 notes and util", "caf\ufffd\n") in [t for t, _ in docs]
    _, skips = read(r, max_files_per_commit=3, max_file_bytes=20)
    counts = {}
    for reason, *_ in skips:
        counts[reason] = counts.get(reason, 0) + 1
    assert counts["too_many_files"] == 1  # the first commit's four files
    assert ("file_too_large", 2, f"{sha['modify'][:12]} hello.py: 29 bytes") in skips
    _, skips = read(r, format="diff", max_diff_bytes=100)
    assert ("diff_too_large", 1, f"{sha['add'][:12]}: 568 bytes") in skips


def test_long_files_are_cut_to_a_window_around_the_change(tmp_path):
    r = tmp_path / "long"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    lines = [f"line {i}\n" for i in range(1, 21)]
    write(r, "f.txt", "".join(lines))
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Twenty lines")
    lines[9], lines[11] = "LINE 10\n", "LINE 12\n"
    write(r, "f.txt", "".join(lines))
    git(r, "commit", "-q", "-am", "Shout twice", day=2)
    docs, _ = read(r, full_file_lines=10, window_lines=2)
    assert docs[1][0] == cp(
        "line 8\nline 9\nline 10\nline 11\nline 12\nline 13\nline 14\n",
        "Shout twice",
        "line 8\nline 9\nLINE 10\nline 11\nLINE 12\nline 13\nline 14\n",
    )


def test_empty_repository_and_missing_ref(repo, tmp_path):
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    assert read(empty) == ([], [("empty_repository", 0, "no commits")])
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo[0]), str(bare))
    docs, _ = read(bare, ref="feature")
    assert [m["commit"] for _, m in docs][-1] == repo[1]["feature"]
    assert read(bare, ref="nope") == ([], [("ref_not_found", 0, "no commit named 'nope'")])


def test_a_path_that_is_not_a_repository_fails_at_plan_time(repo, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(PlanError, match=f"{tmp_path}/plain .* is not a git repository"):
        GitCommitsSource(paths=[str(tmp_path / "plain")]).resolve("c")
    with pytest.raises(PlanError, match="is inside the git repository .*demo \\(at moved/\\), not its top"):
        GitCommitsSource(paths=[str(repo[0] / "moved")]).resolve("c")
    source = GitCommitsSource(paths=[str(repo[0]), str(tmp_path / "none*")])
    resolved = source.resolve("c")
    assert [f.path for f in resolved.files] == [str(repo[0])]
    assert resolved.warnings == [f"sources.c.paths[1]: '{tmp_path}/none*' matched nothing"]


def test_message_rules():
    m = CommitMessageFilter()
    rules = MessageRules.build(m.min_chars, m.max_chars, m.drop_patterns, m.bot_authors)
    verdicts = {
        msg: rules.verdict(msg, "Ada", "ada@example.com")
        for msg in [
            "update",
            "Update README.md",
            "WIP",
            "Initial commit",
            "Merge branch 'main' of github.com:a/b",
            "fix.",
            "Fix typo",
            "Add a parser for commit trailers",
            "update\n\nExplain why the update was needed.",
        ]
    }
    assert verdicts == {
        "update": "trivial_message",
        "Update README.md": "trivial_message",
        "WIP": "trivial_message",
        "Initial commit": "trivial_message",
        "Merge branch 'main' of github.com:a/b": "trivial_message",
        "fix.": "trivial_message",
        "Fix typo": None,
        "Add a parser for commit trailers": None,
        "update\n\nExplain why the update was needed.": None,
    }
    assert rules.verdict("Bump x from 1 to 2", "renovate[bot]", "bot@renovateapp.com") == "bot_author"
    assert rules.verdict("Tiny", "Ada", "") == "message_too_short"
    assert clean_message("Fix it\n\nCo-authored-by: Bob <bob@example.com>\nReviewed-by: Eve\n") == "Fix it"


def test_build_end_to_end(repo, tmp_path):
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""\
name: commits
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 50000}}}}
sources:
  commits: {{type: git_commits, paths: ["{repo[0]}", "{empty}"]}}
  diffs: {{type: git_commits, paths: ["{repo[0]}"], format: diff, merges: first_parent}}
""")
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--tasks", "2"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(tmp_path / "out")
    commits, diffs = manifest["sources"]["commits"], manifest["sources"]["diffs"]
    assert commits["files"] == 2 and commits["documents"] == 10 and diffs["documents"] == 6
    assert commits["skipped"] == {
        "binary_file": 1,
        "bot_author": 1,
        "empty_repository": 1,
        "invalid_utf8": 1,
        "merge_commit": 1,
        "no_content_change": 1,
        "trivial_message": 1,
    }
    assert commits["records"] == 16  # 10 documents + 6 skipped records; the empty repository is no record
    assert commits["skip_examples"]["empty_repository"] == [f"{empty}:0 (no commits)"]
    out = tmp_path / "out"
    tok = manifest["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    corpus = SourceCorpus(out, "diffs")
    decoded = [encoder.decode([int(t) for t in corpus.document(i)]) for i in range(len(corpus))]
    expected = [t for t, _ in read(repo[0], format="diff", merges="first_parent")[0]]
    assert decoded == [t + "<|endoftext|>" for t in expected]
    bad = tmp_path / "bad.yaml"
    bad.write_text(recipe.read_text().replace(str(empty), str(tmp_path)))
    result = CliRunner().invoke(main, ["build", str(bad), "-o", str(tmp_path / "out2")])
    assert result.exit_code == 2 and f"{tmp_path} (from sources.commits.paths[1]" in result.output


def test_a_blob_reader_closed_with_answers_unread_lets_git_exit_by_itself(tmp_path):
    """A reader that stops early (the tokenizer's sample) left git blocked writing answers nobody read;
    closing waited 10 s for it, then killed it. Closing its output first ends it at once."""
    import signal

    from mixer.readers.gitcli import BlobReader

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    for i in range(8):
        write(repo, f"f{i}.txt", f"{i}" * 200_000)  # far more than a pipe holds, answered all at once
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Add files")
    blobs = git(repo, "ls-tree", "-r", "--format=%(objectname)", "HEAD").split()
    reader = BlobReader(str(repo))
    reader.request(blobs)
    data, size = reader.response(max_bytes=1_000_000)  # one answer read: the window's others pile up
    assert size == 200_000 and data == b"0" * 200_000
    reader.close()
    assert reader.proc.returncode is not None
    assert reader.proc.returncode != -signal.SIGKILL  # it exited on its own (EPIPE), it was not killed
