"""Quality steps in a build: each drop counted per step and reason, rejected documents kept for audit,
bad step names and parameters refused before work, everything offline."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_jsonl
from datatrove.data import Document

from mixer.cli import main
from mixer.filters.steps import STEPS, StepSpec, check_params, make_step
from mixer.filters.text import GopherQuality
from mixer.mixing.corpus import SourceCorpus
from mixer.shards.manifest import read_manifest
from mixer.shards.tokenizer import Encoder, load_tokenizer_info

ENGLISH = (
    "The harbour was quiet in the early morning, and the fishermen walked slowly along the wooden pier "
    "while the gulls circled above the boats. Most of them had worked on the water for many years, and "
    "they knew that the weather could change before noon. They checked their nets, talked about the "
    "prices at the market, and waited for the tide to turn so that they could leave with the current. "
    "When the sun finally rose above the hills, the first boat left the harbour and the others followed."
)
FRENCH = (
    "Le port était calme au petit matin, et les pêcheurs marchaient lentement le long de la jetée en bois "
    "pendant que les mouettes tournaient au-dessus des bateaux. La plupart d'entre eux travaillaient sur "
    "l'eau depuis de nombreuses années, et ils savaient que le temps pouvait changer avant midi. Ils "
    "vérifiaient leurs filets, parlaient des prix au marché et attendaient que la marée tourne."
)
SHORT = (
    "The boat left the harbour early this morning, and the fishermen expect to be back with a good catch "
    "before the evening."
)
REPEATED = "buy cheap watches here today\n" * 60

RECIPE = """\
name: q
seed: 3
tokenizer: {{train: {{vocab_size: 400, sample_bytes: 100000}}}}
build: {{keep_rejected: {keep}}}
holdout: {{fraction: 0}}
sources:
  web:
    type: jsonl
    paths: ["{root}/web/*.jsonl"]
    filters: [{{language: {{languages: [en]}}}}, gopher_repetition, gopher_quality]
  plain:
    type: jsonl
    paths: ["{root}/plain/*.jsonl"]
