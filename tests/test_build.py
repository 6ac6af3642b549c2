import gzip
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import recipe_text, write_jsonl

from mixer.cli import main
from mixer.mixing.corpus import SourceCorpus
from mixer.shards.format import IndexedDataset
from mixer.shards.manifest import read_manifest as load_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info


def build(tmp_path: Path, text: str, *args: str, out: str = "out"):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / out), *args])
    return result, tmp_path / out


@pytest.fixture(scope="module")
def built(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    result, out = build(tmp, recipe_text(corpus["root"]), "--tasks", "2", "--workers", "1")
    assert result.exit_code == 0, result.output
    return out, result.output


def decode_all(out: Path, source: str) -> list[str]:
    manifest = load_manifest(out)
    tok = manifest["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    docs = SourceCorpus(out, source)
    return [encoder.decode([int(t) for t in docs.document(i)]) for i in range(len(docs))]


@pytest.mark.parametrize("source", ["web", "code", "notes"])
def test_every_document_decodes_to_its_text_plus_eos(built, corpus, source):
    out, _ = built
    assert decode_all(out, source) == [t + "<|endoftext|>" for t in corpus[source]]


def test_manifest_counts_and_sidecars(built, corpus):
    out, output = built
    manifest = load_manifest(out)
    assert manifest["dtype"] == "uint16" and manifest["tokenizer"]["vocab_size"] == 600
    eos = manifest["eos_id"]
    for name in ("web", "code", "notes"):
        s = manifest["sources"][name]
        assert s["documents"] == len(corpus[name]) and s["skipped"] == {}
        [shard] = s["shards"]
        ds = IndexedDataset(out / "sources" / name / shard["name"])
        assert len(ds) == s["documents"] and ds.num_tokens == s["tokens"] == shard["tokens"]
        assert all(int(doc[-1]) == eos and eos not in doc[:-1].tolist() for doc in ds)
        sidecar = json.loads((out / "sources" / name / f"{shard['name']}.json").read_text())
        assert sidecar["documents"] == s["documents"] and sidecar["tokens"] == s["tokens"]
        assert sum(i["documents"] for i in sidecar["inputs"]) == s["documents"]
        import hashlib

        assert sidecar["bin_sha256"] == hashlib.sha256(ds.prefix.with_suffix(".bin").read_bytes()).hexdigest()
    assert manifest["sources"]["web"]["files"] == 3 and manifest["sources"]["notes"]["files"] == 20
    assert "total" in output and "wrote" in output


def test_rerun_is_up_to_date_and_changes_nothing(built, tmp_path):
    out, _ = built
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and "work" not in p.parts}
    recipe = out.parent / "recipe.yaml"
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("up to date") == 3
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and "work" not in p.parts}
    assert before == after


def test_an_edited_input_rebuilds_its_source_only(tmp_path):
    # (with a given tokenizer: a trained one trains again on the edited text, and every source follows it;
    # see tests/test_tokenizer_setup.py)
    from mixer.shards.tokenizer import train_bpe

    data = tmp_path / "data"
    write_jsonl(data / "a" / "1.jsonl", [{"text": f"first source document {i}"} for i in range(20)])
    write_jsonl(data / "b" / "1.jsonl", [{"text": f"second source document {i}"} for i in range(20)])
    tokenizer = train_bpe(["first second source document"] * 20, vocab_size=300, out_path=tmp_path / "t.json")
    text = f"""\
name: edit
tokenizer: {tokenizer}
sources:
  a: {{type: jsonl, paths: ["{data}/a/*.jsonl"]}}
  b: {{type: jsonl, paths: ["{data}/b/*.jsonl"]}}
"""
    result, out = build(tmp_path, text)
    assert result.exit_code == 0, result.output
    write_jsonl(data / "a" / "1.jsonl", [{"text": f"first source document {i}"} for i in range(25)])
    result, out = build(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "b: up to date" in result.output and "a: up to date" not in result.output
    assert load_manifest(out)["sources"]["a"]["documents"] == 25


def test_output_is_independent_of_task_count(corpus, tmp_path):
    text = recipe_text(corpus["root"])
    r1, one = build(tmp_path, text, "--tasks", "1", out="one")
    r2, three = build(tmp_path, text, "--tasks", "3", "--workers", "2", out="three")
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file() and "work" not in p.parts)
    assert files == sorted(
        p.relative_to(three) for p in three.rglob("*") if p.is_file() and "work" not in p.parts
    )
    for rel in files:
        if rel.name != "manifest.json":
            assert (one / rel).read_bytes() == (three / rel).read_bytes(), rel
    m1, m3 = load_manifest(one), load_manifest(three)
    assert m1["sources"] == m3["sources"]


