"""The github_prs kind: exact Stack-v2-style rendering, pseudonyms, bot removal, filters, and a build."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner
from conftest import write_jsonl
from test_git_commits import git, write

from mixer.cli import main
from mixer.mixing.corpus import SourceCorpus
from mixer.readers.base import Skip
from mixer.readers.github_prs import GithubPRsReader
from mixer.render.pull_requests import Drop, PRRenderer
from mixer.samples.prs_from_git import prs_from_git
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info
from mixer.sources.github_prs import GithubPRsSource

FETCH_BASE = "import time\n\n\ndef fetch(url):\n    return get(url)\n"
FETCH_PATCH = (
    "@@ -4,2 +4,6 @@ import time\n def fetch(url):\n-    return get(url)\n+    for attempt in range(3):\n"
    "+        try:\n+            return get(url)\n+        except OSError:\n+            time.sleep(1)\n"
)
RECORD = {
    "repo": "octo/widgets",
    "number": 42,
    "title": "Retry flaky fetches",
    "body": "Fetch fails on flaky networks; retry it.\r\n\r\ncc @Bob\r\n",
    "state": "closed",
    "merged": True,
    "user": {"login": "alice"},
    "base": {"ref": "main", "sha": "0a1b2c"},
    "head": {"ref": "retry"},
    "files": [
        {"filename": "fetch.py", "status": "modified", "patch": FETCH_PATCH, "base_content": FETCH_BASE},
        {
            "filename": "docs/usage.md",
            "previous_filename": "USAGE.md",
            "status": "renamed",
            "patch": "@@ -1 +1 @@\n-Call fetch.\n+Call fetch; it retries.\n",
            "base_content": "Call fetch.\n",
        },
        {"filename": "logo.png", "status": "added"},  # binary: GitHub sends no patch
    ],
    "comments": [
        {
            "kind": "comment",
            "user": "bob",
            "body": "Useful. @alice, a test?",
            "created_at": "2024-03-01T10:00:00Z",
        },
        {
            "kind": "comment",
            "user": "codecov[bot]",
            "body": "Coverage: 91%",
            "created_at": "2024-03-01T10:05:00Z",
        },
        # out of time order in the record: rendered after the review comment below
        {
            "kind": "review",
            "user": "carol",
            "body": "LGTM",
            "state": "APPROVED",
            "created_at": "2024-03-01T12:00:00Z",
        },
        {
            "kind": "review",
            "user": "bob",
            "body": "",
            "state": "COMMENTED",
            "created_at": "2024-03-01T11:00:00Z",
        },
        {
            "kind": "review_comment",
            "user": "bob",
            "body": "Should the delay grow?",
            "created_at": "2024-03-01T11:00:00Z",
            "path": "fetch.py",
            "line": 8,
            "diff_hunk": "@@ -4,2 +4,6 @@ import time\n+        except OSError:\n+            time.sleep(1)",
        },
        {
            "kind": "comment",
            "user": "alice",
            "body": "Added a test, @bob.",
            "created_at": "2024-03-01T11:30:00Z",
        },
    ],
}
EXPECTED = """\
<pr>Title: Retry flaky fetches
user_1: Fetch fails on flaky networks; retry it.

cc @user_2
<pr_status>opened
<pr_base>
<pr_file>fetch.py
<pr_base_code>import time


def fetch(url):
    return get(url)
<pr_file>USAGE.md
<pr_base_code>Call fetch.
<pr_diff>
<pr_file>fetch.py
<pr_diff_hunk>@@ -4,2 +4,6 @@ import time
 def fetch(url):
