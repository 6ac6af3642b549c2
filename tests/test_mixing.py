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
