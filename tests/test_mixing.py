import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import recipe_text

from mixer.cli import main
from mixer.mixing.blend import source_stream
from mixer.mixing.holdout import holdout_count
from mixer.mixing.interleave import interleave, interleave_reference
from mixer.mixing.mix import mix
from mixer.mixing.reader import BlendReader
from mixer.mixing.targets import InfeasibleMix, largest_remainder, phase_targets
from mixer.recipe import HoldoutConfig, parse_recipe
from mixer.shards.format import IndexedDatasetWriter


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, [1, 1, 1], [4, 3, 3]),
        (7, [0.5, 0.25, 0.25], [3, 2, 2]),
        (100, [3, 1], [75, 25]),
        (1, [1, 1], [1, 0]),
        (0, [2, 5], [0, 0]),
        (5, [0.1, 0.2, 0.7], [1, 1, 3]),  # quotas 0.5, 1.0, 3.5: the tie on .5 goes to the earlier
    ],
)
def test_largest_remainder(total, weights, expected):
    assert largest_remainder(total, weights) == expected


def test_interleave_is_megatrons_rule_with_exact_counts():
    rng = np.random.default_rng(0)
    for _ in range(30):
        counts = rng.integers(0, 40, size=int(rng.integers(1, 6))).tolist()
        if sum(counts) == 0:
            continue
        source, index = interleave(counts)
        assert (source.tolist(), index.tolist()) == interleave_reference(counts)
        assert np.bincount(source, minlength=len(counts)).tolist() == counts
    assert interleave([3, 1])[0].tolist() == [0, 1, 0, 0]


def test_stream_windows_on_16_token_documents():
    sizes = np.array([16, 16, 16], dtype=np.int64)
    order, starts, epochs = source_stream(sizes, np.arange(3), samples=5, seq_len=10, rng_key=[0, 0, 0])
    # 5 samples of 10 (+1) tokens need stream tokens 0..50: all of epoch 0 (48 tokens) and 1 doc of epoch 1
    assert epochs == 2 and len(order) == 4 and sorted(order[:3].tolist()) == [0, 1, 2]
    assert starts.tolist() == [[0, 0], [0, 10], [1, 4], [1, 14], [2, 8]]


def make_source(output: Path, name: str, docs: list[list[int]]) -> None:
    folder = output / "sources" / name
    with IndexedDatasetWriter(folder / "00000", np.uint16) as w:
        for d in docs:
            w.add_document(d)
        info = w.finalize()
    (folder / "assembled.json").write_text(
        json.dumps(
            {
                "fingerprint": f"fp-{name}",
                "shards": [{"name": "00000", "documents": info.documents, "tokens": info.tokens}],
            }
        )
    )


def small_recipe(phases: dict, holdout: dict | None = None, seed: int = 3):
    data = {
        "name": "m",
        "seed": seed,
        "tokenizer": "t.json",
        "sources": {"a": {"type": "jsonl", "paths": ["x"]}, "b": {"type": "jsonl", "paths": ["y"]}},
        "phases": phases,
        "holdout": holdout or {"fraction": 0.0},
    }
    return parse_recipe(data)


@pytest.fixture
def two_sources(tmp_path):
    # source a: documents of 16 tokens 100+i*16 .. ; source b: documents of 5 tokens
    make_source(tmp_path, "a", [list(range(100 + 16 * i, 116 + 16 * i)) for i in range(10)])
    make_source(tmp_path, "b", [[1000 + 5 * i + k for k in range(5)] for i in range(20)])
    return tmp_path


def expected_stream(output: Path, phase: str, source: str, docs: list[list[int]]) -> list[int]:
    order = np.load(output / "phases" / phase / f"{source}.order.npy")
    return [t for d in order.tolist() for t in docs[d]]