"""


def docs_in(out: Path, source: str) -> list[str]:
    manifest = read_manifest(out)
    encoder = Encoder(load_tokenizer_info(out / manifest["tokenizer"]["path"], backend="hf"))
    corpus = SourceCorpus(out, source)
    return [encoder.decode(corpus.document(i)[:-1].tolist()) for i in range(len(corpus))]


@pytest.fixture(scope="module")
def quality_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    records = [
        {"id": "en1", "text": ENGLISH},
        {"id": "fr1", "text": FRENCH},
        {"id": "short", "text": SHORT},
        {"id": "spam", "text": REPEATED},
        {"id": "en2", "text": ENGLISH.replace("harbour", "bay")},
    ]
    write_jsonl(root / "web" / "a.jsonl", records[:3])
    write_jsonl(root / "web" / "b.jsonl", records[3:])
    write_jsonl(root / "plain" / "a.jsonl", records)  # no filters: everything kept
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE.format(root=root, keep="true"))
    result = CliRunner().invoke(main, ["build", str(recipe), "-o", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root, root / "out", result.output


def test_drops_are_counted_per_step_and_reason(quality_build):
    _, out, output = quality_build
    web = read_manifest(out)["sources"]["web"]
    assert web["records"] == 5
    assert web["dropped"] == {
        "language": {"language": 1},
        "gopher_repetition": {"dup_line_frac": 1},
        "gopher_quality": {"gopher_short_doc": 1},
    }
    assert web["documents"] == 2
    assert docs_in(out, "web") == [ENGLISH, ENGLISH.replace("harbour", "bay")]
    plain = read_manifest(out)["sources"]["plain"]
    assert (plain["documents"], plain["dropped"]) == (5, {})
    assert read_manifest(out)["totals"]["dropped"] == 3
    assert "web: gopher_quality dropped 1 (gopher_short_doc 1)" in output


def test_rejected_documents_are_kept_with_their_reason(quality_build):
    root, out, _ = quality_build
    files = sorted((out / "rejected" / "web").iterdir())
    assert [f.name for f in files] == ["00000000.jsonl.gz", "00000001.jsonl.gz"]
    rows = [json.loads(line) for f in files for line in gzip.open(f, "rt")]
    assert [(r["id"], r["step"], r["reason"]) for r in rows] == [
        ("fr1", "language", "language"),
        ("short", "gopher_quality", "gopher_short_doc"),
        ("spam", "gopher_repetition", "dup_line_frac"),
    ]
    assert rows[0]["text"] == FRENCH
    assert rows[0]["origin"] == f"{root}/web/a.jsonl:2"
    assert not (out / "rejected" / "plain").exists()


def test_inspect_rejected_shows_what_was_dropped_and_why(quality_build):
    _, out, _ = quality_build
    result = CliRunner().invoke(main, ["inspect", str(out), "--rejected", "--source", "web"])
    assert result.exit_code == 0, result.output
    assert "web: 3 rejected documents" in result.output
    assert "language / language" in result.output and "Le port était calme" in result.output


def test_unknown_step_lists_the_valid_ones(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(root=tmp_path, keep="false").replace("gopher_quality]", "gopher_qualty]"))
    result = CliRunner().invoke(main, ["build", str(recipe), "--dry-run"])
    assert result.exit_code == 2
    assert (
        "filters[2]: unknown filter 'gopher_qualty'; valid filters: gopher_quality, gopher_repetition"
        in result.output
    )


def test_bad_parameters_name_the_step_and_parameter():
    assert check_params(StepSpec("gopher_quality", {"min_doc_word": 3})) == [
        "gopher_quality.min_doc_word: unknown parameter; valid parameters: word_splitter, language, "
        "min_doc_words, max_doc_words, min_avg_word_length, max_avg_word_length, max_symbol_word_ratio, "
        "max_bullet_lines_ratio, max_ellipsis_lines_ratio, max_non_alpha_words_ratio, min_stop_words, stop_words"
    ]
    assert check_params(StepSpec("gopher_repetition", {"dup_line_frac": "lots"})) == [
        "gopher_repetition.dup_line_frac: Input should be a valid number, unable to parse string as a number"
    ]
    assert check_params(StepSpec("language", {"word_splitter": "fast"}))[0].startswith(
        "language.word_splitter: unknown parameter"
    )


def test_every_registered_step_loads_with_its_defaults():
    for name in STEPS:
        if name == "c4_badwords":
            continue  # needs a word list: tested below
        assert check_params(StepSpec(name, {})) == [], name
        make_step(StepSpec(name, {}))


def test_c4_badwords_needs_a_local_list(tmp_path):
    from mixer.errors import PlanError

    with pytest.raises(PlanError, match="badwords_path: .* does not exist or holds no word list; download C4"):
        make_step(StepSpec("c4_badwords", {"badwords_path": str(tmp_path / "missing.txt")}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PlanError, match="holds no word list"):
        make_step(StepSpec("c4_badwords", {"badwords_path": str(tmp_path / "empty")}))
    words = tmp_path / "en.txt"
    words.write_text("darn\nheck\n")
    step = make_step(StepSpec("c4_badwords", {"badwords_path": str(words)}))
    assert step.filter(Document(text="well, heck, the boat left early", id="1")) == (
        False,
        "document_removed_with_badwords",
    )
    assert step.filter(Document(text="the boat left early", id="2")) is True
    assert step.filter(Document(text="Heckler is one word", id="3")) is True  # whole words only


@pytest.fixture
def badword_lists(tmp_path) -> Path:
    """A folder of lists by language, as in the LDNOOBW repository, with datatrove's allow-listed 性."""
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "en").write_text("heck\n")
    (folder / "de").write_text("mist\n")
    (folder / "zh").write_text("笨蛋\n性\n")
    return folder


def test_c4_badwords_uses_the_documents_language_and_never_downloads(no_network, badword_lists):
    step = make_step(StepSpec("c4_badwords", {"badwords_path": str(badword_lists)}))
    removed = (False, "document_removed_with_badwords")
    assert step.filter(Document(text="so ein mist", id="1", metadata={"language": "de"})) == removed
    assert step.filter(Document(text="what the heck", id="2", metadata={"language": "de"})) is True
    assert step.filter(Document(text="what the heck", id="3")) == removed  # no language: default en
    assert step.filter(Document(text="你是笨蛋", id="4", metadata={"language": "zh"})) == removed
    assert step.filter(Document(text="性能很好", id="5", metadata={"language": "zh"})) is True
    # French has a list upstream, none here: kept and counted, nothing fetched
    assert step.filter(Document(text="merde", id="6", metadata={"language": "fr"})) is True
    assert step.stats["missing_badwords_lang"].total == 1


def test_c4_badwords_keep_fraction_depends_on_the_document_not_the_order(badword_lists):
    params = {"badwords_path": str(badword_lists), "keep_fraction": 0.5, "seed": 7}
    docs = [Document(text=f"heck number {i}", id=f"d{i}") for i in range(200)]

    def kept(order: list[Document]) -> set[str]:
        step = make_step(StepSpec("c4_badwords", params))
        return {d.id for d in order if step.filter(d) is True}

    forward = kept(docs)
    assert forward == kept(docs[::-1])
    assert 70 < len(forward) < 130  # about half of 200
    other_seed = make_step(StepSpec("c4_badwords", {**params, "seed": 8}))
    assert forward != {d.id for d in docs if other_seed.filter(d) is True}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", list(STEPS))
