"""One copy of the tokens: parts go as they are assembled, a finished build keeps no parts and no dedup
signatures, and resuming, up-to-date checks and `mixer verify` still work after the cleanup."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import output_tree, recipe_text

import mixer.build.assemble as assemble
from mixer.cli import main
from mixer.readers.base import task_files

EXTRA = """\
build: {keep_rejected: true, max_tokens_per_shard: 4000}
dedup: {priority: [code]}
phases:
  pretrain: {tokens: 20000, seq_len: 32, weights: {web: 1, code: 1, notes: 1}, max_repetition: 8}
"""
FILTERS = "    type: jsonl\n    filters: [{c4_quality: {min_num_sentences: 1}}]\n"


def recipe(corpus_root: Path, extra: str = EXTRA) -> str:
    return recipe_text(corpus_root, extra=extra).replace("    type: jsonl\n", FILTERS, 1)


def build(out: Path, text: str | None = None, *args: str):
    recipe_file = out.parent / f"{out.name}.yaml"
    if text is not None:
        recipe_file.write_text(text)
    return CliRunner().invoke(
        main, ["build", str(recipe_file), "-o", str(out), "--tasks", "4", "--workers", "1", *args]
    )


def token_files(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix in (".bin", ".idx") or ".bin.tmp-" in p.name or ".idx.tmp-" in p.name)
    )


def files_read(out: Path, source: str) -> int:
    """Input files the tokenize pipelines of ``source`` read, from datatrove's stats."""
    total = 0
    for stats in out.glob(f"work/sources/{source}/*/datatrove/stats/*.json"):
        for step in json.loads(stats.read_text()):
            n = step["stats"].get("input_files", 0)
            total += n.get("total", 0) if isinstance(n, dict) else n
    return total


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("footprint") / "ref"
    result = build(out, recipe(corpus["root"]))
    assert result.exit_code == 0, result.output
    return out


def test_a_finished_build_keeps_no_parts_no_signatures_and_one_copy_of_the_rejected(reference):
    work = reference / "work"
    assert token_files(work) == []  # the tokens are in sources/ only
    for source in ("web", "code", "notes"):
        [key] = (work / "sources" / source).iterdir()
        assert sorted(p.name for p in key.iterdir()) == ["assembled", "datatrove"]
        assert len(list((reference / "sources" / source).glob("*.bin"))) >= 2  # several shards each
    [dedup] = (work / "dedup").iterdir()
    assert sorted(p.name for p in dedup.iterdir()) == [
        "decisions",
        "dedup.json",
        "done",
        "ids",
        "logs",
        "remove",
    ]
    rejected = [p for p in (reference / "rejected").rglob("*") if p.is_file()]
    assert rejected and all(p.stat().st_nlink == 1 for p in rejected)  # linked, then the work copy went


def test_verify_and_an_up_to_date_rebuild_after_the_cleanup(reference):
    result = CliRunner().invoke(main, ["verify", str(reference)])
    assert result.exit_code == 0, result.output
    before = output_tree(reference)
    result = build(reference)
    assert result.exit_code == 0, result.output
    stages = [line.split(":")[0] for line in result.output.splitlines() if "up to date" in line]
    assert stages == ["dedup", "web", "code", "notes", "pretrain"]
    assert "tokeniz" not in result.output.replace("tokenizer:", "")
    assert output_tree(reference) == before


