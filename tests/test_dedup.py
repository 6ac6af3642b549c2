"""Deduplication across sources: exact then near duplicates, the priority rule, counts and the audit trail."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_jsonl

from mixer.cli import main
from mixer.mixing.corpus import SourceCorpus
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info

WORDS = (
    "river stone cloud market window garden silver morning harbor lantern meadow copper engine village "
    "forest candle bridge winter letter thunder orchard pepper basket mirror ladder valley button saddle "
    "island kettle feather marble canyon blanket walnut compass timber violin meadowlark sparrow granite"
).split()


def text(seed: int, words: int = 300) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(WORDS) for _ in range(words)]


def edit(words: list[str], positions: list[int], seed: int) -> str:
    rng = random.Random(seed)
    out = list(words)
    for p in positions:
        out[p] = rng.choice([w for w in WORDS if w != out[p]])
    return " ".join(out)


BASE = [text(i) for i in range(8)]
DOCS_A = [
    {"id": "a-exact", "text": " ".join(BASE[0])},  # identical to b-0
    {"id": "a-normalised", "text": " ".join(BASE[1]).upper().replace(" ", "  , ")},  # same after normalising
    {"id": "a-near", "text": edit(BASE[2], [40, 150, 260], seed=1)},  # 3 words changed: Jaccard ~0.9
    {"id": "a-reordered", "text": " ".join(BASE[3][150:] + BASE[3][:150])},  # halves swapped
    {"id": "a-distant", "text": edit(BASE[4], list(range(5, 300, 10)), seed=2)},  # 30 words changed
    {"id": "a-own", "text": " ".join(BASE[5])},
    {"id": "a-own-again", "text": " ".join(BASE[5])},  # a duplicate inside source a
]
DOCS_B = [{"id": f"b-{i}", "text": " ".join(BASE[i])} for i in range(5)] + [
    {"id": "b-unique", "text": " ".join(BASE[6])}
]

RECIPE = """\
name: dd
seed: 5
tokenizer: {{train: {{vocab_size: 300, sample_bytes: 100000}}}}
build: {{keep_rejected: true}}
holdout: {{fraction: 0}}
dedup: {{priority: [b]}}
sources:
  a: {{type: jsonl, paths: ["{root}/a/*.jsonl"]}}
  b: {{type: jsonl, paths: ["{root}/b/*.jsonl"]}}
"""


def build(root: Path, recipe_text: str, out: str = "out", *args: str):
    recipe = root / f"{out}.yaml"
    recipe.write_text(recipe_text)
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(root / out), *args])
    assert result.exit_code == 0, result.output
    return root / out


@pytest.fixture(scope="module")
def deduped(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup")
    write_jsonl(root / "a" / "1.jsonl", DOCS_A[:4])
    write_jsonl(root / "a" / "2.jsonl", DOCS_A[4:])
    write_jsonl(root / "b" / "1.jsonl", DOCS_B)
    return root, build(root, RECIPE.format(root=root))


def kept_texts(out: Path, source: str) -> list[str]:
    manifest = read_manifest(out)
    encoder = Encoder(load_tokenizer_info(out / manifest["tokenizer"]["path"], backend="hf"))
    corpus = SourceCorpus(out, source)
    return [encoder.decode(corpus.document(i)[:-1].tolist()) for i in range(len(corpus))]


def test_exact_then_near_duplicates_go_to_the_priority_source(deduped):
    _, out = deduped
    sources = read_manifest(out)["sources"]
    assert sources["a"]["dropped"] == {"dedup": {"exact_of_a": 1, "exact_of_b": 2, "near_of_b": 2}}
    assert sources["b"]["dropped"] == {}
    assert kept_texts(out, "a") == [DOCS_A[4]["text"], DOCS_A[5]["text"]]
    assert kept_texts(out, "b") == [d["text"] for d in DOCS_B]


def test_rejected_duplicates_name_what_they_duplicate(deduped):
    _, out = deduped
    rows = [
        json.loads(line) for f in sorted((out / "rejected" / "a").iterdir()) for line in gzip.open(f, "rt")
    ]
    assert [(r["id"], r["reason"], r["duplicate_of"]) for r in rows] == [
        ("a-exact", "exact_of_b", "b:b-0"),
        ("a-normalised", "exact_of_b", "b:b-1"),
        ("a-near", "near_of_b", "b:b-2"),
        ("a-reordered", "near_of_b", "b:b-3"),
        ("a-own-again", "exact_of_a", "a:a-own"),
    ]


def test_priority_follows_recipe_order_without_a_list(deduped, tmp_path):
    root, _ = deduped
    out = build(root, RECIPE.format(root=root).replace("dedup: {priority: [b]}", "dedup: {}"), out="noprio")
    sources = read_manifest(out)["sources"]
    assert sources["a"]["dropped"] == {"dedup": {"exact_of_a": 1}}
    assert sources["b"]["dropped"] == {"dedup": {"exact_of_a": 2, "near_of_a": 2}}


def test_near_dedup_off_keeps_near_duplicates(deduped):
    root, _ = deduped
    recipe = RECIPE.format(root=root).replace("dedup: {priority: [b]}", "dedup: {priority: [b], near: null}")
    out = build(root, recipe, out="exactonly")
    assert read_manifest(out)["sources"]["a"]["dropped"] == {"dedup": {"exact_of_a": 1, "exact_of_b": 2}}


def test_the_same_decisions_with_more_tasks(deduped):
    root, out = deduped
    again = build(root, RECIPE.format(root=root), "tasks", "--tasks", "2", "--workers", "2")
    for source in ("a", "b"):
        assert kept_texts(again, source) == kept_texts(out, source)


def test_unknown_priority_source_is_a_recipe_error(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(root=tmp_path).replace("priority: [b]", "priority: [c]"))
    result = CliRunner().invoke(main, ["build", str(recipe), "--dry-run"])
    assert result.exit_code == 2
    assert "dedup.priority (line 6): no source named 'c'; sources: a, b" in result.output


def test_normalise_is_datatroves_simplify_text():
    from datatrove.utils.text import simplify_text

    from mixer.build.stages.dedup import normalise

    samples = [
        "Hello, World!  It's 3.14 o'clock\n\tnow.",
        "Café Ünïcödé naïve — façade",
        "ＦＵＬＬ width ﬁ ligature, 1,000 items",
        " ".join(DOCS_A[1]["text"].split()[:50]),
    ]
    assert [normalise(t) for t in samples] == [simplify_text(t) for t in samples]


def test_documents_that_normalise_to_nothing_are_nobodys_duplicates(tmp_path):
    # punctuation-only documents all normalise to "": they used to count as exact copies of each other
    write_jsonl(tmp_path / "a" / "1.jsonl", [{"text": "---"}, {"text": "* * *"}, {"text": "— —"}])
    write_jsonl(
        tmp_path / "b" / "1.jsonl", [{"text": "!!!"}, {"text": "river stone"}, {"text": "River, stone!"}]
    )
    out = build(tmp_path, RECIPE.format(root=tmp_path))
    sources = read_manifest(out)["sources"]
    assert sources["a"]["dropped"] == {}
    assert sources["b"]["dropped"] == {"dedup": {"exact_of_b": 1}}  # real text still is
    assert kept_texts(out, "a") == ["---", "* * *", "— —"]
    assert kept_texts(out, "b") == ["!!!", "river stone"]