def test_shards_roll_over_at_the_token_limit(corpus, tmp_path, monkeypatch):
    import mixer.build.assemble

    monkeypatch.setattr(mixer.build.assemble, "COPY_TOKENS", 700)  # copy in many small reads as well
    result, out = build(tmp_path, recipe_text(corpus["root"], extra="build: {max_tokens_per_shard: 3000}\n"))
    assert result.exit_code == 0, result.output
    manifest = load_manifest(out)
    shards = manifest["sources"]["web"]["shards"]
    assert len(shards) > 1
    for shard in shards:
        ds = IndexedDataset(out / "sources" / "web" / shard["name"])
        assert ds.num_tokens <= 3000 or len(ds) == 1
    assert decode_all(out, "web") == [t + "<|endoftext|>" for t in corpus["web"]]


def test_bad_records_are_counted_with_file_and_line(corpus, tmp_path):
    bad = tmp_path / "bad"
    good = {"text": "a fine document", "id": "g"}
    write_jsonl(
        bad / "mixed.jsonl",
        [
            good,
            b"{not json\n",
            b'{"text": "caf\xe9"}\n',
            {"body": "no text"},
            {"text": 5},
            {"text": "   "},
            [1, 2],
            good,
        ],
    )
    truncated = gzip.compress(
        b"".join(json.dumps({"text": f"doc {i} " * 50}).encode() + b"\n" for i in range(200))
    )
    (bad / "cut.jsonl.gz").write_bytes(truncated[: len(truncated) // 2])
    text = f"""\
name: bad
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 50000}}}}
sources:
  web: {{type: jsonl, paths: ["{bad}/*.jsonl", "{bad}/*.gz", "{bad}/missing-*.jsonl"]}}
"""
    result, out = build(tmp_path, text)
    assert result.exit_code == 0, result.output
    s = load_manifest(out)["sources"]["web"]
    cut_docs = s["documents"] - 2
    assert 0 < cut_docs < 200
    assert s["skipped"] == {
        "empty_text": 1,
        "invalid_utf8": 1,
        "malformed_json": 1,
        "missing_text_field": 1,
        "not_an_object": 1,
        "text_not_a_string": 1,
        "truncated_file": 1,
    }
    mixed = str(bad / "mixed.jsonl")
    assert s["skip_examples"]["malformed_json"] == [
        f"{mixed}:2 (unexpected character, expected a string key)"
    ]
    assert s["skip_examples"]["invalid_utf8"] == [f"{mixed}:3 (byte 13)"]
    assert s["skip_examples"]["missing_text_field"] == [f"{mixed}:4 (keys: body)"]
    assert s["skip_examples"]["truncated_file"][0].startswith(f"{bad / 'cut.jsonl.gz'}:{cut_docs + 1} (")
    assert s["records"] == 8 + cut_docs
    assert "matched no files" in result.output and "skipped as malformed_json" in result.output


def test_output_of_another_recipe_is_refused(built, corpus, tmp_path):
    out, _ = built
    recipe = tmp_path / "other.yaml"
    recipe.write_text(recipe_text(corpus["root"], name="other"))
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)])
    assert result.exit_code == 2
    assert f"{out} holds the build of recipe 't', not 'other'" in result.output


def test_missing_inputs_and_tokenizer_fail_before_work(tmp_path):
    text = f"""\
name: x
tokenizer: {tmp_path}/nope.json
sources:
  web: {{type: jsonl, paths: ["{tmp_path}/none/*.jsonl"]}}
"""
    result, out = build(tmp_path, text)
    assert result.exit_code == 2
    assert "source 'web': none of its paths matched a file" in result.output
    assert not out.exists()
    write_jsonl(tmp_path / "none" / "a.jsonl", [{"text": "x"}])
    result, out = build(tmp_path, text)
    assert result.exit_code == 2 and f"tokenizer.path: '{tmp_path}/nope.json' is not a file" in result.output
    assert not out.exists()