def test_a_source_whose_shards_were_deleted_is_built_again_from_its_inputs(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    shutil.copy(reference.parent / "ref.yaml", tmp_path / "out.yaml")
    shutil.rmtree(out / "sources" / "web")
    result = build(out)
    assert result.exit_code == 0, result.output
    assert "web: tokenizing 3 files" in result.output and "code: up to date" in result.output
    assert output_tree(out) == output_tree(reference)
    assert token_files(out / "work") == []


def test_keep_work_keeps_signatures_and_sidecars_but_never_a_second_copy_of_the_tokens(corpus, tmp_path):
    out = tmp_path / "out"
    extra = EXTRA.replace("max_tokens_per_shard: 4000", "max_tokens_per_shard: 4000, keep_work: true")
    result = build(out, recipe(corpus["root"], extra))
    assert result.exit_code == 0, result.output
    assert token_files(out / "work") == []
    [key] = (out / "work" / "sources" / "notes").iterdir()
    sidecars = list((key / "parts").glob("p*.json"))
    assert len(sidecars) == 4  # one part per task
    [dedup] = (out / "work" / "dedup").iterdir()
    assert {"exact", "minhash", "pairs"} <= {p.name for p in dedup.iterdir()}
    # without keep_work (the same build key), an up-to-date build clears what was kept
    result = build(out, recipe(corpus["root"]))
    assert result.exit_code == 0 and result.output.count("up to date") == 5, result.output
    assert not (key / "parts").exists() and not {"exact", "minhash", "pairs"} & {
        p.name for p in dedup.iterdir()
    }


def test_peak_disk_while_assembling_is_the_output_plus_one_part(corpus, tmp_path, monkeypatch):
    out = tmp_path / "out"
    seen: list[tuple[int, int]] = []  # (token bytes on disk, largest part's bytes) after each copy
    add_raw = assemble.IndexedDatasetWriter.add_raw

    def measured(self, data, lengths):
        add_raw(self, data, lengths)
        self._bin.flush()
        parts = [p.stat().st_size for p in out.glob("work/sources/*/*/parts/*.bin")]
        tokens = [p for folder in ("sources", "work") for p in (out / folder).rglob("*") if ".bin" in p.name]
        seen.append((sum(p.stat().st_size for p in tokens if p.is_file()), max(parts, default=0)))

    monkeypatch.setattr(assemble.IndexedDatasetWriter, "add_raw", measured)
    text = recipe(corpus["root"]).replace("dedup: {priority: [code]}\n", "")
    result = build(out, text)
    assert result.exit_code == 0, result.output
    output = sum(p.stat().st_size for p in out.glob("sources/*/*.bin"))
    largest_part = max(part for _, part in seen)
    assert len(seen) > 10 and 0 < largest_part < output / 2
    assert max(disk for disk, _ in seen) <= output + largest_part
    # and the bound is tight: while a part is copied its tokens are on disk twice
    assert max(disk for disk, _ in seen) > output


@pytest.mark.parametrize("stop_at", ["first", "last"])
def test_a_build_stopped_while_assembling_carries_on_after_its_last_complete_shard(
    reference, tmp_path, monkeypatch, stop_at
):
    """Stopped as a shard of notes is finishing: the shards before it stay; the files of parts whose tokens
    went into the unfinished shard (and were deleted) are tokenized again; the result is identical."""
    out = tmp_path / "out"
    shutil.copy(reference.parent / "ref.yaml", tmp_path / "out.yaml")
    shards = len(list((reference / "sources" / "notes").glob("*.bin")))
    stop = 1 if stop_at == "first" else shards
    close = assemble._ShardRoller.close
    calls = []

    def stopping(self):
        if self.writer is not None and self.folder.parent.parent.name == "notes":
            calls.append(1)
            if len(calls) == stop:
                raise KeyboardInterrupt
        close(self)

    monkeypatch.setattr(assemble._ShardRoller, "close", stopping)
    result = build(out)
    monkeypatch.undo()
    assert result.exit_code == 130, result.output
    [key] = (out / "work" / "sources" / "notes").iterdir()
    staged = assemble.staged_shards(key / assemble.STAGING)
    assert len(staged) == stop - 1
    # what the rerun must read again: the files of every part whose tokens are gone but not all staged
    placed: dict[int, int] = {}
    for shard in staged:
        for entry in shard["inputs"]:
            placed[entry["file_index"]] = placed.get(entry["file_index"], 0) + entry["documents"]
    lost = 0
    for sidecar in (key / "parts").glob("p*.json"):
        part = json.loads(sidecar.read_text())
        gone = not (key / "parts" / f"{part['prefix']}.bin").exists()
        if gone and any(placed.get(f["index"], 0) != f["written_documents"] for f in part["files"]):
            lost += len(part["files"])
    if stop_at == "last":  # every part was copied: the last one's tokens are only in the unfinished shard
        assert lost >= 5
    shutil.rmtree(key / "datatrove" / "stats")

    result = build(out)
    assert result.exit_code == 0, result.output
    message = f"notes: {lost} files whose tokens were in a shard left unfinished are tokenized again"
    assert (message in result.output) == (lost > 0)
    assert files_read(out, "notes") == lost
    assert output_tree(out) == output_tree(reference)
    assert token_files(out / "work") == []


def test_tasks_take_contiguous_runs_of_files_in_order():
    todo = [0, 1, 2, 5, 6, 9, 10]
    for world in range(1, 10):
        runs = [task_files(todo, rank, world) for rank in range(world)]
        assert [i for run in runs for i in run] == todo
        assert max(map(len, runs)) - min(map(len, runs)) <= 1
    assert task_files(todo, 1, 3) == [2, 5]


def test_the_rejected_documents_survive_the_cleanup_of_their_work_copy(reference):
    lines = [
        json.loads(line)
        for p in sorted((reference / "rejected").rglob("*.jsonl.gz"))
        for line in __import__("gzip").open(p, "rt")
    ]
    manifest = json.loads((reference / "manifest.json").read_text())
    dropped = sum(n for s in manifest["sources"].values() for r in s["dropped"].values() for n in r.values())
    assert len(lines) == dropped > 0
    assert not any(os.path.exists(p) for p in (reference / "work").glob("sources/*/*/rejected"))


def test_the_tokenizer_check_runs_once_per_tokenizer_and_sample(corpus, tmp_path, monkeypatch):
    """A build of the same inputs into another folder reuses the identity check's verdict (the user's cache);
    a changed tokenizer or other inputs are checked again, with the same verdict the check gives."""
    import mixer.shards.tokenizer as tokenizer

    monkeypatch.setenv("MIXER_CACHE_DIR", str(tmp_path / "cache"))
    checks = []
    choose = tokenizer._choose_fast_backend

    def counted(*args, **kwargs):
        checks.append(1)
        return choose(*args, **kwargs)

    monkeypatch.setattr(tokenizer, "_choose_fast_backend", counted)
    first = build(tmp_path / "a", recipe_text(corpus["root"]))
    assert first.exit_code == 0, first.output
    assert len(checks) == 1
    tok = tmp_path / "tokenizer.json"
    shutil.copy(tmp_path / "a" / "tokenizer" / "tokenizer.json", tok)
    text = recipe_text(corpus["root"]).replace(
        "  train: {vocab_size: 600, sample_bytes: 200000}", f"  path: {tok}"
    )
    assert (
        build(tmp_path / "b", text).exit_code == 0 and len(checks) == 2
    )  # the trained one was checked as a file
    same = build(tmp_path / "c", text)
    assert same.exit_code == 0 and len(checks) == 2  # another folder, same tokenizer and inputs: no check
    backend = json.loads((tmp_path / "c" / "tokenizer" / "backend.json").read_text())
    assert backend["backend"] == "tiktoken" and backend["reason"].startswith("tiktoken: identical ids on ")
    assert json.loads((tmp_path / "b" / "tokenizer" / "backend.json").read_text()) == backend
    fewer = text.replace(f'"{corpus["root"]}/web/*.gz", ', "")  # other inputs: another probe sample
    assert build(tmp_path / "d", fewer).exit_code == 0 and len(checks) == 3
    raw = json.loads(tok.read_text())
    raw["added_tokens"][0]["content"] = raw["added_tokens"][0]["content"]  # same tokens, other bytes
    tok.write_text(json.dumps(raw, indent=1))
    assert build(tmp_path / "e", text).exit_code == 0 and len(checks) == 4
    assert len(list((tmp_path / "cache" / "tokenizer-checks").glob("*.json"))) == 4
