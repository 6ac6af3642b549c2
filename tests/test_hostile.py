"""Broken and adversarial inputs: each one a counted skip with its place, a warning, or a clear error —
never a crash, a hang or a silent loss (docs/troubleshooting.md lists the behaviours)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.cli import main
from mixer.shards.manifest import read_manifest

GOOD = [{"id": f"g{i}", "text": f"good document number {i} about rivers and stones"} for i in range(40)]


def build(tmp_path: Path, sources: str, build_settings: str = ""):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: hostile\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\n{build_settings}sources:\n{sources}"
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out")])
    return result, tmp_path / "out"


def test_broken_files_are_counted_skips(tmp_path):
    d = tmp_path / "in put" / "ünïcödé"  # spaces and non-ASCII names
    write_jsonl(d / "good file.jsonl", GOOD)
    whole = zstandard.ZstdCompressor().compress(b"".join(json.dumps(r).encode() + b"\n" for r in GOOD * 50))
    (d / "cut.jsonl.zst").write_bytes(whole[: len(whole) // 2])
    (d / "empty.jsonl").write_bytes(b"")
    (d / "blank.jsonl").write_bytes(b"\n\n   \n")
    (d / "nested.jsonl").write_text('{"text": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}\n")
    (d / "types.jsonl").write_text('{"text": ["a", "list"]}\n{"text": null}\n{"text": ""}\n"just a string"\n')
    os.symlink(tmp_path / "nowhere.jsonl", d / "dangling.jsonl")
    result, out = build(tmp_path, f'  web: {{type: jsonl, paths: ["{d}/*.jsonl", "{d}/*.zst"]}}\n')
    assert result.exit_code == 0, result.output
    web = read_manifest(out)["sources"]["web"]
    assert web["skipped"] == {
        "empty_text": 1,
        "malformed_json": 1,
        "not_an_object": 1,
        "text_not_a_string": 2,
        "truncated_file": 1,
    }
    assert web["documents"] == 40 + 0  # the truncated zstd frame yields nothing before its cut
    assert web["skip_examples"]["malformed_json"] == [f"{d / 'nested.jsonl'}:1 (depth limit exceeded)"]
    assert web["skip_examples"]["truncated_file"][0].startswith(f"{d / 'cut.jsonl.zst'}:1 (EOFError: ")
    assert (
        f"'{d / 'dangling.jsonl'}' is not a regular file (a broken link, a device or a socket); skipped"
        in result.output
    )


def test_a_200_mb_line_is_skipped_not_tokenized(tmp_path):
    d = tmp_path / "big"
    d.mkdir()
    with open(d / "a.jsonl", "w") as f:
        for r in GOOD[:10]:
            f.write(json.dumps(r) + "\n")
        f.write('{"id": "huge", "text": "' + "river stone " * 17_500_000 + '"}\n')  # 210 MB
        for r in GOOD[10:]:
            f.write(json.dumps(r) + "\n")
    result, out = build(tmp_path, f'  web: {{type: jsonl, paths: ["{d}/a.jsonl"]}}\n')
    assert result.exit_code == 0, result.output
    web = read_manifest(out)["sources"]["web"]
    assert web["skipped"] == {"document_too_large": 1}
    assert web["skip_examples"]["document_too_large"] == [f"{d / 'a.jsonl'}:11 (210,000,000 characters)"]
    assert web["documents"] == 40


def test_parquet_without_the_text_column_is_a_file_level_skip(tmp_path):
    d = tmp_path / "pq"
    d.mkdir()
    pq.write_table(pa.table({"body": ["no text column here"] * 5}), d / "wrong.parquet")
    pq.write_table(pa.table({"text": [r["text"] for r in GOOD]}), d / "right.parquet")
    result, out = build(tmp_path, f'  docs: {{type: parquet, paths: ["{d}"]}}\n')
    assert result.exit_code == 0, result.output
    docs = read_manifest(out)["sources"]["docs"]
    assert docs["skipped"] == {"missing_text_column": 1}
    assert docs["documents"] == 40 and docs["records"] == 40


def test_a_full_disk_stops_with_a_message_and_resumes(tmp_path):
    d = tmp_path / "data"
    write_jsonl(
        d / "a.jsonl", [{"text": f"document {i} " + "about rivers and stones " * 20} for i in range(3000)]
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f'name: full\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\nsources:\n  web: {{type: jsonl, paths: ["{d}/*.jsonl"]}}\n'
    )
    cmd = [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(tmp_path / "out")]

    def small_files() -> None:  # as if the disk filled up after 300 KB
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    full = subprocess.run(cmd, preexec_fn=small_files, capture_output=True, text=True)
    assert full.returncode == 1
    assert "Error: cannot write: File too large (the disk or a quota is full" in full.stderr
    assert "run the same command again to resume" in full.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert read_manifest(tmp_path / "out")["sources"]["web"]["documents"] == 3000


def test_recipe_attacks_fail_before_work(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    for text, expected in [
        ("name: x\nname: y\n", "duplicate key 'name'"),
        (bomb, "alias"),
        (
            'name: w\ntokenizer: t.json\nsources: {a: {type: jsonl, paths: ["x"]}}\n'
            "phases: {p: {tokens: 10, seq_len: 4, weights: {a: 0}}}\n",
            "weight of 'a' is 0.0; weights must be positive",
        ),
        (
            'name: w\ntokenizer: t.json\nsources: {a: {type: jsonl, paths: ["x"]}}\n'
            "phases: {p: {tokens: 10, seq_len: 4, weights: {a: -1}}}\n",
            "weight of 'a' is -1.0; weights must be positive",
        ),
    ]:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(text)
        result = CliRunner().invoke(main, ["build", str(recipe), "--dry-run"])
        assert result.exit_code == 2, text
        assert expected in result.output, result.output


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_AUTHOR_DATE": "2024-01-01T12:00:00+00:00",
        "GIT_COMMITTER_DATE": "2024-01-01T12:00:00+00:00",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


def repository(path: Path, commits: int) -> Path:
    """``commits`` commits, the k-th adding module mk.py."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for k in range(1, commits + 1):
        (path / f"m{k}.py").write_text(f"def f{k}():\n    return {k}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"Add module number {k}")
    return path


def decoded(out: Path, source: str) -> list[str]:
    from mixer.mixing.corpus import SourceCorpus
    from mixer.shards.tokenizer import Encoder, load_tokenizer_info

    tok = read_manifest(out)["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    docs = SourceCorpus(out, source)
    return [encoder.decode([int(t) for t in docs.document(i)]) for i in range(len(docs))]


def test_a_git_repository_with_a_corrupt_object_is_read_up_to_the_damage(tmp_path):
    broken = repository(tmp_path / "broken", 4)
    intact = tmp_path / "intact"
    subprocess.run(["git", "clone", "-q", "--no-local", str(broken), str(intact)], check=True)
    fine = repository(tmp_path / "fine", 2)
    blob = git(broken, "rev-parse", "HEAD~1:m3.py")  # the file commit 3 adds
    loose = broken / ".git" / "objects" / blob[:2] / blob[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:10])  # cut inside the zlib stream
    result, out = build(
        tmp_path,
        f'  commits: {{type: git_commits, paths: ["{broken}", "{fine}"]}}\n'
        f'  diffs: {{type: git_commits, paths: ["{broken}"], format: diff}}\n',
    )
    assert result.exit_code == 0, result.output
    sources = read_manifest(out)["sources"]
    for name, documents in [("commits", 2 + 2), ("diffs", 2)]:
        s = sources[name]
        assert s["documents"] == s["records"] == documents, name  # commits 1 and 2 of broken, then fine
        assert s["skipped"] == {"unreadable_repository": 1}, name  # commits 3 and 4: the rest of broken
        assert s["skip_examples"] == {"unreadable_repository": [f"{broken}:3 (fatal: unable to read {blob})"]}
    # what was kept is exactly what the undamaged history gives for the first two commits
    from mixer.readers.git_commits import GitCommitsReader
    from mixer.sources.base import InputFile
    from mixer.sources.git_commits import GitCommitsSource

    config = GitCommitsSource(type="git_commits", paths=[str(intact)], format="diff")
    reader = GitCommitsReader("diffs", [InputFile(str(intact), -1)], config=config)
    texts = [r["text"] for _, r in reader.records(str(intact))]
    assert len(texts) == 4
    assert decoded(out, "diffs") == [t + "<|endoftext|>" for t in texts[:2]]


def without_dac_override() -> None:
    """For a build run as root: give up the capabilities that let root read any file (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH) from the bounding set, which root's exec would otherwise restore."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unreadable_files_possible() -> bool:
    """Whether a process started as the tests start builds is refused a file of mode 000 (as root: after
    giving up the capability to read any file)."""
    with tempfile.TemporaryDirectory() as folder:
        locked = Path(folder) / "locked"
        locked.write_bytes(b"")
        locked.chmod(0o000)
        probe = [sys.executable, "-c", f"open({str(locked)!r}, 'rb')"]
        preexec = without_dac_override if os.geteuid() == 0 else None
        try:
            denied = subprocess.run(probe, preexec_fn=preexec, capture_output=True, text=True)
        except subprocess.SubprocessError:  # preexec_fn failed: root that cannot drop capabilities
            return False
        return "PermissionError" in denied.stderr


@pytest.mark.skipif(not unreadable_files_possible(), reason="no file can be made unreadable here")
def test_unreadable_files_are_counted_skips(tmp_path):
    web, notes = tmp_path / "web", tmp_path / "notes"
    write_jsonl(web / "a.jsonl", GOOD)
    write_jsonl(web / "locked.jsonl", GOOD[:5])
    notes.mkdir()
    for i in range(3):
        (notes / f"n{i}.txt").write_text(f"note {i} about rivers and stones")
    for locked in (web / "locked.jsonl", notes / "n1.txt"):
        locked.chmod(0o000)
    preexec = without_dac_override if os.geteuid() == 0 else None
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "name: hostile\ntokenizer: {train: {vocab_size: 300, sample_bytes: 20000}}\nsources:\n"
        f'  web: {{type: jsonl, paths: ["{web}"]}}\n  notes: {{type: text, paths: ["{notes}"]}}\n'
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(out)]
    result = subprocess.run(cmd, preexec_fn=preexec, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    sources = read_manifest(out)["sources"]
    assert sources["web"]["files"] == 2 and sources["web"]["documents"] == 40
    assert sources["web"]["skipped"] == {"unreadable_file": 1}
    locked = web / "locked.jsonl"
    assert sources["web"]["skip_examples"] == {
        "unreadable_file": [f"{locked}:1 (PermissionError: [Errno 13] Permission denied: '{locked}')"]
    }
    assert sources["notes"]["files"] == 3 and sources["notes"]["documents"] == 2
    assert sources["notes"]["skip_examples"] == {
        "unreadable_file": [f"{notes / 'n1.txt'}:0 (PermissionError: Permission denied)"]
    }
    assert "skipped as unreadable_file" in result.stdout


def symlink_loops(tmp_path: Path) -> tuple[Path, Path]:
    """A jsonl and a text folder, each with a link to itself, two links to each other, and two folders
    that link to each other (a/to_b -> b, b/to_a -> a): three real files each."""
    web, notes = tmp_path / "web", tmp_path / "notes"
    write_jsonl(web / "good.jsonl", GOOD[:10])
    write_jsonl(web / "tree" / "a" / "x.jsonl", GOOD[10:20])
    write_jsonl(web / "tree" / "b" / "y.jsonl", GOOD[20:30])
    for folder, suffix in [(web, ".jsonl"), (notes / "tree", ".txt")]:
        folder.mkdir(parents=True, exist_ok=True)
        os.symlink(f"self{suffix}", folder / f"self{suffix}")
        os.symlink(f"pong{suffix}", folder / f"ping{suffix}")
        os.symlink(f"ping{suffix}", folder / f"pong{suffix}")
    (notes / "tree" / "a").mkdir()
    (notes / "tree" / "b").mkdir()
    for i, name in enumerate(["good.txt", "tree/a/x.txt", "tree/b/y.txt"]):
        (notes / name).write_text(f"note {i} about rivers and stones")
    for tree in (web / "tree", notes / "tree"):
        os.symlink("../b", tree / "a" / "to_b")
        os.symlink("../a", tree / "b" / "to_a")
    return web, notes


def input_files(out: Path, source: str) -> list[str]:
    """The real paths of the files a source's shards were made of."""
    return sorted(
        os.path.realpath(i["path"])
        for sidecar in (out / "sources" / source).glob("[0-9]*.json")
        for i in json.loads(sidecar.read_text())["inputs"]
    )


def run_build(tmp_path: Path, sources: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``mixer build`` in a subprocess, so that a hang fails the test instead of stalling the suite."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"name: hostile\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\nsources:\n{sources}"
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120), out


def test_symlink_loops_are_warned_and_never_followed_forever(tmp_path):
    web, notes = symlink_loops(tmp_path)
    result, out = run_build(
        tmp_path,
        f'  web: {{type: jsonl, paths: ["{web}/*.jsonl", "{web}/tree/**/*.jsonl"]}}\n'
        f'  notes: {{type: text, paths: ["{notes}/tree/*.txt", "{notes}"]}}\n'
        f'  notes_deep: {{type: text, paths: ["{notes}/**/*.txt"]}}\n',
    )
    assert result.returncode == 0, result.stderr
    sources = read_manifest(out)["sources"]
    assert sources["web"]["documents"] == 30 and sources["web"]["skipped"] == {}
    assert input_files(out, "web") == [
        str(web / p) for p in ["good.jsonl", "tree/a/x.jsonl", "tree/b/y.jsonl"]
    ]
    for name in ("notes", "notes_deep"):  # each real file once, however many looped paths lead to it
        assert sources[name]["documents"] == 3 and sources[name]["skipped"] == {}, name
        assert input_files(out, name) == [
            str(notes / p) for p in ["good.txt", "tree/a/x.txt", "tree/b/y.txt"]
        ]

    def not_a_file(where: str, link: Path) -> str:
        return (
            f"warning: sources.{where}: '{link}' is not a regular file (a broken link, a device or a socket); "
            "skipped"
        )

    tree = notes / "tree"
    assert [line for line in result.stdout.splitlines() if line.startswith("warning: ")] == [
        *(not_a_file("web.paths[0]", web / f"{n}.jsonl") for n in ("ping", "pong", "self")),
        *(not_a_file("notes.paths[0]", tree / f"{n}.txt") for n in ("ping", "pong", "self")),
        f"warning: sources.notes.paths[0]: '{tree}/*.txt' matched no files",
        *(not_a_file("notes.paths[1]", tree / f"{n}.txt") for n in ("ping", "pong", "self")),
        *(not_a_file("notes_deep.paths[0]", tree / f"{n}.txt") for n in ("ping", "pong", "self")),
    ]


def test_a_folder_path_warns_about_the_links_it_cannot_follow(tmp_path):
    from mixer.sources.base import expand_pattern

    _, notes = symlink_loops(tmp_path)
    not_files: list[str] = []
    assert expand_pattern(str(notes), (".txt",), not_files) == [
        str(notes / p) for p in ["good.txt", "tree/a/x.txt", "tree/b/y.txt"]
    ]
    assert not_files == [str(notes / "tree" / p) for p in ["ping.txt", "pong.txt", "self.txt"]]


def test_a_recursive_pattern_through_two_links_to_its_folder_ends(tmp_path):
    write_jsonl(tmp_path / "d" / "f.jsonl", GOOD[:1])
    os.symlink(".", tmp_path / "d" / "x")
    os.symlink(".", tmp_path / "d" / "y")
    code = (
        "from mixer.sources.base import expand_pattern; "
        f"print(len(expand_pattern({str(tmp_path / 'd' / '**' / '*.jsonl')!r}, ())))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=5)
    assert found.stdout == "1\n"


def test_a_jsonl_file_starting_with_a_byte_order_mark_keeps_its_first_record(tmp_path):
    # Windows tools write a UTF-8 BOM before the first line: it used to make that line malformed_json
    d = tmp_path / "data"
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in GOOD[:3])
    (d / "sub").mkdir(parents=True)
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + lines)
    write_jsonl(d / "sub" / "bom.jsonl.gz", [b"\xef\xbb\xbf\n" + lines], "gz")  # a BOM alone on line 1
    result, out = build(tmp_path, f'  web: {{type: jsonl, paths: ["{d}/bom.jsonl", "{d}/sub/*.gz"]}}\n')
    assert result.exit_code == 0, result.output
    web = read_manifest(out)["sources"]["web"]
    assert (web["records"], web["documents"], web["skipped"]) == (6, 6, {})


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_says_so_in_one_line(tmp_path, workers):
    # the task log files failing too used to print ~120 lines of loguru's "Logging error" blocks, and the
    # task's exception was printed with its traceback before the build's own message
    import random

    rng = random.Random(0)
    words = "rivers stones clouds markets windows gardens silver morning harbor lantern meadow copper".split()
    d = tmp_path / "data"
    for name in ("a", "b"):  # distinct documents: dedup keeps them, and the shards outgrow the limit
        write_jsonl(d / f"{name}.jsonl", [{"text": " ".join(rng.choices(words, k=80))} for _ in range(2000)])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f'name: full\ntokenizer: {{train: {{vocab_size: 300, sample_bytes: 20000}}}}\ndedup: {{}}\nsources:\n  web: {{type: jsonl, paths: ["{d}/*.jsonl"]}}\n'
    )
    cmd = [sys.executable, "-m", "mixer.cli", "build", str(recipe), "-o", str(tmp_path / "out"), "--workers", workers]

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    full = subprocess.run(cmd, preexec_fn=small_files, capture_output=True, text=True, timeout=300)
    assert (full.returncode, full.stderr) == (
        1,
        "Error: cannot write: File too large (the disk or a quota is full, or a file-size limit was hit). Free "
        "space or choose another --output; finished work is kept: run the same command again to resume.\n",
    )
