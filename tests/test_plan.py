"""What the plan checks and says before any work: output folders, phase sizes, unused sources, weights,
the first record of each source (``--dry-run``), input sizes and task counts; and a weighted source that
ends without documents, end to end."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import datasets
import pytest
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.build.plan import describe_plan, plan_build
from mixer.cli import main
from mixer.errors import PlanError
from mixer.recipe import parse_recipe
from mixer.shards.manifest import read_manifest

TOKENIZER = "tokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\n"


def invoke(*args: str):
    return CliRunner().invoke(main, [*args])


def write_recipe(tmp_path: Path, body: str) -> Path:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: plan\n" + TOKENIZER + body)
    return recipe


def articles(path: Path, n: int = 79) -> Path:
    """Records whose text is under `article`, while text_key defaults to `text`."""
    return write_jsonl(path, [{"id": i, "article": f"article number {i} about rivers"} for i in range(n)])


def test_dry_run_reads_one_record_and_names_a_missing_text_key(tmp_path):
    data = articles(tmp_path / "data" / "a.jsonl")
    write_jsonl(tmp_path / "data" / "b.jsonl", [{"text": "fine"}])
    recipe = write_recipe(
        tmp_path,
        f'sources:\n  a: {{type: jsonl, paths: ["{data}"]}}\n  b: {{type: jsonl, paths: ["{tmp_path}/data/b.jsonl"]}}\n',
    )
    result = invoke("build", str(recipe), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 2
    assert "plan:\n  a (jsonl): 1 file, " in result.output  # the plan is printed first
    assert result.output.splitlines()[-1] == (
        f"Error: sources.a: the first record, {data}:1, has no text: missing_text_field (keys: id, article); "
        "set sources.a.text_key to the field that holds the text"
    )
    assert not (tmp_path / "out").exists()
    fixed = recipe.read_text().replace(f'paths: ["{data}"]}}', f'paths: ["{data}"], text_key: article}}')
    recipe.write_text(fixed)
    assert invoke("build", str(recipe), "-o", str(tmp_path / "out"), "--dry-run").exit_code == 0


def test_dry_run_catches_a_missing_text_column_of_an_hf_dataset(tmp_path):
    datasets.Dataset.from_dict({"article": ["a text", "another"], "n": [1, 2]}).save_to_disk(
        str(tmp_path / "ds")
    )
    recipe = write_recipe(tmp_path, f"sources:\n  wiki: {{type: hf, dataset: {tmp_path / 'ds'}}}\n")
    result = invoke("build", str(recipe), "-o", str(tmp_path / "out"), "--dry-run")
    [arrow] = sorted((tmp_path / "ds").glob("*.arrow"))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"Error: sources.wiki: the first record, {arrow}:0, has no text: missing_text_field (keys: article, n); "
        "set sources.wiki.text_key to the field that holds the text"
    )


def test_a_weighted_source_without_text_fails_with_the_reason_on_every_run(tmp_path):
    # it used to end in "OverflowError: cannot convert float infinity to integer", again on each rerun
    data = articles(tmp_path / "data" / "a.jsonl")
    write_jsonl(tmp_path / "data" / "b.jsonl", [{"text": f"document {i} about stones"} for i in range(30)])
    recipe = write_recipe(
        tmp_path,
        f'sources:\n  a: {{type: jsonl, paths: ["{data}"]}}\n  b: {{type: jsonl, paths: ["{tmp_path}/data/b.jsonl"]}}\n'
        "phases:\n  p: {tokens: 200, seq_len: 16, weights: {a: 1, b: 1}}\n",
    )
    out = tmp_path / "out"
    expected = (
        "Error: phase 'p': source 'a' has no training tokens: its 79 records gave 0 documents (skipped: "
        f"missing_text_field 79, e.g. {data}:1 (keys: id, article)). Set sources.a.text_key to the field that "
        f"holds the text, or remove 'a' from phases.p.weights (details: {out}/sources/a/assembled.json)"
    )
    for _ in range(2):
        result = invoke("build", str(recipe), "-o", str(out))
        assert (
            result.exit_code == 2
            and result.exception is not None
            and result.output.splitlines()[-1] == expected
        )
        assert isinstance(result.exception, SystemExit)


def test_an_output_under_a_file_is_refused_before_any_work(tmp_path):
    recipe = write_recipe(
        tmp_path, f'sources:\n  a: {{type: jsonl, paths: ["{articles(tmp_path / "a.jsonl")}"]}}\n'
    )
    (tmp_path / "FILE").write_text("not a folder")
    for args in ([], ["--dry-run"]):
        result = invoke("build", str(recipe), "-o", str(tmp_path / "FILE" / "out"), *args)
        assert result.exit_code == 2, result.output
        assert result.output == (
            f"Error: --output {tmp_path}/FILE/out lies under {tmp_path}/FILE, which is a file, not a folder; "
            "choose another --output\n"
        )


@pytest.mark.parametrize(
    ("read_only", "why"), [(False, "no permission to write there"), (True, "a read-only file system")]
)
def test_an_output_in_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch, read_only, why):
    # (the tests run as root, who may write anywhere: the OS's answers are simulated)
    recipe = write_recipe(
        tmp_path, f'sources:\n  a: {{type: jsonl, paths: ["{articles(tmp_path / "a.jsonl")}"]}}\n'
    )
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access, real_statvfs = os.access, os.statvfs

    def access(path, mode, *args, **kwargs):
        return False if Path(path) == locked and mode & os.W_OK else real_access(path, mode, *args, **kwargs)

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(
        os, "statvfs", lambda p: ReadOnly() if read_only and Path(p) == locked else real_statvfs(p)
    )
    result = invoke("build", str(recipe), "-o", str(locked / "new" / "out"))
    assert result.exit_code == 2
    assert result.output == (
        f"Error: --output {locked}/new/out: cannot write in {locked} (to create the output folder in): {why}; "
        "choose another --output\n"
    )
    result = invoke("build", str(recipe), "-o", str(locked))
    assert (
        result.output
        == f"Error: --output {locked}: cannot write in the output folder: {why}; choose another --output\n"
    )


def test_creating_the_output_folder_on_a_read_only_file_system_is_a_clear_error(tmp_path, monkeypatch):
    # the plan's check passed (the file system turned read-only after it): mkdir's OSError, errno 30
    recipe = write_recipe(
        tmp_path, f'sources:\n  a: {{type: jsonl, paths: ["{articles(tmp_path / "a.jsonl")}"]}}\n'
    )
    out = tmp_path / "out"
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self == out:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    result = invoke("build", str(recipe), "-o", str(out))
    assert result.exit_code == 2
    assert result.output == (
        f"Error: --output {out}: cannot create the folder (Read-only file system: {out}); choose another --output\n"
    )


def test_a_phase_whose_samples_alone_exceed_the_bound_is_refused_at_plan_time(tmp_path):
    data = {
        "name": "big",
        "tokenizer": {"train": {"vocab_size": 300}},
        "sources": {"a": {"type": "jsonl", "paths": [str(articles(tmp_path / "a.jsonl"))]}},
        "phases": {"p": {"tokens": "1.0e12", "seq_len": 2048, "weights": {"a": 1}, "max_repetition": 1e12}},
    }
    with pytest.raises(PlanError) as e:
        plan_build(parse_recipe(data), "big.yaml", tmp_path / "out")
    assert str(e.value) == (
        "phases.p: 488,281,250 samples of 2049 tokens need at least 12.2 GB of blend index, more than "
        "phases.p.max_index_bytes (4.0 GB). Lower phases.p.tokens, or raise phases.p.max_index_bytes "
        "(null: no bound) if the phase is meant to be this large"
    )
    data["phases"]["p"]["max_index_bytes"] = None  # asked for: no bound
    plan = plan_build(parse_recipe(data), "big.yaml", tmp_path / "out")
    assert (
        "  phase p: 488,281,250 samples of 2049 tokens; blend index at least 12.2 GB, plus 4 bytes per "
        "document per epoch of each source (bound: none)"
    ) in describe_plan(plan).splitlines()


def test_the_build_says_what_it_reads_and_runs(tmp_path):
    texts = ["café au lait", "naïve résumé", "plain words here", "more plain words"]
    a = write_jsonl(tmp_path / "a" / "1.jsonl", [{"text": t} for t in texts[:2]])
    write_jsonl(tmp_path / "b" / "1.jsonl", [{"text": texts[2]}])
    write_jsonl(tmp_path / "b" / "2.jsonl", [{"text": texts[3]}])
    write_jsonl(tmp_path / "c" / "1.jsonl", [{"text": "unused"}])
    recipe = write_recipe(
        tmp_path,
        f'sources:\n  a: {{type: jsonl, paths: ["{tmp_path}/a"]}}\n  b: {{type: jsonl, paths: ["{tmp_path}/b"]}}\n'
        f'  c: {{type: jsonl, paths: ["{tmp_path}/c"]}}\n'
        "holdout: {fraction: 0}\n"
        "phases:\n  p: {tokens: 16, seq_len: 4, weights: {a: 3, b: 1}, max_repetition: 10}\n",
    )
    result = invoke("build", str(recipe), "-o", str(tmp_path / "out"), "--tasks", "4", "--workers", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    sampled = sum(len(t.encode()) for t in texts) + len(b"unused")
    assert lines[:3] == [
        "warning: sources.c: no phase uses it (no phases.*.weights names it); it is built but never blended: "
        "give it a weight or remove it from the recipe",
        "note: phases.p.weights sum to 4, not 1: normalised to token shares a 75.00%, b 25.00%",
        f"tokenizer: training a 300-id byte-level BPE on {sampled} bytes of text from 5 documents "
        "(tokenizer.train.sample_bytes: 20,000)",
    ]
    assert lines[3].endswith("executor local (up to 4 tasks per source, 2 workers)")
    assert f"a: tokenizing 1 file, {a.stat().st_size} B, in 1 task" in lines
    b_bytes = sum(f.stat().st_size for f in (tmp_path / "b").iterdir())
    assert f"b: tokenizing 2 files, {b_bytes} B, in 2 tasks" in lines
    recipe.write_text(recipe.read_text().replace("weights: {a: 3, b: 1}", "weights: {a: 1, b: 1, c: 2}"))
    result = invoke("mix", str(recipe), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "note: phases.p.weights sum to 4, not 1: normalised to token shares a 25.00%, b 25.00%, c 50.00%"
    )


def git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env.update(GIT_AUTHOR_NAME="Ada", GIT_AUTHOR_EMAIL="ada@example.com", GIT_COMMITTER_NAME="Ada")
    env.update(GIT_COMMITTER_EMAIL="ada@example.com", GIT_AUTHOR_DATE="2024-01-01T12:00:00+00:00")
    env.update(GIT_COMMITTER_DATE="2024-01-01T12:00:00+00:00")
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def test_repositories_have_no_size_rather_than_0_bytes(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "hello.py").write_text("def hello():\n    return 'hi'\n")
    git(repo, "add", "hello.py")
    git(repo, "commit", "-q", "-m", "Add a greeting function")
    recipe = write_recipe(tmp_path, f'sources:\n  commits: {{type: git_commits, paths: ["{repo}"]}}\n')
    result = invoke("build", str(recipe), "-o", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  commits (git_commits): 1 repository, size unknown" in result.output.splitlines()
    result = invoke("build", str(recipe), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "commits: tokenizing 1 repository, size unknown, in 1 task" in result.output.splitlines()
    source = read_manifest(tmp_path / "out")["sources"]["commits"]
    assert source["input_bytes"] is None and source["documents"] == 1