-    return get(url)
+    for attempt in range(3):
+        try:
+            return get(url)
+        except OSError:
+            time.sleep(1)
<pr_file>docs/usage.md
<pr_diff_hunk>@@ -1 +1 @@
-Call fetch.
+Call fetch; it retries.
<pr_comment>user_2: Useful. @user_1, a test?
<pr_review_comment>
<pr_file>fetch.py
<pr_diff_hunk_comment_line>8
<pr_diff_hunk>@@ -4,2 +4,6 @@ import time
+        except OSError:
+            time.sleep(1)
<pr_comment>user_2: Should the delay grow?
<pr_comment>user_1: Added a test, @user_2.
<pr_review>user_3: LGTM
<pr_review_state>approved
<pr_status>closed
<pr_is_merged>True"""


def renderer(**settings) -> PRRenderer:
    return PRRenderer(GithubPRsSource(paths=["prs.jsonl"], **settings))


def variant(**changes) -> dict:
    record = copy.deepcopy(RECORD)
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def test_render_exact():
    out = renderer().render(RECORD)
    assert out.text == EXPECTED
    assert out.metadata == {
        "repo": "octo/widgets",
        "number": 42,
        "state": "closed",
        "merged": True,
        "approved": True,
        "files": 3,
        "comments": 5,
        "bot_comments_removed": 1,
        "base_code_dropped": False,
    }


def test_pseudonyms_are_stable_and_hide_logins():
    renamed = json.loads(
        json.dumps(RECORD).replace("alice", "zed").replace("@Bob", "@yan").replace("bob", "yan")
    )
    assert renderer().render(renamed).text == EXPECTED == renderer().render(RECORD).text
    for login in ("alice", "bob", "Bob", "carol", "codecov"):
        assert login not in EXPECTED


def test_mentions_of_others_get_new_numbers_and_code_is_left_alone():
    body = "Use `@cache` here, ask @dave (not @pytest.fixture); mail a@b.org\n```py\n@property\n@bob\n```"
    record = variant(comments=[{**RECORD["comments"][0], "body": body}])
    text = renderer(keep="all").render(record).text
    assert (
        "<pr_comment>user_2: Use `@cache` here, ask @user_3 (not @pytest.fixture); mail a@b.org\n"
        "```py\n@property\n@user_2\n```\n"
    ) in text


def test_bots_are_removed_and_bot_pull_requests_dropped():
    text = renderer().render(RECORD).text
    assert "Coverage" not in text
    kept = renderer(bot_logins=[]).render(variant(comments=RECORD["comments"][:2]))
    assert kept.metadata["bot_comments_removed"] == 1  # '[bot]' logins are bots whatever the list says
    bot = renderer().render(variant(user="dependabot"))
    assert bot == Drop("bot_author", "octo/widgets#42")


def test_long_base_files_are_cut_to_a_window():
    base = "".join(f"line {i}\n" for i in range(1, 41))
    files = [
        {
            "filename": "a.txt",
            "status": "modified",
            "base_content": base,
            "patch": "@@ -20,1 +20,1 @@\n-line 20\n+LINE 20\n",
        }
    ]
    text = renderer(base_full_file_lines=30, base_window_lines=2).render(variant(files=files)).text
    assert "<pr_base_code>line 18\nline 19\nline 20\nline 21\nline 22\n<pr_diff>" in text


def test_large_pull_requests_lose_base_code_then_are_dropped():
    size = len(EXPECTED.encode())
    slim = renderer(max_bytes=size - 1).render(RECORD)
    assert "<pr_base>" not in slim.text and slim.metadata["base_code_dropped"] is True
    assert renderer(max_bytes=100).render(RECORD) == Drop(
        "pr_too_large", f"octo/widgets#42: {len(slim.text)} bytes"
    )


def test_filters_and_bad_records_are_counted(tmp_path):
    approved_only = RECORD["comments"][2:3]
    records = [
        RECORD,
        variant(merged=False, comments=approved_only),  # approved: kept
        variant(merged=False, state="open", comments=[]),  # neither merged nor approved
        variant(title="Fix"),
        variant(body="x" * 20_001),
        variant(
            files=[
                {"filename": f"f{i}", "status": "added", "patch": "@@ -0,0 +1 @@\n+x\n"} for i in range(51)
            ]
        ),
        variant(files=[{"filename": "logo.png", "status": "added"}]),
        variant(title=None),
        variant(merged="yes"),
        variant(files=[{"status": "added"}]),
        variant(comments=[{"kind": "comment", "user": "bob", "body": "hi"}]),
        variant(state="merged"),
        [1, 2],
    ]
    path = write_jsonl(tmp_path / "prs.jsonl", records)
    with open(path, "ab") as f:
        f.write(b"{not json\n")
    source = GithubPRsSource(paths=[str(path)])
    files = source.resolve("prs").files
    reader = GithubPRsReader("prs", files, config=source)
    kept, skips = [], []
    for line, record in reader.records(str(path)):
        if not isinstance(record, Skip):
            record = reader.document(record, str(path), 0, line)
        (skips if isinstance(record, Skip) else kept).append(record)
    assert [d.id for d in kept] == ["octo/widgets#42", "octo/widgets#42"]
    assert kept[0].text == EXPECTED and kept[0].metadata["origin"] == f"{path}:1"
    assert [(s.reason, s.line, s.detail) for s in skips] == [
        ("not_merged_or_approved", 3, "octo/widgets#42"),
        ("title_too_short", 4, "octo/widgets#42: 3 characters"),
        ("body_too_long", 5, "octo/widgets#42: 20001 characters"),
        ("too_many_files", 6, "octo/widgets#42: 51 files"),
        ("no_diff", 7, "octo/widgets#42"),
        ("missing_field", 8, "title"),
        ("invalid_field", 9, "merged: expected bool, got str"),
        ("missing_field", 10, "files[0].filename"),
        ("missing_field", 11, "comments[0].created_at"),
        ("invalid_field", 12, "state: expected 'open' or 'closed', got 'merged'"),
        ("not_an_object", 13, "list"),
        ("malformed_json", 14, "unexpected character, expected a string key"),
    ]
    merged_only = renderer(keep="merged").render(records[1])
    assert merged_only == Drop("not_merged", "octo/widgets#42")
    # an open pull request without a review: the discussion and the closing block are absent, and @Bob,
    # no longer a participant, still gets a pseudonym (the next number)
    open_pr = renderer(keep="all").render(records[2]).text
    assert open_pr == EXPECTED.split("\n<pr_comment>")[0]


def small_history(root: Path) -> Path:
    r = root / "tool"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    write(r, "tool.py", "def run():\n    pass\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Start the tool")
    git(r, "checkout", "-q", "-b", "speed")
    write(r, "tool.py", "def run():\n    return 1\n")
    git(r, "commit", "-q", "-am", "Return early", day=2)
    git(r, "checkout", "-q", "main")
    git(
        r,
        "merge",
        "-q",
        "--no-ff",
        "speed",
        "-m",
        "Merge pull request #7 from ada/speed\n\nMake run fast",
        day=3,
    )
    write(r, "NOTES", "notes\n")
    git(r, "add", "-A")
    git(r, "commit", "-q", "-m", "Add notes\n\nWhy: to remember.", day=4)
    return r


def test_prs_derived_from_git_history(tmp_path):
    r = small_history(tmp_path)
    shas = git(r, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    side = git(r, "rev-parse", "speed")
    records = list(prs_from_git(r))
    assert [(p["number"], p["title"], p["body"]) for p in records] == [
        (1, "Start the tool", ""),
        (2, "Make run fast", "- Return early"),
        (3, "Add notes", "Why: to remember."),
    ]
    assert records[1]["files"] == [
        {
            "filename": "tool.py",
            "status": "modified",
            "patch": "@@ -1,2 +1,2 @@\n def run():\n-    pass\n+    return 1\n",
            "base_content": "def run():\n    pass\n",
        }
    ]
    assert records[1]["metadata"] == {
        "synthetic": "derived from git history of tool",
        "commits": [side, shas[1]],
    }
    assert records[0]["files"][0]["status"] == "added" and "base_content" not in records[0]["files"][0]
    assert all(p["merged"] and p["state"] == "closed" and p["comments"] == [] for p in records)
    assert "ada@example.com" not in json.dumps(records)
    rendered = renderer(min_title_chars=1).render(records[1])
    assert rendered.text == (
        "<pr>Title: Make run fast\nuser_1: - Return early\n<pr_status>opened\n<pr_base>\n<pr_file>tool.py\n"
        "<pr_base_code>def run():\n    pass\n<pr_diff>\n<pr_file>tool.py\n"
        "<pr_diff_hunk>@@ -1,2 +1,2 @@\n def run():\n-    pass\n+    return 1\n"
        "<pr_status>closed\n<pr_is_merged>True"
    )
    assert rendered.metadata["synthetic"] == "derived from git history of tool"
    grouped = list(prs_from_git(r, commits_per_pr=5, name="t"))
    assert [p["title"] for p in grouped] == ["Start the tool", "Make run fast", "Add notes"]


def test_prs_derived_from_this_projects_history():
    root = Path(__file__).resolve().parent.parent
    assert (root / ".git").exists(), "the tests run from a git checkout of this project"
    records = list(prs_from_git(root, name="mixer"))
    assert records and all(p["metadata"]["synthetic"] == "derived from git history of mixer" for p in records)
    lenient = renderer(
        min_title_chars=1, max_title_chars=10**6, max_body_chars=10**6, max_files=10**6, max_bytes=10**9
    )
    assert all(not isinstance(lenient.render(p), Drop) for p in records)


def test_build_end_to_end(tmp_path):
    records = [RECORD, variant(merged=False, state="open", comments=[]), variant(title=None)]
    write_jsonl(tmp_path / "prs" / "a.jsonl", records)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"""\
name: prs
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 50000}}}}
sources:
  prs: {{type: github_prs, paths: ["{tmp_path}/prs"]}}
""")
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    s = read_manifest(out)["sources"]["prs"]
    assert (s["documents"], s["records"]) == (1, 3)
    assert s["skipped"] == {"missing_field": 1, "not_merged_or_approved": 1}
    assert s["skip_examples"]["missing_field"] == [f"{tmp_path}/prs/a.jsonl:3 (title)"]
    tok = read_manifest(out)["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    [doc] = [SourceCorpus(out, "prs").document(i) for i in range(len(SourceCorpus(out, "prs")))]
    assert encoder.decode([int(t) for t in doc]) == EXPECTED + "<|endoftext|>"