def test_every_step_runs_offline(no_network, name, badword_lists):
    step = make_step(StepSpec(name, {"badwords_path": str(badword_lists)} if name == "c4_badwords" else {}))
    doc = Document(text=ENGLISH, id="1", metadata={"path": "notes.md"})
    if hasattr(step, "filter"):
        result = step.filter(doc)
        assert (result if isinstance(result, bool) else result[0]) in (True, False)
    else:
        assert len(list(step.run(iter([doc])))) == 1


@pytest.mark.parametrize("name", ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"])
def test_spacy_word_splitter_runs_offline(no_network, name):
    pytest.importorskip("spacy")  # a dev dependency; `word_splitter: spacy` needs it installed
    decisions = {
        splitter: make_step(StepSpec(name, {"word_splitter": splitter})).filter(Document(text=ENGLISH, id="1"))
        for splitter in ("spacy", "fast")
    }
    expected = (False, "too_few_sentences") if name == "c4_quality" else True  # 4 sentences, C4 wants 5
    assert decisions == {"spacy": expected, "fast": expected}


def test_recorded_decisions_replace_the_deciding_filters_in_the_second_pass(tmp_path, monkeypatch):
    """With dedup, the signatures pass records what the steps decided and the tokenize pass applies that
    instead of running the deciding filters again; steps that change documents (pii here) run again."""
    from mixer.build.stages.quality import QualityStage
    from mixer.filters.text import GopherRepetition
    from mixer.readers.base import FileLedger, FileReport

    specs = [StepSpec("pii", {}), StepSpec("gopher_repetition", {}), StepSpec("gopher_quality", {})]
    texts = [ENGLISH + " Mail me at jane.doe@harbourmail.org.", REPEATED, SHORT, ENGLISH.replace("harbour", "bay")]

    def documents(file_index: int):
        for i, text in enumerate(texts):
            yield Document(text=text, id=f"{file_index}-{i}", metadata={"file_index": file_index})

    def run(**kwargs) -> tuple[list[tuple[str, str]], dict]:
        ledger = FileLedger()
        ledger.current = FileReport(index=0, path="x")
        stage = QualityStage(specs, ledger, **kwargs)
        kept = [(d.id, d.text) for f in (0, 1) for d in stage.run(documents(f))]
        return kept, ledger.current.dropped

    folder = (str(tmp_path / "decisions"), 10)
    first = run(record=folder)
    assert sorted(p.name for p in (tmp_path / "decisions").iterdir()) == ["10.json", "11.json"]
    assert json.loads((tmp_path / "decisions" / "10.json").read_text()) == {
        "dropped": {"1": [1, "dup_line_frac"], "2": [2, "gopher_short_doc"]}
    }

    def not_again(self, doc):
        raise AssertionError("a recorded filter ran again")

    monkeypatch.setattr(GopherRepetition, "filter", not_again)
    monkeypatch.setattr(GopherQuality, "filter", not_again)
    assert run(replay=folder) == first
    kept, dropped = first
    assert [i for i, _ in kept] == ["0-0", "0-3", "1-0", "1-3"]
    assert "jane.doe@harbourmail.org" not in kept[0][1] and "<EMAIL>" in kept[0][1]
    assert dropped == {"gopher_repetition": {"dup_line_frac": 2}, "gopher_quality": {"gopher_short_doc": 2}}


def test_threshold_tuples_take_as_many_entries_as_given():
    # datatrove annotates them tuple[tuple[int, float]]; read strictly, that admits one pair only
    relaxed = {"top_n_grams": [[2, 0.3], [3, 0.25], [4, 0.2]], "dup_n_grams": [[5, 0.4], [6, 0.38], [7, 0.36]]}
    assert check_params(StepSpec("gopher_repetition", relaxed)) == []
    assert check_params(StepSpec("gopher_repetition", {"top_n_grams": [[2, "lots"]]})) == [
        "gopher_repetition.top_n_grams.0.1: Input should be a valid number, unable to parse string as a number"
    ]
    words = (
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
        "upsilon phi chi psi omega"
    ).split()
    text = " ".join(w + " river bank" if i % 5 == 0 else w for i, w in enumerate(words))  # a 2-gram 0.2-0.3
    doc = Document(text=text, id="d")
    assert make_step(StepSpec("gopher_repetition", {})).filter(doc) == (False, "top_2_gram")
    assert make_step(StepSpec("gopher_repetition", relaxed)).filter(doc) is True
