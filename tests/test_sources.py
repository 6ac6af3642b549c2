import os
from pathlib import Path

import datasets
import pytest
from click.testing import CliRunner
from conftest import recipe_text, stdlib_texts

from mixer.cli import main
from mixer.errors import PlanError
from mixer.mixing.corpus import SourceCorpus
from mixer.shards.manifest import read_manifest as load_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info
from mixer.sources import HFSource, JsonlSource


def decoded(out: Path, source: str) -> list[str]:
    manifest = load_manifest(out)
    tok = manifest["tokenizer"]
    encoder = Encoder(load_tokenizer_info(out / tok["path"], eos_token=tok["eos_token"], backend="hf"))
    docs = SourceCorpus(out, source)
    return [
        encoder.decode([int(t) for t in docs.document(i)]).removesuffix("<|endoftext|>")
        for i in range(len(docs))
    ]


def test_glob_order_dedup_and_warnings(tmp_path):
    for name in ("b.jsonl", "a.jsonl", "c.txt"):
        (tmp_path / name).write_text('{"text": "x"}\n')
    src = JsonlSource(paths=[f"{tmp_path}/b.jsonl", f"{tmp_path}/*.jsonl", f"{tmp_path}/zz*.jsonl"])
    resolved = src.resolve("web")
    assert [Path(f.path).name for f in resolved.files] == ["b.jsonl", "a.jsonl"]
    assert resolved.total_bytes == 28
    assert resolved.warnings == [f"sources.web.paths[2]: '{tmp_path}/zz*.jsonl' matched no files"]


def test_hub_dataset_needs_explicit_permission(tmp_path):
    with pytest.raises(PlanError, match="to stream it from the Hugging Face Hub set sources.web.hub: true"):
        HFSource(dataset="someone/some-dataset").resolve("web")


@pytest.fixture(scope="module")
def hf_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    texts = stdlib_texts(30, 2000)
    saved = datasets.Dataset.from_dict({"content": texts[:15], "n": list(range(15))})
    saved.save_to_disk(str(root / "saved"), max_shard_size="8KB")
    (root / "files" / "data").mkdir(parents=True)
    part = datasets.Dataset.from_dict({"text": texts[15:]})
    part.select(range(8)).to_parquet(str(root / "files" / "data" / "train-00000.parquet"))
    part.select(range(8, 15)).to_parquet(str(root / "files" / "data" / "train-00001.parquet"))
    return root, texts


def test_hf_local_datasets_stream_file_by_file(hf_inputs, tmp_path):
    root, texts = hf_inputs
    saved = HFSource(dataset=str(root / "saved"), text_key="content").resolve("a")
    assert len(saved.files) > 1 and all(f.path.endswith(".arrow") for f in saved.files)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"""\
name: hf
tokenizer: {{train: {{vocab_size: 400, sample_bytes: 100000}}}}
sources:
  saved: {{type: hf, dataset: "{root / "saved"}", text_key: content}}
  files: {{type: hf, dataset: "{root / "files"}"}}
""")
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--tasks", "2"])
    assert result.exit_code == 0, result.output
    assert decoded(tmp_path / "out", "saved") == texts[:15]
    assert decoded(tmp_path / "out", "files") == texts[15:]
    assert load_manifest(tmp_path / "out")["sources"]["files"]["files"] == 2


@pytest.mark.slow
def test_ray_executor_gives_the_same_shards_as_local(corpus, tmp_path):
    import ray as _ray  # noqa: F401  (the dev extra installs it; a missing Ray must fail, not skip)

    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"]))
    runner = CliRunner()
    local = runner.invoke(main, ["build", str(recipe), "-o", str(tmp_path / "local"), "--tasks", "2"])
    ray = runner.invoke(
        main,
        [
            "build",
            str(recipe),
            "-o",
            str(tmp_path / "ray"),
            "--executor",
            "ray",
            "--tasks",
            "2",
            "--workers",
            "2",
        ],
    )
    assert local.exit_code == 0 and ray.exit_code == 0, local.output + ray.output
    assert "executor ray (2 tasks, 2 workers)" in ray.output
    for source in ("web", "code", "notes"):
        for suffix in (".bin", ".idx", ".json"):
            a = (tmp_path / "local" / "sources" / source / f"00000{suffix}").read_bytes()
            assert a == (tmp_path / "ray" / "sources" / source / f"00000{suffix}").read_bytes()


def test_slurm_executor_submits_array_jobs_through_sbatch(corpus, tmp_path, monkeypatch):
    # a stand-in sbatch on PATH records the scripts datatrove's SlurmPipelineExecutor submits
    bin_dir, captured = tmp_path / "bin", tmp_path / "captured"
    bin_dir.mkdir()
    captured.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(
        f'#!/bin/sh\nfor a; do last="$a"; done\ncp "$last" {captured}/job-$$.sh\necho "Submitted batch job 4242"\n'
    )
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        recipe_text(
            corpus["root"], extra="executor:\n  type: slurm\n  slurm: {partition: cpu-big, time: '2:00:00'}\n"
        )
    )
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(tmp_path / "out"), "--tasks", "2"])
    assert result.exit_code == 0, result.output
    assert (
        "submitted web, code, notes to slurm; when those jobs finish, run the same `mixer build` again"
        in result.output
    )
    scripts = [p.read_text() for p in captured.iterdir()]
    arrays = [s for s in scripts if "launch_pickled_pipeline" in s]
    assert len(arrays) == 3
    assert all(
        "#SBATCH --partition=cpu-big" in s and "#SBATCH --array=0-1" in s and "#SBATCH --time=2:00:00" in s
        for s in arrays
    )
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_patterns_follow_links_to_folders_once(tmp_path):
    from mixer.sources.base import expand_pattern

    for rel in ["data/a.jsonl", "data/sub/b.jsonl", "disk2/c.jsonl", "data/.hidden/d.jsonl"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    os.symlink(tmp_path / "disk2", tmp_path / "data" / "more")  # a corpus spread over two disks
    os.symlink(".", tmp_path / "data" / "here")  # loops: entered no more than once
    os.symlink("..", tmp_path / "data" / "sub" / "up")
    data = tmp_path / "data"
    assert expand_pattern(str(data / "**" / "*.jsonl"), ()) == [
        str(data / "a.jsonl"), str(data / "more" / "c.jsonl"), str(data / "sub" / "b.jsonl")
    ]  # fmt: skip
    assert expand_pattern(str(data), (".jsonl",)) == [
        str(data / "a.jsonl"), str(data / ".hidden" / "d.jsonl"), str(data / "more" / "c.jsonl"),
        str(data / "sub" / "b.jsonl"),
    ]  # fmt: skip