def test_blend_samples_are_exact_windows_of_each_source_stream(two_sources):
    recipe = small_recipe(
        {"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 3, "b": 1}, "max_repetition": 2}}
    )
    mixed = mix(two_sources, recipe, "uint16", echo=lambda s: None)
    blend = mixed["phases"]["p"]
    assert blend["samples"] == 10
    assert {n: s["samples"] for n, s in blend["sources"].items()} == {"a": 8, "b": 2}  # 7.5/2.5: tie to a
    reader = BlendReader(two_sources, "p")
    a_docs = [list(range(100 + 16 * i, 116 + 16 * i)) for i in range(10)]
    b_docs = [[1000 + 5 * i + k for k in range(5)] for i in range(20)]
    streams = {
        "a": expected_stream(two_sources, "p", "a", a_docs),
        "b": expected_stream(two_sources, "p", "b", b_docs),
    }
    seen = {"a": 0, "b": 0}
    for k in range(len(reader)):
        tokens, source = reader[k]
        j = seen[source]
        assert tokens.tolist() == streams[source][j * 8 : j * 8 + 9]
        seen[source] += 1
    assert [reader[k][1] for k in range(10)] == ["a", "b", "a", "a", "a", "a", "b", "a", "a", "a"]


def test_blends_are_byte_identical_across_runs_and_change_with_the_seed(two_sources, tmp_path_factory):
    phases = {"p": {"tokens": 400, "seq_len": 8, "weights": {"a": 1, "b": 1}, "max_repetition": 4}}
    other = tmp_path_factory.mktemp("again")
    for name in ("a", "b"):
        import shutil

        shutil.copytree(two_sources / "sources" / name, other / "sources" / name)
    mix(two_sources, small_recipe(phases), "uint16", echo=lambda s: None)
    mix(other, small_recipe(phases), "uint16", echo=lambda s: None)
    for f in sorted((two_sources / "phases" / "p").iterdir()):
        if f.name != "megatron.args":  # holds absolute paths
            assert f.read_bytes() == (other / "phases" / "p" / f.name).read_bytes(), f.name
    mix(other, small_recipe(phases, seed=4), "uint16", echo=lambda s: None)
    assert (other / "phases/p/a.order.npy").read_bytes() != (
        two_sources / "phases/p/a.order.npy"
    ).read_bytes()


def test_infeasible_phase_names_source_numbers_and_largest_phase(two_sources):
    # a has 160 tokens; 3/4 of a 400-token phase at seq_len 8 is 38 samples = 305 stream tokens = 1.91 epochs
    recipe = small_recipe(
        {"p": {"tokens": 400, "seq_len": 8, "weights": {"a": 3, "b": 1}, "max_repetition": 1.5}}
    )
    with pytest.raises(InfeasibleMix) as e:
        mix(two_sources, recipe, "uint16", echo=lambda s: None)
    assert str(e.value) == (
        "phase 'p': source 'a' has 160 training tokens but the phase needs 305 of it (1.91 epochs) and "
        "phases.p.max_repetition is 1.5. The largest feasible phase at these weights is 312 tokens; lower "
        "phases.p.tokens, raise max_repetition to 1.91, or give 'a' a smaller weight"
    )
    assert not (two_sources / "phases" / "p").exists()
    # the largest feasible phase really is feasible, one more sample is not
    phase_targets("p", 312, 8, {"a": 3, "b": 1}, {"a": 160, "b": 100}, 1.5)
    with pytest.raises(InfeasibleMix):
        phase_targets("p", 320, 8, {"a": 3, "b": 1}, {"a": 160, "b": 100}, 1.5)


def test_held_out_documents_never_enter_a_training_blend(two_sources):
    recipe = small_recipe(
        {"p": {"tokens": 300, "seq_len": 8, "weights": {"a": 1, "b": 1}, "max_repetition": 8}},
        holdout={"fraction": 0.2, "max_documents": 3},
    )
    mixed = mix(two_sources, recipe, "uint16", echo=lambda s: None)
    assert {n: v["documents"] for n, v in mixed["validation"].items()} == {"a": 2, "b": 3}
    for name in ("a", "b"):
        held = np.load(two_sources / "validation" / f"{name}.docs.npy")
        order = np.load(two_sources / "phases" / "p" / f"{name}.order.npy")
        assert len(held) and not set(held.tolist()) & set(order.tolist())
    assert holdout_count(1, HoldoutConfig(fraction=0.4)) == 0
    assert holdout_count(1000, HoldoutConfig(fraction=0.4, max_documents=7)) == 7


PHASES = """\
holdout: {fraction: 0.1, max_documents: 2}
phases:
  pretrain: {tokens: 20000, seq_len: 64, weights: {web: 3, code: 1, notes: 1}, max_repetition: 2}
  cooldown: {tokens: 4000, seq_len: 64, weights: {web: 1, code: 1}}
"""


def test_build_writes_phases_and_mix_reblends_without_tokenizing(corpus, tmp_path, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=PHASES))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["phases"]["pretrain"]["samples"] == 313  # ceil(20000 / 64)
    shares = {n: s["samples"] for n, s in manifest["phases"]["pretrain"]["sources"].items()}
    assert shares == {"web": 188, "code": 63, "notes": 62}  # 187.8, 62.6, 62.6
    for phase in manifest["phases"].values():  # realised share within one sample of the target
        for s in phase["sources"].values():
            assert abs(s["realised_share"] - s["target_share"]) * phase["samples"] <= 1
    assert (out / "phases" / "pretrain" / "megatron.args").read_text().count("\n") == 3
    shards_before = {p: p.read_bytes() for p in (out / "sources").rglob("*.bin")}

    import mixer.shards.tokenizer

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("mix must not tokenize")

    monkeypatch.setattr(mixer.shards.tokenizer.Encoder, "encode_with_eos", no_tokenizing)
    recipe.write_text(
        recipe.read_text().replace("weights: {web: 3, code: 1, notes: 1}", "weights: {web: 1, code: 1}")
    )
    result = CliRunner().invoke(main, ["mix", str(recipe), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "cooldown: blend up to date" in result.output and "pretrain: blended 313 samples" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {n: s["samples"] for n, s in manifest["phases"]["pretrain"]["sources"].items()} == {
        "web": 157,
        "code": 156,
    }
    assert {p: p.read_bytes() for p in (out / "sources").rglob("*.bin")} == shards_before
    assert BlendReader(out, "pretrain")[0][0].shape == (65,)


def test_mix_refuses_when_sources_changed(corpus, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(recipe_text(corpus["root"], extra=PHASES))
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["build", str(recipe), "-o", str(out)]).exit_code == 0
    recipe.write_text(
        recipe.read_text().replace(
            'paths: ["' + str(corpus["root"]) + '/notes"]', 'paths: ["' + str(corpus["root"]) + '/notes/sub"]'
        )
    )
    result = CliRunner().invoke(main, ["mix", str(recipe), "-o", str(out)])
    assert result.exit_code == 2 and "sources notes changed since" in result.output


def make_empty_source(output: Path, name: str, summary: dict) -> None:
    """A source whose build gave no documents: no shard, and the counts that say why."""
    folder = output / "sources" / name
    folder.mkdir(parents=True)
    (folder / "assembled.json").write_text(json.dumps({"fingerprint": f"fp-{name}", "shards": [], **summary}))


MISSING_TEXT = {
    "records": 79,
    "documents": 0,
    "tokens": 0,
    "skipped": {"missing_text_field": 79},
    "skip_examples": {"missing_text_field": ["data/b.jsonl:1 (keys: id, article)"]},
    "dropped": {},
}


@pytest.mark.parametrize("cap", [1.0, float("inf")])
def test_a_weighted_source_without_tokens_says_why_and_what_to_change(tmp_path, cap):
    # the text column is `article`, text_key the default `text`: every record skipped, no token; the phase
    # used to crash (OverflowError in the message, or IndexError in the blend at max_repetition .inf)
    make_source(tmp_path, "a", [list(range(100 + 16 * i, 116 + 16 * i)) for i in range(10)])
    make_empty_source(tmp_path, "b", MISSING_TEXT)
    recipe = small_recipe(
        {"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 1, "b": 1}, "max_repetition": cap}}
    )
    with pytest.raises(InfeasibleMix) as e:
        mix(tmp_path, recipe, "uint16", echo=lambda s: None)
    assert str(e.value) == (
        "phase 'p': source 'b' has no training tokens: its 79 records gave 0 documents (skipped: "
        "missing_text_field 79, e.g. data/b.jsonl:1 (keys: id, article)). Set sources.b.text_key to the "
        f"field that holds the text, or remove 'b' from phases.p.weights (details: {tmp_path}/sources/b/"
        "assembled.json)"
    )
    assert not (tmp_path / "phases").exists() and not (tmp_path / "validation").exists()


def test_a_source_that_dedup_removed_whole_names_dedup_priority(tmp_path):
    make_source(tmp_path, "a", [list(range(100 + 16 * i, 116 + 16 * i)) for i in range(10)])
    dropped = {"records": 20, "skipped": {}, "skip_examples": {}, "dropped": {"dedup": {"exact_of_a": 20}}}
    make_empty_source(tmp_path, "b", dropped)
    recipe = small_recipe({"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 1, "b": 1}}})
    with pytest.raises(InfeasibleMix) as e:
        mix(tmp_path, recipe, "uint16", echo=lambda s: None)
    assert str(e.value) == (
        "phase 'p': source 'b' has no training tokens: its 20 records gave 0 documents (dropped by dedup: "
        "exact_of_a 20). List 'b' first in dedup.priority to keep its copies of shared documents, or remove "
        f"'b' from phases.p.weights (details: {tmp_path}/sources/b/assembled.json)"
    )


def test_phase_targets_refuse_a_source_without_tokens_at_any_cap():
    with pytest.raises(InfeasibleMix) as e:
        phase_targets("p", 80, 8, {"a": 1, "b": 1}, {"a": 160, "b": 0}, float("inf"))
    assert str(e.value) == (
        "phase 'p': source 'b' has no training tokens, so it cannot supply its weight (1); give it documents "
        "or remove it from phases.p.weights"
    )


def test_weights_whose_sum_overflows_still_give_exact_shares(two_sources):
    recipe = small_recipe(
        {"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 1e308, "b": 1e308}, "max_repetition": 2}}
    )
    blend = mix(two_sources, recipe, "uint16", echo=lambda s: None)["phases"]["p"]
    assert [s["target_share"] for s in blend["sources"].values()] == [0.5, 0.5]
    assert [s["samples"] for s in blend["sources"].values()] == [5, 5]


def npy_data_bytes(folder: Path) -> int:
    return sum(np.load(f).nbytes for f in folder.glob("*.npy"))


def test_a_phase_larger_than_its_index_bound_is_refused_before_writing(two_sources):
    # 10 samples (25 bytes each) and 10 + 20 documents in the streams (4 bytes each): 370 bytes at most
    phases = {"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 3, "b": 1}, "max_repetition": 2}}
    with pytest.raises(InfeasibleMix) as e:
        mix(two_sources, small_recipe({"p": {**phases["p"], "max_index_bytes": 369}}), "uint16", echo=print)
    assert str(e.value) == (
        "phase 'p': its blend index would take up to 370 B: 10 samples (250 B) and 30 documents in the "
        "shuffled source streams. That is more than phases.p.max_index_bytes (369 B): lower phases.p.tokens "
        "or max_repetition, or raise phases.p.max_index_bytes (null: no bound) if the phase is meant to be "
        "this large"
    )
    assert not (two_sources / "phases").exists() and not (two_sources / "validation").exists()
    said = []
    mix(two_sources, small_recipe({"p": {**phases["p"], "max_index_bytes": 370}}), "uint16", echo=said.append)
    assert npy_data_bytes(two_sources / "phases" / "p") == 10 + 80 + 8 * 16 + 2 * 16 + 4 * (5 + 4) == 286
    written = sum(f.stat().st_size for f in (two_sources / "phases" / "p").glob("*.npy"))
    assert written == 286 + 6 * 128  # and a 128-byte header per file
    assert said[-1] == "p: blended 10 samples of 9 tokens from 2 sources (index 1.1 KB)"


def test_a_huge_repetition_of_a_small_source_is_refused_at_once(two_sources):
    # 1e12 tokens over a 160-token source at a cap of 1e12 epochs: hours of work before, a message now
    recipe = small_recipe(
        {"p": {"tokens": "1.0e12", "seq_len": 1048576, "weights": {"a": 1}, "max_repetition": 1e12}}
    )
    with pytest.raises(InfeasibleMix) as e:
        mix(two_sources, recipe, "uint16", echo=lambda s: None)
    assert str(e.value).startswith(
        "phase 'p': its blend index would take up to 250.0 GB: 953,675 samples (23.8 MB) and 62,500,044,810 "
        "documents in the shuffled source streams; the most repeated source is read 6,250,004,481 times. "
        "That is more than phases.p.max_index_bytes (4.0 GB)"
    )


def test_megatron_args_name_the_shards_under_the_data_root(two_sources):
    phases = {"p": {"tokens": 80, "seq_len": 8, "weights": {"a": 3, "b": 1}, "max_repetition": 2}}
    args = two_sources / "phases" / "p" / "megatron.args"
    mix(two_sources, small_recipe(phases), "uint16", echo=lambda s: None)
    assert args.read_text() == (
        f"0.8000000000 {two_sources.resolve()}/sources/a/00000\n"
        f"0.2000000000 {two_sources.resolve()}/sources/b/00000\n"
    )
    said = []
    mix(two_sources, small_recipe(phases), "uint16", echo=said.append, data_root=".")  # relative paths
    assert said == ["p: blend up to date (10 samples)"]
    assert args.read_text() == "0.8000000000 sources/a/00000\n0.2000000000 sources/b/00000\n"
    mix(two_sources, small_recipe(phases), "uint16", echo=lambda s: None, data_root="/scratch/copy")
    assert args.read_text() == (
        "0.8000000000 /scratch/copy/sources/a/00000\n0.2000000000 /scratch/copy/sources/b/00000\n"
    )


def _resident_kb(path: Path) -> int:
    """Resident kB of every mapping of ``path`` in this process (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = len(fields) >= 6 and fields[5] == str(path)
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_validation_copies_held_documents_without_keeping_the_shard_resident(tmp_path):
    from mixer.mixing.corpus import SourceCorpus
    from mixer.mixing.holdout import write_validation
    from mixer.shards.format import IndexedDataset

    docs = [[(7 * i + k) % 60000 for k in range(100_000)] for i in range(40)]  # 200 KB a document
    make_source(tmp_path, "a", docs)
    corpus = SourceCorpus(tmp_path, "a")
    shard = (tmp_path / "sources" / "a" / "00000.bin").resolve()
    before = _resident_kb(shard)
    held = np.array([10, 25, 39])
    (tmp_path / "validation").mkdir()
    summary = write_validation(corpus, held, tmp_path / "validation", np.dtype("uint16"))
    # read with pread: no page of the shard became resident in this process (through the map, each
    # document read leaves at least its own 200 KB resident)
    assert _resident_kb(shard) == before
    assert summary["documents"] == 3 and summary["tokens"] == 300_000
    written = IndexedDataset(tmp_path / "validation" / "a")
    assert [written[i].tolist() for i in range(3)] == [docs[10], docs[25], docs[39]]
    assert corpus.document(25).tolist() == docs[25] and _resident_kb(shard) >= before + 196