def test_dry_run_prints_plan_and_writes_nothing(corpus, tmp_path):
    result, out = build(tmp_path, recipe_text(corpus["root"]), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not out.exists()
    assert "  web (jsonl): 3 files" in result.output
    assert "  notes (text): 20 files" in result.output
    assert f"    {corpus['root']}/web/a.jsonl  " in result.output
    assert "vocab_size: 600" in result.output  # the resolved recipe


def test_inspect_decodes_documents(built, corpus):
    out, _ = built
    result = CliRunner().invoke(
        main, ["inspect", str(out), "--source", "code", "--doc", "3", "--max-chars", "100000"]
    )
    assert result.exit_code == 0, result.output
    assert corpus["code"][3] + "<|endoftext|>" in result.output
    assert "--- code document 3:" in result.output
    result = CliRunner().invoke(main, ["inspect", str(out), "--source", "nope"])
    assert result.exit_code == 2 and "no source 'nope'" in result.output


def test_schema_command_prints_json_schema():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "mixer recipe"


def test_resume_reads_only_files_without_a_committed_part(corpus, tmp_path, monkeypatch):
    import mixer.build.assemble

    text = recipe_text(corpus["root"])
    result, out = build(tmp_path, text, "--tasks", "3")
    assert result.exit_code == 0, result.output
    reference = {p.name: p.read_bytes() for p in (out / "sources" / "notes").iterdir()}
    shutil.rmtree(out)

    # a build stopped after tokenizing notes, before assembling it: every part of notes is committed
    assemble = mixer.build.assemble.assemble_source

    def stop(name, *args, **kwargs):
        if name == "notes":
            raise KeyboardInterrupt
        return assemble(name, *args, **kwargs)

    monkeypatch.setattr(mixer.build.assemble, "assemble_source", stop)
    result, out = build(tmp_path, text, "--tasks", "3")
    monkeypatch.undo()
    assert result.exit_code == 130, result.output
    # forget the part holding note file 5 (as if its task was killed before committing)
    [work] = (out / "work" / "sources" / "notes").iterdir()
    sidecars = [
        p
        for p in (work / "parts").glob("*.json")
        if 5 in {f["index"] for f in json.loads(p.read_text())["files"]}
    ]
    lost = {f["index"] for f in json.loads(sidecars[0].read_text())["files"]}
    sidecars[0].unlink()
    shutil.rmtree(work / "datatrove" / "stats", ignore_errors=True)
    result = CliRunner().invoke(
        main, ["build", str(out.parent / "recipe.yaml"), "-o", str(out), "--tasks", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "notes: tokenizing 20 files, " in result.output
        and f"resuming ({20 - len(lost)} of 20 files already done)" in result.output
    )
    read = sum(
        step["stats"].get("input_files", {}).get("total", 0)
        if isinstance(step["stats"].get("input_files"), dict)
        else step["stats"].get("input_files", 0)
        for stats in (work / "datatrove" / "stats").glob("*.json")
        for step in json.loads(stats.read_text())
    )
    assert read == len(lost)
    assert {p.name: p.read_bytes() for p in (out / "sources" / "notes").iterdir()} == reference


def test_a_second_build_of_the_same_folder_is_refused(corpus, tmp_path):
    from mixer.build.lock import output_lock

    out = tmp_path / "out"
    (out / "work").mkdir(parents=True)
    (out / "work" / "recipe.json").write_text(json.dumps({"recipe": {"name": "t"}}))  # a build of this recipe
    with output_lock(out):  # ... that is still running
        result, _ = build(tmp_path, recipe_text(corpus["root"]))
    assert result.exit_code == 2
    assert f"{out} is being written by mixer pid " in result.output and "run again" in result.output
    result, _ = build(tmp_path, recipe_text(corpus["root"]))  # the lock went with its holder
    assert result.exit_code == 0, result.output


def live_processes_in_group(pgid: int) -> list[str]:
    """``pid command`` of every process in process group ``pgid`` that has not exited (zombies excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        command, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        state, group = rest[0], int(rest[2])
        if group == pgid and state not in ("Z", "X"):
            found.append(f"{stat.parent.name} {command}")
    return found


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import output_tree

    data = tmp_path / "data"
    for f in range(8):
        write_jsonl(
            data / f"{f}.jsonl",
            [{"text": f"file {f} document {i} " + "about rivers and stones " * 30} for i in range(800)],
        )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f'name: ctrlc\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\nsources:\n  web: {{type: jsonl, paths: ["{data}/*.jsonl"]}}\n'
    )

    def cmd(out: Path) -> list[str]:  # two workers: the tasks run in datatrove's process pool
        return [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(out), "--workers", "2"]

    subprocess.run(cmd(tmp_path / "ref"), check=True, capture_output=True)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        cmd(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    committed = "work/sources/web/*/parts/p*.json"  # a task has finished its files: the build is mid-source
    while proc.poll() is None and time.monotonic() < deadline and not any(out.glob(committed)):
        time.sleep(0.005)
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    stdout, stderr = proc.communicate(timeout=60)
    assert running, "the build finished before a file was committed"
    assert proc.returncode == 130, stdout + stderr
    message = "Interrupted. Finished work is kept: run the same command again to resume."
    assert stderr.strip() == message, stderr  # and nothing else: no traceback from the pool's workers
    deadline = time.monotonic() + 10
    while (left := live_processes_in_group(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []  # the pool's workers, the fork server and datatrove's manager are gone
    assert not (out / "manifest.json").exists()

    again = subprocess.run(cmd(out), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "web: tokenizing 8 files, " in again.stdout and " already done)" in again.stdout
    assert output_tree(out) == output_tree(tmp_path / "ref")


def test_the_lock_of_a_killed_build_does_not_block_the_next(corpus, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    (out / "work").mkdir(parents=True)
    (out / "work" / "recipe.json").write_text(json.dumps({"recipe": {"name": "t"}}))  # a build of this recipe
    holder = subprocess.Popen(  # ... in another process, which takes the lock and then crashes
        [
            sys.executable,
            "-c",
            "import time\nfrom mixer.build.lock import output_lock\n"
            f"with output_lock({str(out)!r}):\n    print('locked', flush=True)\n    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        result, _ = build(tmp_path, recipe_text(corpus["root"]))
        assert result.exit_code == 2
        assert (
            f"Error: {out} is being written by mixer pid {holder.pid}; wait for it to finish (or stop it) "
            "and run again\n" == result.output
        )
        os.kill(holder.pid, signal.SIGKILL)  # no cleanup runs: the lock file stays, naming the dead build
        assert holder.wait() == -signal.SIGKILL
    finally:
        holder.kill()
    assert (out / "work" / "build.lock").read_text() == f"mixer pid {holder.pid}"
    result, _ = build(tmp_path, recipe_text(corpus["root"]))
    assert result.exit_code == 0, result.output
    assert load_manifest(out)["sources"]["web"]["documents"] == len(corpus["web"])


def test_pool_workers_are_deaf_to_ctrl_c_but_the_programs_they_start_are_not(tmp_path):
    import os
    import signal
    import subprocess

    from mixer.build.engine import choose_executor, run_pipeline
    from mixer.recipe import ExecutorConfig

    def record(data, rank: int = 0, world_size: int = 1):
        handler = signal.getsignal(signal.SIGINT)
        status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True).stdout
        ignored = int(next(x for x in status.splitlines() if x.startswith("SigIgn:")).split()[1], 16)
        (tmp_path / f"{rank}.json").write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "handler": getattr(handler, "__qualname__", str(handler)),
                    "program_ignores_sigint": bool(ignored & (1 << (signal.SIGINT - 1))),
                }
            )
        )

    choice = choose_executor(ExecutorConfig(), tasks=2, workers=2)
    assert run_pipeline([record], choice, tmp_path / "logs", "signals")
    seen = [json.loads((tmp_path / f"{rank}.json").read_text()) for rank in range(2)]
    assert all(s["pid"] != os.getpid() for s in seen)  # they ran in the pool
    assert [(s["handler"], s["program_ignores_sigint"]) for s in seen] == [("_do_nothing", False)] * 2
